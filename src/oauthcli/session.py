"""Log in and remember it: the high-level API that other CLIs embed.

``login()`` runs the authorization code flow (``oauth2``), then stores the
tokens, the provider settings and the account under a profile. Nothing is
stored when any step fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from ._log import log
from .browser import Opener
from .constants import ENDPOINT_FIELDS, OAuth2Constants
from .discovery import ProviderMetadata
from .errors import LocalError, sanitize
from .exchange import ExchangedToken, TokenExchange, exchange_after_login
from .keychain import (
    STORE_CHOICES,
    KeyringUnavailable,
    forget_refresh_token,
    place_dpop_key,
    place_tokens,
    stored_refresh_token,
)
from .oauth2 import Notify, OAuth2, notify_stderr
from .pkce import PKCE
from .state import CSRFState
from .store import (
    StoreDamaged,
    profile_lock,
    profile_path,
    read_entry,
    set_aside,
    write_entry,
)
from .tokens import TokenSet

if TYPE_CHECKING:
    from .dpop import DPoPKey

__all__ = ["Account", "LoginResult", "login", "provider_options"]


@dataclass(frozen=True)
class Account:
    """Who logged in: ``sub`` and a name to show (never assumed verified).

    ``sub`` is the claim as sent, to compare with. ``display_name`` is safe to
    print: control, bidi and surrogate characters in the provider's claim
    became spaces (``errors.sanitize``, as the CLI shows provider text).
    """

    sub: str | None
    display_name: str

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any] | None) -> Account:
        claims = claims or {}
        sub = claims.get("sub") if isinstance(claims.get("sub"), str) else None
        for value in (claims.get("email"), claims.get("preferred_username"), sub):
            shown = sanitize(value) if isinstance(value, str) else ""
            if shown:
                return cls(sub=sub, display_name=shown)
        return cls(sub=sub, display_name="unknown account")


@dataclass(frozen=True)
class LoginResult:
    """A login's outcome; ``exchanged`` is the token ``login(exchange=...)`` got."""

    profile: str
    issuer: str
    account: Account
    tokens: TokenSet
    exchanged: ExchangedToken | None = None


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
        **constants.endpoint_overrides,
        # The quirks only when set, so that other entries stay as they were.
        "discovery": False if not constants.discovery else None,
        "id_token_issuers": list(constants.id_token_issuers) or None,
        "scope_separator": (
            constants.scope_separator if constants.scope_separator != " " else None
        ),
        "dpop": True if constants.dpop else None,
        "par": True if constants.par else None,
    }
    settings.update(
        {key: value for key, value in optional.items() if value is not None}
    )
    return settings


def provider_options(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The explicit endpoints and quirks a stored login was made with.

    Keyword arguments for ``OAuth2Constants``, so that a login from stored
    settings (``OAuth2Constants(..., **provider_options(settings))``) talks
    to the provider the same way; absent keys keep the defaults.
    """
    options: dict[str, Any] = {
        name: settings[name]
        for name in ENDPOINT_FIELDS
        if isinstance(settings.get(name), str)
    }
    if settings.get("discovery") is False:
        options["discovery"] = False
    issuers = settings.get("id_token_issuers")
    if isinstance(issuers, list):
        options["id_token_issuers"] = tuple(str(iss) for iss in issuers)
    if isinstance(settings.get("scope_separator"), str):
        options["scope_separator"] = settings["scope_separator"]
    return options


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
    device: bool = False,
    paste_input: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    exchange: TokenExchange | None = None,
) -> LoginResult:
    """Run a browser login and store its result under ``profile``.

    ``token_store`` is where the refresh token goes: ``file``, ``keyring`` or
    ``auto`` (see ``keychain``). ``device=True`` uses the device authorization
    grant (RFC 8628) instead of the browser redirect; it waits between polls
    with ``sleep``. A new login that brings no refresh token keeps the one
    stored for the same account (providers such as Google issue one only on
    first consent), unless either login is DPoP-bound. With
    ``constants.dpop`` the login's DPoP key is stored with its tokens.

    ``exchange`` trades the new login's token for another right away (token
    exchange, RFC 8693; see ``exchange``): the result is
    ``LoginResult.exchanged``, and a failed exchange fails the login before
    anything is stored.
    """
    if token_store not in STORE_CHOICES:
        raise LocalError(
            f"token store {token_store!r} is not one of {', '.join(STORE_CHOICES)}",
            code="invalid_argument",
        )
    if store:
        profile_path(profile)  # a name the store refuses fails before the browser
    notify = notify or notify_stderr
    dpop_key: DPoPKey | None
    if device:
        tokens, metadata, claims, dpop_key = _device_login(
            constants, notify, open_browser=open_browser, opener=opener, sleep=sleep
        )
    else:
        with PKCE() as pkce, CSRFState() as csrf_state:
            flow = OAuth2(
                pkce,
                csrf_state,
                constants,
                opener=opener,
                open_browser=open_browser,
                notify=notify,
                paste_input=paste_input,
            )
            try:
                code = flow.authorization_request(connection)
                tokens = flow.token_request(code)
                metadata = flow.metadata
            finally:
                flow.close()
        claims = flow.id_token_claims
        dpop_key = flow.dpop_key
    account = Account.from_claims(claims)
    exchanged = None
    if exchange is not None:
        # Before anything is stored: a login whose exchange fails is not kept.
        exchanged = exchange_after_login(constants, metadata, tokens, exchange)
    if store:
        settings = {**_settings(constants, connection), "store": token_store}
        if device:
            settings["device"] = True
        tokens = _store(profile, settings, metadata, account, tokens, notify, dpop_key)
    return LoginResult(
        profile=profile,
        issuer=metadata.issuer,
        account=account,
        tokens=tokens,
        exchanged=exchanged,
    )


def _store(
    profile: str,
    settings: dict[str, Any],
    metadata: ProviderMetadata,
    account: Account,
    tokens: TokenSet,
    notify: Notify,
    dpop_key: DPoPKey | None = None,
) -> TokenSet:
    """Write the login under the profile's lock; return the tokens as stored."""
    try:
        with profile_lock(profile):
            previous = _previous_entry(profile)
            # A DPoP-bound refresh token is useless without its own key.
            unbound = dpop_key is None and (previous or {}).get("dpop") is None
            if tokens.refresh_token is None and unbound:
                kept = _previous_refresh_token(
                    profile, previous, metadata.issuer, settings["client_id"], account
                )
                if kept is not None:
                    tokens = tokens.with_refresh_token(kept)
            if previous is not None:
                forget_refresh_token(profile, previous)  # the new login replaces it
            in_file = place_tokens(profile, settings, tokens.to_dict(), notify)
            document = {
                "profile": profile,
                "settings": settings,
                "provider": metadata.to_dict(),
                "account": {"sub": account.sub, "name": account.display_name},
                "tokens": in_file,
                "saved_at": time.time(),
            }
            if dpop_key is not None:
                document["dpop"] = place_dpop_key(profile, settings, dpop_key, notify)
            path = write_entry(profile, document)
            log.info("stored the login in %s", path)
    except OSError as exc:
        raise LocalError(
            f"logged in, but the tokens could not be stored: {exc.strerror}",
            code="store_failed",
        ) from exc
    return tokens


