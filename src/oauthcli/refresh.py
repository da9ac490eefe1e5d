"""A valid access token on demand: silent refresh (RFC 6749 section 6).

``get_token_set`` returns the stored tokens while the access token has more
than ``min_ttl`` seconds left. Otherwise it takes the profile's lock (across
threads and processes), reads the store again (another process may have
refreshed meanwhile), and only then sends one ``refresh_token`` grant. So
any number of processes that find an expired token at once cause exactly one
refresh at the provider: with rotating refresh tokens, a second grant with
the same token would revoke the whole family (RFC 9700 section 4.14.2).

A DPoP login (RFC 9449) refreshes with a proof of the key stored with it;
``get_credentials`` returns that key with the tokens, for the proofs of
resource requests. A missing or damaged key means a new login.

A rotated refresh token is stored; an answer without one keeps the old one.
On ``invalid_grant`` the stored tokens are cleared only if the store still
holds the refresh token that failed (compare-and-clear). A refresh whose
outcome is unknown (timeout) keeps the old token and is tried once more.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ._log import log
from .errors import EndpointError, LocalError, LoginRequired, TransportError
from .keychain import (
    KeyringUnavailable,
    forget_refresh_token,
    place_tokens,
    stored_dpop_key,
    stored_refresh_token,
)
from .store import (
    StoreDamaged,
    fresh_access_token,
    profile_lock,
    read_entry,
    write_entry,
)
from .tokens import TokenSet, client_auth, parse_token_response
from .urls import check_endpoint_url

if TYPE_CHECKING:
    from .dpop import DPoPKey
    from .transport import HTTP

__all__ = [
    "DEFAULT_MIN_TTL",
    "Credentials",
    "get_credentials",
    "get_token",
    "get_token_set",
    "stored_login",
]

DEFAULT_MIN_TTL = 60.0
REFRESH_TIMEOUT = 10.0  # seconds per read; a timed-out grant is sent once more


def _login_again(profile: str, why: str) -> LoginRequired:
    from .config import login_hint

    return LoginRequired(f"{why}; log in again: {login_hint(profile)}")


def stored_login(profile: str) -> dict[str, Any]:
    """The profile's store entry; LoginRequired when there is none to use."""
    try:
        entry = read_entry(profile)
    except StoreDamaged as exc:
        raise LoginRequired(exc.message) from exc
    if entry is None:
        from .config import login_hint

        hint = login_hint(profile)
        raise LoginRequired(f"not logged in (profile {profile!r}); {hint}")
    return entry


def _load(profile: str) -> tuple[dict[str, Any], TokenSet]:
    entry = stored_login(profile)
    try:
        tokens = TokenSet.from_dict(entry["tokens"])
    except ValueError as exc:
        raise _login_again(
            profile, f"profile {profile!r} holds no usable token"
        ) from exc
    return entry, tokens


