"""Who is logged in: the stored ID token's claims and the UserInfo endpoint.

The ID token was validated when it was stored (OIDC Core section 3.1.3.7), so
its claims are read back without a second signature check. A UserInfo
answer (OIDC Core section 5.3) is fetched with a fresh access token and kept
only if its ``sub`` is the ID token's (section 5.3.2): a different ``sub``
means the answer is about someone else and is refused.
"""

from __future__ import annotations

import base64
import json
import shlex
from typing import Any

from ._hints import OAUTHCLI_LOGIN, login_command
from ._log import log
from .challenges import asks_for_dpop_nonce
from .dpop import NONCES, nonce_of
from .errors import LocalError, LoginRequired, TransportError, ValidationError
from .refresh import DEFAULT_MIN_TTL, Credentials, get_credentials, stored_login
from .tokens import normalize_scope
from .transport import HTTP, Response
from .urls import check_endpoint_url

__all__ = ["id_token_claims", "userinfo"]

USERINFO_TIMEOUT = 10.0


def id_token_claims(id_token: str | None) -> dict[str, Any]:
    """The payload of an ID token that was validated when it was stored."""
    if not id_token:
        return {}
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(
            base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        )
    except (IndexError, ValueError, RecursionError) as exc:
        raise ValidationError(
            "the stored ID token cannot be read", code="invalid_id_token"
        ) from exc
    if not isinstance(claims, dict):
        raise ValidationError(
            "the stored ID token cannot be read", code="invalid_id_token"
        )
    return claims


def _get(http: HTTP, endpoint: str, credentials: Credentials) -> Response:
    """GET UserInfo; a DPoP nonce challenge gets one retry (RFC 9449 section 9)."""

    def send() -> Response:
        headers = credentials.headers("GET", endpoint)
        headers["Accept"] = "application/json"
        response = http.get(endpoint, what="userinfo endpoint", headers=headers)
        NONCES.remember(endpoint, response.headers)
        return response

    response = send()
    if (
        credentials.dpop_key is not None
        and asks_for_dpop_nonce(response.status_code, response.headers)
        and nonce_of(response.headers) is not None
    ):
        response = send()
    return response


def _openid_scope_hint(profile: str, entry: dict[str, Any], granted: str | None) -> str:
    """Why an OpenID provider's UserInfo endpoint may have refused: the login
    did not ask for ``openid`` (OIDC Core section 5.3). Empty when it did, or
    when the endpoint is not an OpenID one (GitHub's ``/user``)."""
    if not (entry.get("provider") or {}).get("userinfo_endpoint"):
        return ""
    settings = entry.get("settings") or {}
    requested = settings.get("scope") or granted or ""
    scopes = normalize_scope(requested, settings.get("scope_separator") or " ")
    if "openid" in scopes.split():
        return ""
    wanted = shlex.quote(" ".join(["openid", *scopes.split()]))
    hint = "; the login did not ask for the openid scope, which UserInfo needs"
    if login_command() == OAUTHCLI_LOGIN:
        return f"{hint}: run `{OAUTHCLI_LOGIN} --profile {profile} --scope {wanted}`"
    return f"{hint}: log in again with the scope {wanted}"


def userinfo(profile: str, *, min_ttl: float = DEFAULT_MIN_TTL) -> dict[str, Any]:
    """The UserInfo endpoint's claims for the profile's user.

    Raises ``LocalError`` (``no_userinfo_endpoint``) when the provider has
    none, ``ValidationError`` (``userinfo_sub_mismatch``) when the answer
    names another subject than the stored ID token.
    """
    credentials = get_credentials(profile, min_ttl=min_ttl)
    tokens = credentials.tokens
    entry = stored_login(profile)
    settings = entry.get("settings") or {}
    endpoint = (entry.get("provider") or {}).get("userinfo_endpoint") or settings.get(
        "userinfo_endpoint"
    )
    if not endpoint:
        raise LocalError(
            "the provider has no userinfo_endpoint", code="no_userinfo_endpoint"
        )
    endpoint = check_endpoint_url(endpoint, "userinfo_endpoint")
    log.info("asking the UserInfo endpoint %s about the user", endpoint)
    with HTTP(timeout=USERINFO_TIMEOUT, ca_file=settings.get("ca_file")) as http:
        response = _get(http, endpoint, credentials)
    if response.status_code == 401:
        from .config import login_hint

        raise LoginRequired(
            "the userinfo endpoint refused the access token (HTTP 401); log in "
            f"again: {login_hint(profile)}"
        )
    if response.status_code != 200:
        message = f"the userinfo endpoint answered HTTP {response.status_code}"
        if response.status_code == 403:
            message += _openid_scope_hint(profile, entry, tokens.scope)
        raise TransportError(message, code="http_error")
    if response.content_type == "application/jwt":
        raise LocalError(
            "the provider signs its UserInfo answers (application/jwt), which "
            "oauthcli does not support yet",
            code="unsupported_userinfo",
        )
    claims = response.json("the userinfo endpoint's answer")
    expected = id_token_claims(tokens.id_token).get("sub")
    if expected is not None and claims.get("sub") != expected:
        raise ValidationError(
            "the userinfo endpoint answered for another subject than the ID "
            "token (OIDC Core 5.3.2)",
            code="userinfo_sub_mismatch",
        )
    return claims
