"""The client credentials grant (RFC 6749 section 4.4): a machine's own token.

A CI job or a service has no user and no browser. Its client authenticates
with a secret (``client_secret_basic``, ``client_secret_post``) or a signed
assertion (``private_key_jwt``, see ``client_assertion``) and asks the token
endpoint for ``grant_type=client_credentials``. A profile says it is such a
client with ``grant_type = "client_credentials"``.

The token is stored in the profile's entry like a user's and handed out
while it has more than ``min_ttl`` seconds left. There is no refresh token
(RFC 6749 section 4.4.3): when the token runs out, a new grant is made under
the profile's lock, after reading the store again, so that any number of
processes that find it expired make one grant between them.

The client secret is never stored. Every grant takes it from where the
profile's options come from (``OAUTHCLI_CLIENT_SECRET``, config.toml), so
that a CI secret stays in the CI system's variables.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ._log import log
from .errors import LocalError
from .store import (
    StoreDamaged,
    fresh_access_token,
    profile_lock,
    read_entry,
    set_aside,
    write_entry,
)
from .tokens import TokenSet, client_auth, parse_token_response
from .urls import check_endpoint_url, normalize_issuer

if TYPE_CHECKING:
    from .discovery import ProviderMetadata
    from .transport import HTTP, Response

__all__ = [
    "AUTH_METHODS",
    "GRANT_TYPE",
    "ClientCredentials",
    "client_authentication",
    "configured",
    "fetch_token",
    "get_token_set",
    "grant_request",
    "is_client_credentials",
    "parse_grant_response",
    "resolve",
    "with_client_secret",
]

GRANT_TYPE = "client_credentials"
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
_SECRET_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True)
class ClientCredentials:
    """A confidential client and what its grants ask for; ``repr`` hides the secret.

    ``token_endpoint_auth_method`` defaults to ``private_key_jwt`` when a
    ``client_assertion_key`` is given, else ``client_secret_basic``.
    ``audience`` and ``extra_params`` go into the token request (Auth0's
    ``audience``, RFC 8707's ``resource``). Without discovery,
    ``token_endpoint`` is all that is needed.
    """

    issuer: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    token_endpoint_auth_method: str | None = None
    client_assertion_key: str | None = None
    client_assertion_kid: str | None = None
    scope: str | None = None
    audience: str | None = None
    extra_params: Mapping[str, str] = field(default_factory=dict)
    token_endpoint: str | None = None
    revocation_endpoint: str | None = None
    discovery: bool = True
    scope_separator: str = " "
    ca_file: str | None = None
    http_timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.client_id:
            raise LocalError("client_id is empty", code="invalid_argument")
        method = self.auth_method
        if method not in AUTH_METHODS:
            raise LocalError(
                f"token_endpoint_auth_method {method!r} cannot authenticate a "
                "client credentials grant: use client_secret_basic, "
                "client_secret_post or private_key_jwt (RFC 6749 section 4.4 "
                "is for confidential clients only)",
                code="invalid_argument",
            )
        if method in _SECRET_METHODS and not self.client_secret:
            raise LocalError(
                f"{method} needs a client secret: set OAUTHCLI_CLIENT_SECRET, or "
                "client_secret in the profile",
                code="invalid_argument",
            )
        if method == "private_key_jwt" and not self.client_assertion_key:
            raise LocalError(
                "private_key_jwt needs client_assertion_key, the path of a PEM "
                "private key",
                code="invalid_argument",
            )
        if not self.discovery and not self.token_endpoint:
            raise LocalError(
                "discovery is off, so token_endpoint must be set",
                code="invalid_argument",
            )

    @property
    def auth_method(self) -> str:
        if self.token_endpoint_auth_method:
            return self.token_endpoint_auth_method
        if self.client_assertion_key and not self.client_secret:
            return "private_key_jwt"
        return "client_secret_basic"

    def settings(self) -> dict[str, Any]:
        """What the store keeps about this client: everything but the secret."""
        settings: dict[str, Any] = {
            "issuer": normalize_issuer(self.issuer),
            "client_id": self.client_id,
            "grant_type": GRANT_TYPE,
            "token_endpoint_auth_method": self.auth_method,
            "store": "file",  # no refresh token to put in a keyring
        }
        optional = {
            "client_assertion_key": self.client_assertion_key,
            "client_assertion_kid": self.client_assertion_kid,
            "scope": self.scope,
            "audience": self.audience,
            "params": dict(self.extra_params) or None,
            "token_endpoint": self.token_endpoint,
            "revocation_endpoint": self.revocation_endpoint,
            "discovery": False if not self.discovery else None,
            "scope_separator": self.scope_separator
            if self.scope_separator != " "
            else None,
            "ca_file": self.ca_file,
        }
        settings.update({k: v for k, v in optional.items() if v is not None})
        return settings


def client_authentication(
    settings: Mapping[str, Any], endpoint: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Body fields and headers that authenticate the client at ``endpoint``.

    ``settings`` names ``client_id``, ``token_endpoint_auth_method`` and
    ``client_secret`` or ``client_assertion_key`` (and ``_kid``), as a
    profile does. A ``private_key_jwt`` assertion is made for ``endpoint``.
    """
    client_id = str(settings["client_id"])
    method = settings.get("token_endpoint_auth_method") or "none"
    if method == "private_key_jwt":
        from .client_assertion import assertion_fields, load_signing_key

        path = settings.get("client_assertion_key")
        if not isinstance(path, str) or not path:
            raise LocalError(
                "private_key_jwt needs client_assertion_key", code="invalid_argument"
            )
        kid = settings.get("client_assertion_kid")
        key = load_signing_key(path)
        return assertion_fields(client_id, endpoint, key, kid=kid or None), {}
    secret = settings.get("client_secret")
    if method in _SECRET_METHODS and not secret:
        raise LocalError(
            f"{method} needs a client secret: set OAUTHCLI_CLIENT_SECRET, or "
            "client_secret in the profile",
            code="invalid_argument",
        )
    return client_auth(client_id, secret, method)


def _auth_settings(credentials: ClientCredentials) -> dict[str, Any]:
    return {
        **credentials.settings(),
        "client_secret": credentials.client_secret,
    }


def grant_request(
    credentials: ClientCredentials, token_endpoint: str
) -> tuple[dict[str, str], dict[str, str]]:
    """The form and headers of one grant (RFC 6749 section 4.4.2)."""
    body, headers = client_authentication(_auth_settings(credentials), token_endpoint)
    form = {"grant_type": GRANT_TYPE}
    if credentials.scope:
        form["scope"] = credentials.scope
    if credentials.audience:
        form["audience"] = credentials.audience
    for name, value in credentials.extra_params.items():
        if name in form or name in body:
            raise LocalError(
                f"parameter {name!r} is set by oauthcli and cannot be overridden",
                code="invalid_argument",
            )
        form[name] = value
    return {**form, **body}, headers


def parse_grant_response(
    response: Response, credentials: ClientCredentials, *, now: float | None = None
) -> TokenSet:
    """The checked access token of a grant's answer (RFC 6749 section 4.4.3).

    A refresh token should not come; one that does is not kept, since the
    renewal is a new grant and nothing should outlive the profile's entry.
    """
    tokens = parse_token_response(
        response,
        requested_scope=credentials.scope,
        scope_separator=credentials.scope_separator,
        now=now,
    )
    return replace(tokens, refresh_token=None, id_token=None)


def _metadata(http: HTTP, credentials: ClientCredentials) -> ProviderMetadata:
    from .discovery import ProviderMetadata, discover

    c = credentials
    issuer = normalize_issuer(c.issuer)
    if not c.discovery:
        revocation = c.revocation_endpoint
        return ProviderMetadata(
            issuer=issuer,
            authorization_endpoint="",  # no user, no authorization request
            token_endpoint=check_endpoint_url(c.token_endpoint, "token_endpoint"),
            revocation_endpoint=check_endpoint_url(revocation, "revocation_endpoint")
            if revocation
            else None,
            from_discovery=False,
        )
    overrides = {
        "token_endpoint": c.token_endpoint,
        "revocation_endpoint": c.revocation_endpoint,
    }
    return discover(http, issuer, overrides=overrides, need_jwks=False)


def fetch_token(
    credentials: ClientCredentials, *, http: HTTP | None = None
) -> tuple[TokenSet, ProviderMetadata]:
    """Find the token endpoint and make one grant; nothing is stored."""
    from .transport import HTTP

    own = http is None
    client = http or HTTP(timeout=credentials.http_timeout, ca_file=credentials.ca_file)
    try:
        metadata = _metadata(client, credentials)
        form, headers = grant_request(credentials, metadata.token_endpoint)
        log.info(
            "asking %s for a client credentials token (%s)",
            metadata.token_endpoint,
            credentials.auth_method,
        )
        response = client.post_form(
            metadata.token_endpoint, form, what="token endpoint", headers=headers
        )
        return parse_grant_response(response, credentials), metadata
    finally:
        if own:
            client.close()


# Which profiles are machines, and their settings.


def is_client_credentials(entry: Mapping[str, Any] | None) -> bool:
    """Whether a store entry holds a client credentials token."""
    settings = (entry or {}).get("settings") or {}
    return isinstance(settings, Mapping) and settings.get("grant_type") == GRANT_TYPE


def configured(profile: str, flags: Mapping[str, Any] | None = None) -> bool:
    """Whether the profile's options (flags, environment, file) ask for this grant."""
    from .config import resolve_login_options

    values = resolve_login_options(profile, flags or {}).values
    return values.get("grant_type") == GRANT_TYPE


def _stored_settings(profile: str) -> dict[str, Any]:
    try:
        entry = read_entry(profile)
    except StoreDamaged:
        return {}
    if entry is None or not is_client_credentials(entry):
        return {}
    return dict(entry["settings"])


def resolve(
    profile: str,
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> ClientCredentials:
    """The profile's client, from flags, ``OAUTHCLI_*``, config.toml and preset.

    When those name no issuer or client, the profile's last grant fills the
    gaps (``oauthcli login --issuer ... --client-id ...`` once, then
    ``oauthcli token``); the secret never comes from there.
    """
    from .config import resolve_login_options

    values = dict(resolve_login_options(profile, flags or {}, environ).values)
    if values.get("device"):
        raise LocalError(
            "device is set, but the device flow logs a user in; this profile's "
            "grant_type is client_credentials",
            code="invalid_argument",
        )
    if values.get("dpop"):
        raise LocalError(
            "dpop is set, but DPoP-bound client credentials tokens are not "
            "supported yet",
            code="invalid_argument",
        )
    stored: dict[str, Any] = {}
    if not values.get("issuer") or not values.get("client_id"):
        stored = _stored_settings(profile)

    def pick(key: str, stored_key: str | None = None) -> Any:
        return values.get(key, stored.get(stored_key or key))

    issuer, client_id = pick("issuer"), pick("client_id")
    if not issuer or not client_id:
        raise LocalError(
            f"profile {profile!r} has grant_type client_credentials but no issuer "
            "and client_id: set them in config.toml or OAUTHCLI_ISSUER and "
            "OAUTHCLI_CLIENT_ID",
            code="invalid_argument",
        )
    return ClientCredentials(
        issuer=str(issuer),
        client_id=str(client_id),
        client_secret=values.get("client_secret"),
        token_endpoint_auth_method=pick("token_endpoint_auth_method"),
        client_assertion_key=pick("client_assertion_key"),
        client_assertion_kid=pick("client_assertion_kid"),
        scope=pick("scope"),
        audience=pick("audience"),
        extra_params=dict(pick("param", "params") or {}),
        token_endpoint=pick("token_endpoint"),
        revocation_endpoint=pick("revocation_endpoint"),
        discovery=pick("discovery") is not False,
        scope_separator=pick("scope_separator") or " ",
        ca_file=pick("ca_file"),
    )


def with_client_secret(profile: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """A stored entry's settings with the secret from the profile's options.

    For a revocation at logout; when the options cannot be read, the
    settings come back as they were (the revocation then says what is
    missing).
    """
    from .errors import OAuthCLIError

    try:
        current = resolve(profile)
    except OAuthCLIError as exc:
        log.debug("no client secret for the stored client: %s", exc.code)
        return dict(settings)
    # A secret only ever goes to its own client at its own issuer: when the
    # options now name another one, the stored token's client gets none.
    same_client = current.client_id == settings.get("client_id") and (
        current.issuer.rstrip("/") == str(settings.get("issuer") or "").rstrip("/")
    )
    if not same_client:
        log.info(
            "the profile's options now name another issuer or client than the "
            "stored token's; its client secret is not sent for the stored one"
        )
        return dict(settings)
    secret = current.client_secret
    return {**settings, "client_secret": secret} if secret else dict(settings)


# The stored token: handed out while fresh, replaced by one grant when not.


def _current(profile: str) -> tuple[dict[str, Any] | None, TokenSet | None]:
    """The entry and its token, if it is a client credentials entry."""
    try:
        entry = read_entry(profile)
    except StoreDamaged:
        set_aside(profile)  # replaced by the next grant; kept for inspection
        return None, None
    if not is_client_credentials(entry):
        return entry, None
    assert entry is not None
    try:
        return entry, TokenSet.from_dict(entry["tokens"])
    except ValueError:
        return entry, None


def get_token_set(
    profile: str,
    *,
    min_ttl: float = 60.0,
    rejected: str | None = None,
    force: bool = False,
    credentials: ClientCredentials | None = None,
) -> TokenSet:
    """The profile's stored token while fresh, else one new grant, stored.

    ``rejected`` is a token a resource server refused: a new one is fetched
    unless another process already replaced it. ``force`` always makes a
    new grant (``oauthcli login``). ``credentials`` defaults to
    ``resolve(profile)``, read only when a grant is needed.
    """
    entry, tokens = _current(profile)
    usable = not force and rejected is None and tokens is not None
    if usable and fresh_access_token(entry, min_ttl):
        assert tokens is not None
        return tokens
    seen = rejected or (tokens.access_token if tokens is not None else None)

    with profile_lock(profile):
        entry, tokens = _current(profile)
        if not force and tokens is not None:
            if tokens.access_token != seen and fresh_access_token(entry, 0):
                log.info("another process got a token meanwhile; using it")
                return tokens
            if rejected is None and fresh_access_token(entry, min_ttl):
                return tokens
        credentials = credentials or resolve(profile)
        fresh, metadata = fetch_token(credentials)
        _store(profile, credentials, metadata, fresh, entry)
        return fresh


def _store(
    profile: str,
    credentials: ClientCredentials,
    metadata: ProviderMetadata,
    tokens: TokenSet,
    previous: Mapping[str, Any] | None,
) -> None:
    """Write the entry (the profile's lock is held)."""
    if previous is not None and not is_client_credentials(previous):
        from .keychain import forget_refresh_token

        forget_refresh_token(profile, previous)  # a user login this replaces
    client_id = credentials.client_id
    try:
        path = write_entry(
            profile,
            {
                "profile": profile,
                "settings": credentials.settings(),
                "provider": metadata.to_dict(),
                # RFC 9068 section 2.2: without a user, the client is the subject.
                "account": {"sub": client_id, "name": f"client {client_id}"},
                "tokens": tokens.to_dict(),
                "saved_at": time.time(),
            },
        )
    except OSError as exc:
        raise LocalError(
            f"got a token, but it could not be stored: {exc.strerror}",
            code="store_failed",
        ) from exc
    log.info("stored the client credentials token in %s", path)