def _device_login(
    constants: OAuth2Constants,
    notify: Notify,
    *,
    open_browser: bool,
    opener: Opener | None,
    sleep: Callable[[float], None],
) -> tuple[TokenSet, ProviderMetadata, dict[str, Any] | None, DPoPKey | None]:
    """The device authorization grant: show a code, poll, check the ID token.

    With ``constants.dpop`` every poll carries a proof of a new key. PAR has
    nothing to push here: the device flow has no authorization request.
    """
    from urllib.parse import urlsplit

    from .browser import browser_unavailable_reason
    from .browser import open_browser as launch
    from .device import poll_for_tokens, request_device_authorization
    from .errors import ValidationError
    from .oauth2 import check_id_token, check_scopes, provider_metadata
    from .progress import waiting
    from .tokens import client_auth
    from .transport import HTTP

    c = constants
    with HTTP(timeout=c.http_timeout, ca_file=c.ca_file) as http:
        metadata = provider_metadata(http, c, notify)
        endpoint = metadata.device_authorization_endpoint
        if endpoint is None:
            where = (
                "its metadata has no device_authorization_endpoint"
                if c.discovery
                else "no device_authorization_endpoint is configured"
            )
            raise ValidationError(
                f"{metadata.issuer} does not offer the device flow ({where}); "
                "log in with the browser instead",
                code="unsupported",
            )
        dpop_key = None
        if c.dpop:
            from .dpop import DPoPKey, check_support

            check_support(metadata)
            dpop_key = DPoPKey.generate()
        if c.par:
            notify(
                "Note: par has no effect on a device login: it has no "
                "authorization request for the browser to carry (RFC 8628 sends "
                "its request to the provider directly)."
            )
        if c.extra_params:
            names = ", ".join(sorted(c.extra_params))
            notify(
                f"Note: {names} {'has' if len(c.extra_params) == 1 else 'have'} no "
                "effect on a device login: its request to the provider carries "
                "only the client and the scope (RFC 8628 section 3.1)."
            )
        body, headers = client_auth(c.client_id, c.client_secret, c.auth_method)
        form = {"scope": c.scope, **body}
        if c.audience:
            form["audience"] = c.audience
        device = request_device_authorization(http, endpoint, form, headers)

        host = urlsplit(device.verification_uri).netloc
        notify(
            f"To log in, visit {sanitize(device.verification_uri)} (on {host}) "
            f"and enter the code:\n\n    {device.user_code}\n"
        )
        if device.verification_uri_complete:
            complete = device.verification_uri_complete
            notify(f"Or open this address, which includes the code:\n    {complete}\n")
            reason = None if opener else browser_unavailable_reason()
            if open_browser and reason is None:
                launch(complete, opener=opener, on_failure=notify)
        with waiting(
            "Waiting for the login to be approved",
            ["Ctrl-C to cancel"],
            notify=None if notify is notify_stderr else notify,
        ):
            tokens = poll_for_tokens(
                http,
                metadata.token_endpoint,
                device,
                body,
                headers,
                requested_scope=c.scope,
                scope_separator=c.scope_separator,
                sleep=sleep,
                dpop_key=dpop_key,
            )
        check_scopes(c, tokens)
        claims = (
            # The device request sends no extra parameters (max_age, claims),
            # so none of them is checked.
            check_id_token(http, c, metadata, tokens, nonce=None, extra_params={})
            if c.wants_openid
            else None
        )
    return tokens, metadata, claims, dpop_key
