"""The front channel: the authorization request and the redirect back.

RFC 6749 sections 4.1.1-4.1.2, RFC 7636 section 4.3, RFC 9207, OpenID Connect
Core section 3.1.2. Pure functions: no sockets, no browser.

A redirect back is checked in a fixed order, each comparison in constant
time: ``iss`` (RFC 9207: required when the metadata advertises it, compared
whenever present), ``state``, ``error``, then ``code``. Parameters that a
code-flow response never carries (tokens, JARM ``response``) are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .errors import AuthorizationError, CallbackRejected, ValidationError
from .utils import equal_in_constant_time

__all__ = [
    "AuthorizationRequest",
    "build_authorization_url",
    "parse_callback_query",
    "validate_callback",
]

MAX_PARAMETERS = 32
MAX_VALUE_LENGTH = 8192

# Members of implicit, hybrid or JARM responses: never valid in our code flow.
_FOREIGN_RESPONSE_PARAMETERS = ("access_token", "id_token", "token_type", "response")


@dataclass(frozen=True)
class AuthorizationRequest:
    """Everything one login must remember between the browser and the token call.

    Immutable and never shared between logins: each login validates against
    its own issuer, state and nonce (RFC 9700 section 4.4.2).
    """

    issuer: str
    iss_required: bool
    client_id: str
    redirect_uri: str
    state: str = field(repr=False)
    nonce: str | None = field(repr=False)
    code_verifier: str = field(repr=False)
    url: str = field(repr=False)


def build_authorization_url(endpoint: str, params: Mapping[str, str]) -> str:
    """``endpoint`` with ``params`` added to whatever query it already has."""
    parts = urlsplit(endpoint)
    existing = parse_qsl(parts.query, keep_blank_values=True)
    clashes = {key for key, _ in existing} & set(params)
    if clashes:
        raise ValidationError(
            f"authorization_endpoint already carries {', '.join(sorted(clashes))}",
            code="invalid_metadata",
        )
    query = urlencode([*existing, *params.items()], quote_via=quote)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def parse_callback_query(query: str) -> dict[str, str]:
    """Parse the redirect's query; a repeated or oversized parameter is refused.

    Empty values count as absent (RFC 6749 section 3.1). Bytes that are not
    UTF-8 are refused rather than replaced.
    """
    try:
        pairs = parse_qsl(
            query,
            keep_blank_values=True,
            strict_parsing=False,
            errors="strict",
            max_num_fields=MAX_PARAMETERS,
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise CallbackRejected(
            "the callback's query cannot be parsed", code="invalid_callback"
        ) from exc
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise CallbackRejected(
                f"the callback repeats the parameter {key!r} (RFC 6749 section 3.1)",
                code="invalid_callback",
            )
        if len(value) > MAX_VALUE_LENGTH:
            raise CallbackRejected(
                f"the callback's {key!r} is too long", code="invalid_callback"
            )
        params[key] = value
    return {key: value for key, value in params.items() if value != ""}


def state_matches(params: Mapping[str, str], request: AuthorizationRequest) -> bool:
    """Whether this callback answers *this* login at all."""
    received = params.get("state")
    return received is not None and equal_in_constant_time(received, request.state)


def validate_callback(params: Mapping[str, str], request: AuthorizationRequest) -> str:
    """Return the authorization code, or raise.

    Raises CallbackRejected for a callback without this login's ``state``
    (the caller ignores it and keeps waiting), ValidationError for a wrong or
    missing ``iss`` or a foreign response type, and AuthorizationError for an
    ``error`` response.
    """
    iss = params.get("iss")
    if iss is None and request.iss_required:
        if not state_matches(params, request):
            raise CallbackRejected("the callback has no iss and no matching state")
        raise ValidationError(
            "the authorization response has no iss although the provider "
            "advertises it (RFC 9207); possible mix-up attack",
            code="issuer_mismatch",
        )
    if iss is not None and not equal_in_constant_time(iss, request.issuer):
        if not state_matches(params, request):
            raise CallbackRejected("the callback has a foreign iss and state")
        raise ValidationError(
            "the authorization response came from another issuer than the one "
            "this login started with (RFC 9207); possible mix-up attack",
            code="issuer_mismatch",
        )

    if "state" not in params:
        raise CallbackRejected(
            "the callback has no state (RFC 6749 section 10.12)",
            code="state_mismatch",
        )
    if not state_matches(params, request):
        raise CallbackRejected(
            "the callback's state does not match this login", code="state_mismatch"
        )

    if "error" in params:
        raise AuthorizationError(
            params["error"], params.get("error_description"), params.get("error_uri")
        )

    foreign = [key for key in _FOREIGN_RESPONSE_PARAMETERS if key in params]
    if foreign:
        raise ValidationError(
            f"the authorization response carries {', '.join(foreign)}; oauthcli "
            "uses the code flow only (RFC 9700 section 2.1.2)",
            code="invalid_callback",
        )
    code = params.get("code")
    if code is None:
        raise ValidationError(
            "the authorization response has neither a code nor an error",
            code="invalid_callback",
        )
    return code