def get_token_set(
    profile: str | None = None,
    *,
    min_ttl: float = DEFAULT_MIN_TTL,
    rejected: str | None = None,
) -> TokenSet:
    """The profile's tokens, refreshed first when needed.

    ``rejected`` is an access token a resource server refused (HTTP 401):
    it is refreshed even if it looks valid, unless another process already
    replaced it. Raises LoginRequired when only a new login can help. A
    client credentials profile gets a new grant instead of a refresh
    (``client_credentials``), also when nothing is stored yet.
    """
    if not profile:
        from .config import resolve_profile_name

        profile = resolve_profile_name(None)
    try:
        entry, tokens = _load(profile)
    except LoginRequired:
        if not _machine(profile, None):
            raise
        return _client_credentials_token(profile, min_ttl, rejected)
    if rejected is None and fresh_access_token(entry, min_ttl):
        return tokens
    if _machine(profile, entry):
        return _client_credentials_token(profile, min_ttl, rejected)
    seen = rejected or tokens.access_token

    with profile_lock(profile):
        entry, tokens = _load(profile)
        if tokens.access_token != seen and fresh_access_token(entry, 0):
            # Another process (or thread) refreshed or logged in meanwhile,
            # or the token said to be rejected was never the stored one.
            log.info(
                "the stored access token is not the one %s; using it",
                "that was rejected" if rejected else "seen before the lock",
            )
            return tokens
        if rejected is None and fresh_access_token(entry, min_ttl):
            return tokens
        refresh_token = stored_refresh_token(profile, entry)
        if refresh_token is None:
            # GitHub OAuth apps: no refresh token and no expiry, so the token
            # is used until a resource server refuses it, and then that is all.
            why = (
                "the access token was refused and there is no refresh token"
                if rejected is not None
                else "the access token needs a refresh and there is no refresh token"
            )
            raise _login_again(profile, why)
        # Only the process that refreshes loads the HTTP and OIDC machinery.
        from .transport import HTTP

        ca_file = entry["settings"].get("ca_file")
        with HTTP(timeout=REFRESH_TIMEOUT, ca_file=ca_file) as http:
            try:
                fresh = _grant(profile, http, entry, tokens, refresh_token)
            except (TransportError, EndpointError) as exc:
                if rejected is not None or not _unavailable(exc):
                    raise
                return _current_during_outage(profile, entry, tokens, exc)
            if fresh.id_token != tokens.id_token:
                # The provider has rotated the refresh token by now: store the
                # new pair before the ID token check, or a crash or an error
                # there would lose it. The new access token is stored as
                # expired until its ID token has been checked, so that no
                # reader uses it; never an old token with a new one (ST-07).
                held_back = replace(fresh, id_token=tokens.id_token, expires_at=0.0)
                _save(profile, entry, held_back)
                try:
                    _check_refreshed_id_token(profile, http, entry, fresh)
                except TransportError as exc:
                    # An unchecked ID token may name another user (OIDC Core
                    # 12.2): its access token is not handed out, and the
                    # held-back pair is refreshed again on the next call.
                    unchecked = TransportError(
                        f"the refreshed ID token could not be checked: {exc.message}",
                        code=exc.code,
                        status_code=exc.status_code,
                    )
                    if rejected is not None or not _unavailable(exc):
                        raise unchecked from exc
                    return _current_during_outage(profile, entry, tokens, unchecked)
            _save(profile, entry, fresh)
        return fresh


def _current_during_outage(
    profile: str,
    entry: dict[str, Any],
    tokens: TokenSet,
    exc: TransportError | EndpointError,
) -> TokenSet:
    """The current tokens while the provider is away, if the access token is
    still good (``min_ttl`` asked for a margin the provider cannot give now);
    else ``exc``. ``entry`` is the store as read before the refresh."""
    if not fresh_access_token(entry, 0, now=time.time() + 1):
        raise exc
    from .oauth2 import notify_stderr

    left = tokens.expires_in()
    notify_stderr(
        f"oauthcli: warning: could not refresh the tokens of profile "
        f"{profile!r} ({exc.message}); using the current access token"
        + ("" if left is None else f", valid for {int(left)} s more")
    )
    return tokens


def _unavailable(exc: TransportError | EndpointError) -> bool:
    """Whether a failed refresh says only that the provider is down or busy:
    no answer (refused, reset or timed out), 5xx or 429, or the RFC 6749
    ``server_error`` / ``temporarily_unavailable``. Not a refusal (4xx, an
    OAuth error), and not a TLS failure of any kind."""
    if isinstance(exc, EndpointError):
        return exc.code in ("server_error", "temporarily_unavailable")
    if exc.code in ("timeout", "deadline_exceeded"):
        return True
    if exc.code == "connect_failed":
        return not _tls_in(exc)
    if exc.code == "http_error":
        status = exc.status_code
        return (status is None and not _tls_in(exc)) or (
            status is not None and (status >= 500 or status == 429)
        )
    return False


def _tls_in(exc: BaseException) -> bool:
    """An ssl error anywhere in the causes (a handshake failure, a downgrade)."""
    import ssl

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _machine(profile: str, entry: Mapping[str, Any] | None) -> bool:
    """Whether the profile gets its tokens by the client credentials grant.

    The stored entry says so; without a usable one, the profile's options.
    """
    from .client_credentials import configured, is_client_credentials

    return is_client_credentials(entry) if entry else configured(profile)


