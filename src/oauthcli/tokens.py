"""Token requests and responses (RFC 6749 sections 4.1.3-4.1.4, 5, 6).

Requests are form-encoded with ``Accept: application/json``; the client
authenticates with ``none`` (``client_id`` in the body), ``client_secret_basic``
(id and secret form-urlencoded, then Base64, RFC 6749 section 2.3.1) or
``client_secret_post``. Responses are checked before anything is used.
"""

from __future__ import annotations

import base64
import math
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import quote

from .errors import EndpointError, TransportError, ValidationError
from .store import stored_time
from .transport import Response

__all__ = [
    "TokenSet",
    "client_auth",
    "normalize_scope",
    "parse_token_response",
    "raise_for_error_response",
]

# Longer lifetimes than this are clamped: nothing is valid for ten years.
MAX_EXPIRES_IN = 10 * 365 * 24 * 3600
_DIGITS = re.compile(r"[0-9]{1,12}")
# RFC 6749 section 3.3: scope-tokens of NQCHAR (%x21 / %x23-5B / %x5D-7E)
# between spaces. A run of spaces is let through; GitHub's comma is NQCHAR.
_SCOPE = re.compile(r"[ !#-\[\]-~]*")
_TOKEN_TYPES = {"bearer": "Bearer", "dpop": "DPoP"}


