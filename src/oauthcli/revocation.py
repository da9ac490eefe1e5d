"""Logging out: token revocation (RFC 7009), then the local entry goes.

The refresh token is revoked first (``token_type_hint=refresh_token``), then
the access token. A failing revocation is reported, but the local entry is
deleted all the same: a user who logs out must not stay logged in here
because the provider was down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._log import log
from .errors import OAuthCLIError, ProviderError, TransportError
from .keychain import KeyringUnavailable, forget_refresh_token, stored_refresh_token
from .store import StoreDamaged, delete_entry, profile_lock, read_entry
from .tokens import client_auth, raise_for_error_response
from .transport import HTTP
from .urls import check_endpoint_url

__all__ = ["LogoutResult", "logout", "revoke"]

REVOCATION_TIMEOUT = 5.0


@dataclass(frozen=True)
class LogoutResult:
    profile: str
    deleted: bool
    revoked: bool
    problems: list[str] = field(default_factory=list)


def revoke(
    http: HTTP,
    endpoint: str,
    token: str,
    token_type_hint: str,
    settings: Mapping[str, Any],
) -> None:
    """Send one revocation request; raise OAuthCLIError if it did not succeed."""
    if settings.get("grant_type") == "client_credentials":
        from .client_credentials import client_authentication

        body, headers = client_authentication(settings, endpoint)
    else:
        body, headers = client_auth(
            settings["client_id"],
            settings.get("client_secret"),
            settings.get("token_endpoint_auth_method") or "none",
        )
    form = {"token": token, "token_type_hint": token_type_hint, **body}
    response = http.post_form(
        endpoint, form, what="revocation endpoint", headers=headers
    )
    if response.status_code == 200:
        return  # RFC 7009 section 2.2: the body is not used
    if response.status_code == 503:
        raise TransportError(
            "the revocation endpoint is unavailable (HTTP 503); the tokens stay "
            "valid at the provider until they expire",
            code="http_error",
        )
    raise_for_error_response(response, "revocation endpoint")


def _revoke_all(entry: Mapping[str, Any]) -> tuple[bool, list[str]]:
    settings = entry.get("settings") or {}
    provider = entry.get("provider") or {}
    tokens = entry.get("tokens") or {}
    endpoint = provider.get("revocation_endpoint")
    pairs = [
        (tokens.get("refresh_token"), "refresh_token"),
        (tokens.get("access_token"), "access_token"),
    ]
    present = [
        (token, hint) for token, hint in pairs if isinstance(token, str) and token
    ]
    if not present:
        return False, []
    if endpoint is None:
        return False, [
            "the provider has no revocation endpoint; the tokens stay valid "
            "until they expire or you revoke them at the provider"
        ]
    problems: list[str] = []
    revoked = False
    with HTTP(timeout=REVOCATION_TIMEOUT, ca_file=settings.get("ca_file")) as http:
        try:
            check_endpoint_url(endpoint, "revocation_endpoint")
        except OAuthCLIError as exc:
            return False, [exc.message]
        for token, hint in present:
            try:
                revoke(http, endpoint, token, hint, settings)
                revoked = True
            except (ProviderError, OAuthCLIError) as exc:
                log.debug("revoking the %s failed: %s", hint, exc.code)
                problems.append(
                    f"revoking the {hint.replace('_', ' ')} failed: {exc.message}"
                )
    return revoked, problems


def _with_client_secret(profile: str, entry: dict[str, Any]) -> dict[str, Any]:
    """A client credentials entry stores no secret: the profile's options have it."""
    from .client_credentials import is_client_credentials, with_client_secret

    if not is_client_credentials(entry):
        return entry
    return {**entry, "settings": with_client_secret(profile, entry["settings"])}


def logout(profile: str, *, revoke_tokens: bool = True) -> LogoutResult:
    """Revoke the profile's tokens (unless told not to) and delete its entry."""
    problems: list[str] = []
    revoked = False
    with profile_lock(profile):
        try:
            entry = read_entry(profile)
        except StoreDamaged:
            entry = None
            problems.append("the stored entry was damaged; removed without revoking")
        if entry is not None:
            if revoke_tokens:
                entry = _with_client_secret(profile, entry)
                tokens = dict(entry.get("tokens") or {})
                try:
                    tokens["refresh_token"] = stored_refresh_token(profile, entry)
                except KeyringUnavailable as exc:
                    problems.append(f"{exc.message}; the refresh token was not revoked")
                revoked, more = _revoke_all({**entry, "tokens": tokens})
                problems.extend(more)
            forget_refresh_token(profile, entry)
        deleted = delete_entry(profile)
    return LogoutResult(
        profile=profile, deleted=deleted, revoked=revoked, problems=problems
    )