def _client_credentials_token(
    profile: str, min_ttl: float, rejected: str | None
) -> TokenSet:
    """No refresh token: a new grant when the stored token runs out."""
    from .client_credentials import get_token_set as machine_token

    return machine_token(profile, min_ttl=min_ttl, rejected=rejected)


def _save(profile: str, entry: Mapping[str, Any], tokens: TokenSet) -> None:
    from .oauth2 import notify_stderr

    in_file = place_tokens(profile, entry["settings"], tokens.to_dict(), notify_stderr)
    try:
        write_entry(profile, {**entry, "tokens": in_file, "saved_at": time.time()})
    except OSError as exc:
        raise LocalError(
            f"refreshed, but the new tokens could not be stored: {exc.strerror}",
            code="store_failed",
        ) from exc


def get_token(profile: str | None = None, *, min_ttl: float = DEFAULT_MIN_TTL) -> str:
    """A valid access token for ``profile``, refreshing first when needed."""
    return get_token_set(profile, min_ttl=min_ttl).access_token


@dataclass(frozen=True)
class Credentials:
    """A valid token set and, for a DPoP login, its key (``repr`` shows neither)."""

    tokens: TokenSet
    dpop_key: DPoPKey | None = None

    def headers(
        self, method: str, url: str, *, nonce: str | None = None
    ) -> dict[str, str]:
        """``Authorization`` (and ``DPoP``) for one resource request."""
        from .dpop import authorization_headers

        t = self.tokens
        return authorization_headers(
            t.access_token, t.token_type, self.dpop_key, method, url, nonce=nonce
        )


def get_credentials(
    profile: str | None = None,
    *,
    min_ttl: float = DEFAULT_MIN_TTL,
    rejected: str | None = None,
) -> Credentials:
    """``get_token_set`` with the DPoP key the tokens are bound to, if any.

    Raises LoginRequired when a DPoP-bound token's key is missing or damaged.
    A new login between the two reads pairs an old token with a new key: the
    resource server refuses it, and the retry after that 401 fixes it.
    """
    if not profile:
        from .config import resolve_profile_name

        profile = resolve_profile_name(None)
    tokens = get_token_set(profile, min_ttl=min_ttl, rejected=rejected)
    if tokens.token_type != "DPoP":
        return Credentials(tokens)
    key = _dpop_key(profile, stored_login(profile))
    if key is None:
        raise _login_again(profile, f"profile {profile!r} holds no DPoP key")
    return Credentials(tokens, key)


def _dpop_key(profile: str, entry: Mapping[str, Any]) -> DPoPKey | None:
    """The login's DPoP key; LoginRequired when it is missing or damaged."""
    try:
        return stored_dpop_key(profile, entry)
    except ValueError as exc:
        log.info("unusable DPoP key: %s", exc)
        raise _login_again(
            profile, f"the DPoP key of profile {profile!r} is missing or damaged"
        ) from exc


def _grant(
    profile: str,
    http: HTTP,
    entry: Mapping[str, Any],
    tokens: TokenSet,
    refresh_token: str,
) -> TokenSet:
    """One refresh grant, retried once if the server went quiet (ST-16).

    A DPoP login's grant carries a proof of its key (RFC 9449 section 5).
    """
    from .dpop import post_form

    dpop_key = _dpop_key(profile, entry)
    if dpop_key is None and tokens.token_type == "DPoP":
        raise _login_again(profile, f"profile {profile!r} holds no DPoP key")
    settings = entry["settings"]
    provider = entry.get("provider") or {}
    token_endpoint = check_endpoint_url(
        provider.get("token_endpoint"), "token_endpoint"
    )
    body, headers = client_auth(
        settings["client_id"],
        settings.get("client_secret"),
        settings.get("token_endpoint_auth_method") or "none",
    )
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **body}
    for attempt in (1, 2):
        try:
            log.info("refreshing the access token of profile %r", profile)
            response = post_form(
                http,
                token_endpoint,
                form,
                what="token endpoint",
                headers=headers,
                key=dpop_key,
            )
            fresh = parse_token_response(
                response,
                requested_scope=tokens.scope,
                scope_separator=settings.get("scope_separator") or " ",
                dpop=dpop_key is not None,
            )
            break
        except TransportError as exc:
            if exc.code != "timeout" or attempt == 2:
                raise
            log.debug("the refresh timed out; trying once more")
        except EndpointError as exc:
            if exc.error == "invalid_grant":
                _clear_if_unchanged(profile, refresh_token)
                raise _login_again(
                    profile, "the provider no longer accepts the refresh token"
                ) from exc
            raise
    if fresh.refresh_token is None:
        fresh = fresh.with_refresh_token(refresh_token)
    if fresh.id_token is None and tokens.id_token is not None:
        fresh = replace(fresh, id_token=tokens.id_token)
    return fresh