@dataclass(frozen=True)
class TokenSet:
    """The tokens of one grant. ``repr`` never shows a token."""

    access_token: str = field(repr=False)
    token_type: str = "Bearer"
    expires_at: float | None = None  # seconds since the epoch; None: unknown
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    scope: str | None = None
    obtained_at: float | None = None  # when the response arrived (local clock)

    def __repr__(self) -> str:
        return (
            f"TokenSet(access_token=[redacted], token_type={self.token_type!r}, "
            f"expires_at={self.expires_at!r}, "
            f"refresh_token={'[redacted]' if self.refresh_token else None}, "
            f"id_token={'[redacted]' if self.id_token else None}, "
            f"scope={self.scope!r})"
        )

    def expires_in(self, now: float | None = None) -> float | None:
        if self.expires_at is None:
            return None
        return self.expires_at - (time.time() if now is None else now)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenSet:
        access_token = data.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise ValueError("no access_token")
        values: dict[str, Any] = {
            "access_token": access_token,
            "expires_at": stored_time(data.get("expires_at"), "expires_at"),
            "obtained_at": stored_time(data.get("obtained_at"), "obtained_at"),
        }
        for key in ("token_type", "refresh_token", "id_token", "scope"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{key} is not a string")
            if value is not None:
                values[key] = value
        return cls(**values)

    def with_refresh_token(self, refresh_token: str | None) -> TokenSet:
        return replace(self, refresh_token=refresh_token)


def client_auth(
    client_id: str, client_secret: str | None, method: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Body fields and headers that authenticate the client at an endpoint."""
    if method == "none":
        return {"client_id": client_id}, {}
    if client_secret is None:
        raise ValueError(f"{method} needs a client secret")
    if method == "client_secret_post":
        return {"client_id": client_id, "client_secret": client_secret}, {}
    if method == "client_secret_basic":
        pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
        encoded = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        return {}, {"Authorization": f"Basic {encoded}"}
    raise ValueError(f"unsupported token_endpoint_auth_method {method!r}")


def _optional_string(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValidationError(
            f"the token response's {key} is not a non-empty string",
            code="invalid_token_response",
        )
    # RFC 6749 appendix A: tokens are visible ASCII; anything else could
    # inject headers or terminal escapes where the token is printed or sent.
    if not all(" " <= ch <= "~" for ch in value):
        raise ValidationError(
            f"the token response's {key} has characters outside visible ASCII",
            code="invalid_token_response",
        )
    return value


def _scope(doc: Mapping[str, Any], response: str = "the token response") -> str | None:
    """``scope`` as sent, or None; ValidationError if it breaks RFC 6749 3.3.

    Anything else (a terminal escape, a bidi override, a lone surrogate) would
    reach the stored login and every program that prints the granted scope.
    """
    value = doc.get("scope")
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(
            f"{response}'s scope is not a string", code="invalid_token_response"
        )
    if not _SCOPE.fullmatch(value):
        raise ValidationError(
            f"{response}'s scope has characters that no scope-token may hold "
            "(RFC 6749 section 3.3); the token is not used",
            code="invalid_token_response",
        )
    return value


def _expires_in(value: Any) -> float | None:
    """``expires_in`` as seconds: digits-only strings tolerated, junk refused."""
    if value is None:
        return None
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(
            "the token response's expires_in is not a number",
            code="invalid_token_response",
        )
    if isinstance(value, int):  # before float(): huge ints overflow, either sign
        value = max(min(value, MAX_EXPIRES_IN), -1)
    if not math.isfinite(value) or value < 0:
        raise ValidationError(
            "the token response's expires_in is negative or not finite",
            code="invalid_token_response",
        )
    return float(min(value, MAX_EXPIRES_IN))


# The client failed to authenticate (RFC 6749 section 5.2): an unknown client
# ID, a missing or wrong secret or key, or another method than the client was
# registered with.
_INVALID_CLIENT_HINT = (
    "check --client-id, the client's credentials (--client-secret / "
    "OAUTHCLI_CLIENT_SECRET, or client_assertion_key and client_assertion_kid "
    "for private_key_jwt) and --token-endpoint-auth-method (the method the "
    "client is registered with)"
)


def raise_for_error_response(response: Response, endpoint: str) -> None:
    """Turn an RFC 6749 section 5.2 error (also inside a 200) into EndpointError."""
    doc: dict[str, Any] | None
    try:
        doc = response.json(f"the {endpoint}'s answer")
    except ValidationError:
        doc = None
    if doc is not None and isinstance(doc.get("error"), str) and doc["error"]:
        description = doc.get("error_description")
        uri = doc.get("error_uri")
        raise EndpointError(
            doc["error"],
            description if isinstance(description, str) else None,
            uri if isinstance(uri, str) else None,
            endpoint=endpoint,
            status_code=response.status_code,
            hint=_INVALID_CLIENT_HINT if doc["error"] == "invalid_client" else "",
        )
    if response.status_code != 200:
        kind = response.content_type or "no content type"
        raise TransportError(
            f"the {endpoint} answered HTTP {response.status_code} ({kind}) "
            "without an OAuth error",
            code="http_error",
            status_code=response.status_code,
        )
    if doc is None:
        kind = response.content_type or "no content type"
        hint = ""
        if kind == "application/x-www-form-urlencoded":
            # GitHub answers so when the Accept header does not reach it.
            hint = " although oauthcli asked for application/json (Accept)"
        raise ValidationError(
            f"the {endpoint} answered with {kind}, not a JSON object{hint}",
            code="invalid_token_response",
        )


def normalize_scope(scope: str, separator: str = " ") -> str:
    """``scope`` as space-separated tokens, split on ``separator`` first.

    With ``","`` GitHub's ``repo,gist`` becomes ``repo gist``; with the
    default a comma stays part of its token (RFC 6749 section 3.3).
    """
    if separator == " ":
        return scope
    parts = (part.strip() for part in scope.split(separator))
    return " ".join(part for part in parts if part)


def parse_token_response(
    response: Response,
    *,
    requested_scope: str | None,
    now: float | None = None,
    scope_separator: str = " ",
    dpop: bool = False,
) -> TokenSet:
    """Check a token endpoint answer and return its tokens.

    Errors (any status, or a 200 carrying ``error``) raise EndpointError with
    the RFC fields. A missing ``scope`` means the requested one (RFC 6749
    section 5.1); a granted one is split on ``scope_separator`` (see
    ``normalize_scope``). A missing ``expires_in`` means an unknown lifetime.
    ``dpop`` says the request carried a DPoP proof: then the token must be
    DPoP-bound, and otherwise it must not be (RFC 9449 section 5).
    """
    raise_for_error_response(response, "token endpoint")
    doc = response.json("the token response")
    received = time.time() if now is None else now

    access_token = _optional_string(doc, "access_token")
    if access_token is None:
        raise ValidationError(
            "the token response has no access_token", code="invalid_token_response"
        )
    raw_type = doc.get("token_type")
    token_type = (
        _TOKEN_TYPES.get(raw_type.lower()) if isinstance(raw_type, str) else None
    )
    if token_type is None:
        raise ValidationError(
            "the token response's token_type is missing or not one oauthcli "
            "understands (Bearer); the token is not used (RFC 6749 section 7.1)",
            code="invalid_token_response",
        )
    if token_type == "DPoP" and not dpop:
        raise ValidationError(
            "the provider issued a DPoP-bound token that was not asked for",
            code="invalid_token_response",
        )
    if token_type != "DPoP" and dpop:
        raise ValidationError(
            f"the provider issued a {token_type} token although DPoP was asked "
            "for; the token is not used (RFC 9449 section 5)",
            code="invalid_token_response",
        )
    lifetime = _expires_in(doc.get("expires_in"))
    scope = _scope(doc)
    return TokenSet(
        access_token=access_token,
        token_type=token_type,
        expires_at=None if lifetime is None else received + lifetime,
        refresh_token=_optional_string(doc, "refresh_token"),
        id_token=_optional_string(doc, "id_token"),
        scope=(
            normalize_scope(scope, scope_separator)
            if scope is not None
            else requested_scope
        ),
        obtained_at=received,
    )
