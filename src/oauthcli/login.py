"""Log in and remember it: the high-level API that other CLIs embed.

``login()`` runs the authorization code flow (``oauth2``), then stores the
tokens, the provider settings and the account under a profile. Nothing is
stored when any step fails.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._log import log
from .browser import Opener
from .constants import OAuth2Constants
from .discovery import ProviderMetadata
from .errors import LocalError
from .keychain import (
    STORE_CHOICES,
    KeyringUnavailable,
    forget_refresh_token,
    place_tokens,
    stored_refresh_token,
)
from .oauth2 import Notify, OAuth2, notify_stderr
from .pkce import PKCE
from .state import CSRFState
from .store import StoreDamaged, profile_lock, read_entry, set_aside, write_entry
from .tokens import TokenSet

__all__ = ["Account", "LoginResult", "login"]


@dataclass(frozen=True)
class Account:
    """Who logged in: ``sub`` and a name to show (never assumed verified)."""

    sub: str | None
    display_name: str

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any] | None) -> Account:
        claims = claims or {}
        sub = claims.get("sub") if isinstance(claims.get("sub"), str) else None
        for key in ("email", "preferred_username"):
            value = claims.get(key)
            if isinstance(value, str) and value:
                return cls(sub=sub, display_name=value)
        return cls(sub=sub, display_name=sub or "unknown account")


@dataclass(frozen=True)
class LoginResult:
    profile: str
    issuer: str
    account: Account
    tokens: TokenSet


def _settings(constants: OAuth2Constants, connection: str | None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "issuer": constants.issuer,
        "client_id": constants.client_id,
        "scope": constants.scope,
        "redirect_url": constants.redirect_url,
        "token_endpoint_auth_method": constants.auth_method,
    }
    optional = {
        "audience": constants.audience,
        "connection": connection,
        "client_secret": constants.client_secret,
        "params": dict(constants.extra_params) or None,
        "redirect_ports": list(constants.redirect_ports) or None,
        "ca_file": constants.ca_file,
    }
    settings.update(
        {key: value for key, value in optional.items() if value is not None}
    )
    return settings


def _previous_entry(profile: str) -> dict[str, Any] | None:
    """The stored entry this login replaces; a damaged one is moved aside."""
    try:
        return read_entry(profile)
    except StoreDamaged:
        set_aside(profile)
        return None


def _previous_refresh_token(
    profile: str,
    previous: Mapping[str, Any] | None,
    issuer: str,
    client_id: str,
    account: Account,
) -> str | None:
    """The stored refresh token of the same account at the same client, if any."""
    if previous is None:
        return None
    settings = previous.get("settings", {})
    stored_issuer = str(settings.get("issuer") or "")
    same = (
        stored_issuer.removesuffix("/") == issuer.removesuffix("/")
        and settings.get("client_id") == client_id
        and previous.get("account", {}).get("sub") == account.sub
        and account.sub is not None
    )
    if not same:
        return None
    try:
        return stored_refresh_token(profile, previous)
    except KeyringUnavailable:
        return None


def login(
    constants: OAuth2Constants,
    *,
    profile: str = "default",
    connection: str | None = None,
    open_browser: bool = True,
    opener: Opener | None = None,
    notify: Notify | None = None,
    store: bool = True,
    token_store: str = "file",  # noqa: S107 - a backend name, not a secret
) -> LoginResult:
    """Run a browser login and store its result under ``profile``.

    ``token_store`` is where the refresh token goes: ``file``, ``keyring`` or
    ``auto`` (see ``keychain``). A new login that brings no refresh token
    keeps the one stored for the same account (providers such as Google
    issue one only on first consent).
    """
    if token_store not in STORE_CHOICES:
        raise LocalError(
            f"token store {token_store!r} is not one of {', '.join(STORE_CHOICES)}",
            code="invalid_argument",
        )
    with PKCE() as pkce, CSRFState() as csrf_state:
        flow = OAuth2(
            pkce,
            csrf_state,
            constants,
            opener=opener,
            open_browser=open_browser,
            notify=notify,
        )
        try:
            code = flow.authorization_request(connection)
            tokens = flow.token_request(code)
            metadata = flow.metadata
        finally:
            flow.close()
    account = Account.from_claims(flow.id_token_claims)
    if store:
        settings = {**_settings(constants, connection), "store": token_store}
        notify = notify or notify_stderr
        tokens = _store(profile, settings, metadata, account, tokens, notify)
    return LoginResult(
        profile=profile, issuer=metadata.issuer, account=account, tokens=tokens
    )


def _store(
    profile: str,
    settings: dict[str, Any],
    metadata: ProviderMetadata,
    account: Account,
    tokens: TokenSet,
    notify: Notify,
) -> TokenSet:
    """Write the login under the profile's lock; return the tokens as stored."""
    try:
        with profile_lock(profile):
            previous = _previous_entry(profile)
            if tokens.refresh_token is None:
                kept = _previous_refresh_token(
                    profile, previous, metadata.issuer, settings["client_id"], account
                )
                if kept is not None:
                    tokens = tokens.with_refresh_token(kept)
            if previous is not None:
                forget_refresh_token(profile, previous)  # the new login replaces it
            in_file = place_tokens(profile, settings, tokens.to_dict(), notify)
            path = write_entry(
                profile,
                {
                    "profile": profile,
                    "settings": settings,
                    "provider": metadata.to_dict(),
                    "account": {"sub": account.sub, "name": account.display_name},
                    "tokens": in_file,
                    "saved_at": time.time(),
                },
            )
            log.info("stored the login in %s", path)
    except OSError as exc:
        raise LocalError(
            f"logged in, but the tokens could not be stored: {exc.strerror}",
            code="store_failed",
        ) from exc
    return tokens