def _check_refreshed_id_token(
    profile: str, http: HTTP, entry: Mapping[str, Any], fresh: TokenSet
) -> None:
    """OIDC Core 12.2: same iss, sub, aud and azp as the login's ID token.

    A refresh whose ID token does not match is not used, and since the
    refresh token may already have rotated, the grant is dropped.
    """
    from .errors import ValidationError
    from .idtoken import validate_id_token
    from .oauth2 import JWKS

    settings = entry["settings"]
    provider = entry.get("provider") or {}
    issuer = provider.get("issuer") or settings["issuer"]
    jwks_uri = check_endpoint_url(provider.get("jwks_uri"), "jwks_uri")
    aliases = tuple(str(iss) for iss in settings.get("id_token_issuers") or () if iss)
    assert fresh.id_token is not None
    try:
        claims = validate_id_token(
            fresh.id_token,
            issuer=issuer,
            client_id=settings["client_id"],
            nonce=None,
            jwks=JWKS.source(
                issuer, jwks_uri, lambda uri: http.get_json(uri, what="JWKS endpoint")
            ),
            access_token=fresh.access_token,
            client_secret=settings.get("client_secret"),
            extra_issuers=aliases,
        )
        original = _unverified_claims((entry.get("tokens") or {}).get("id_token"))
        original.setdefault("sub", (entry.get("account") or {}).get("sub"))
        for claims_of in (original, claims):
            # The issuer's configured aliases name the same issuer.
            if claims_of.get("iss") in aliases:
                claims_of["iss"] = issuer
        for name in ("iss", "sub", "aud", "azp"):
            known = name in original or (name == "azp" and bool(original))
            if known and _same(original.get(name)) != _same(claims.get(name)):
                raise ValidationError(
                    f"ID token rejected: the refreshed ID token's {name} differs from "
                    "the login's (OpenID Connect Core 12.2)",
                    code="invalid_id_token",
                )
    except ValidationError:
        _clear_if_unchanged(profile, None)
        raise


def _unverified_claims(id_token: object) -> dict[str, Any]:
    """The claims of the login's ID token, which was verified when stored."""
    import json

    from .utils import base64url_decode

    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return {}
    try:
        claims = json.loads(base64url_decode(id_token.split(".")[1]))
    except (ValueError, RecursionError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _same(value: object) -> object:
    """``aud`` as a set, so that ``"a"`` and ``["a"]`` compare equal."""
    if isinstance(value, str):
        return frozenset([value])
    if isinstance(value, list):
        return frozenset(str(item) for item in value)
    return value


def _clear_if_unchanged(profile: str, failed_refresh_token: str | None) -> None:
    """Drop the stored tokens, unless another process stored new ones already.

    Called with the profile lock held. ``failed_refresh_token`` None clears
    unconditionally (the refresh answer itself was untrustworthy).
    """
    try:
        entry = read_entry(profile)
        if entry is None:
            return
        if failed_refresh_token is not None and (
            stored_refresh_token(profile, entry) != failed_refresh_token
        ):
            return
    except (StoreDamaged, KeyringUnavailable):
        return  # cannot compare: keep what is there
    forget_refresh_token(profile, entry)
    kept = {key: value for key, value in entry.items() if key != "dpop"}
    try:
        write_entry(profile, {**kept, "tokens": {}, "saved_at": time.time()})
    except OSError as exc:  # pragma: no cover - the write just worked above
        raise LocalError(
            f"cannot update the store: {exc.strerror}", code="store_failed"
        ) from exc
