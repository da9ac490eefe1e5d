"""Token exchange (RFC 8693): trade the login's token for one for another audience.

A CLI often needs a token for a service other than the one its login was
issued for; the Latch CLI, for one, swapped its ID token for a platform token
by hand after each login. RFC 8693 is the standard form of that swap: the
client sends ``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``
with the ``subject_token`` and its ``subject_token_type``, and says what it
wants (``audience``, ``resource``, ``scope``, ``requested_token_type``,
section 2.1). The answer is a token response that also names the
``issued_token_type`` (section 2.2.1); errors are RFC 6749 errors, with
``invalid_target`` for an audience the provider will not serve (2.2.2).

The client authenticates as the profile's client does at the token
endpoint. The exchanged token is not stored: it is printed or handed back.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._log import log
from .errors import EndpointError, LocalError, LoginRequired, ValidationError
from .tokens import (
    _expires_in,
    _optional_string,
    _scope,
    normalize_scope,
    raise_for_error_response,
)
from .urls import check_endpoint_url

if TYPE_CHECKING:
    from .constants import OAuth2Constants
    from .discovery import ProviderMetadata
    from .tokens import TokenSet
    from .transport import HTTP, Response

__all__ = [
    "GRANT_TYPE",
    "SUBJECT_TOKEN_TYPES",
    "TOKEN_TYPES",
    "ExchangedToken",
    "TokenExchange",
    "exchange_after_login",
    "exchange_request",
    "exchange_token",
    "parse_exchange_response",
    "token_type_uri",
]

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
_PREFIX = "urn:ietf:params:oauth:token-type:"
# RFC 8693 section 3, by the short names the CLI takes.
TOKEN_TYPES = {
    name: _PREFIX + name
    for name in ("access_token", "refresh_token", "id_token", "jwt", "saml1", "saml2")
}
# What a login holds and can hand over.
SUBJECT_TOKEN_TYPES = ("access_token", "id_token")
NOT_APPLICABLE = "N_A"  # token_type of an issued token that is no access token
ID_TOKEN_MARGIN = 30.0  # seconds an ID token must still be valid to be sent


def token_type_uri(name: str) -> str:
    """``access_token`` as its URN; a URI (``urn:...``, ``https://...``) as is."""
    if name in TOKEN_TYPES:
        return TOKEN_TYPES[name]
    if ":" in name and all("!" <= ch <= "~" for ch in name):
        return name
    raise LocalError(
        f"token type {name!r} is not one of {', '.join(TOKEN_TYPES)} or a URI",
        code="invalid_argument",
    )


def _short(uri: str) -> str:
    return uri.removeprefix(_PREFIX) if uri in TOKEN_TYPES.values() else uri


@dataclass(frozen=True)
class TokenExchange:
    """What to ask for in exchange for the login's token (RFC 8693 section 2.1).

    ``subject_token_type`` says which of the login's tokens is traded:
    ``access_token`` (refreshed first when needed) or ``id_token``.
    ``requested_token_type`` and the token types take the short names of
    ``TOKEN_TYPES`` or a full URI. ``resource`` is an absolute URI
    (RFC 8707); ``audience`` is any name the provider knows.
    """

    audience: str | None = None
    resource: str | None = None
    scope: str | None = None
    requested_token_type: str | None = None
    subject_token_type: str = "access_token"

    def __post_init__(self) -> None:
        if self.subject_token_type not in SUBJECT_TOKEN_TYPES:
            raise LocalError(
                f"subject_token_type must be one of {', '.join(SUBJECT_TOKEN_TYPES)}",
                code="invalid_argument",
            )
        if self.requested_token_type is not None:
            token_type_uri(self.requested_token_type)
        if self.resource is not None:
            from urllib.parse import urlsplit

            try:
                parts = urlsplit(self.resource)
            except ValueError:  # e.g. an unclosed IPv6 bracket
                parts = urlsplit("")
            if not parts.scheme or parts.fragment or "#" in self.resource:
                raise LocalError(
                    "resource must be an absolute URI without a fragment "
                    "(RFC 8707 section 2)",
                    code="invalid_argument",
                )
        for name in ("audience", "scope"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise LocalError(f"{name} must not be empty", code="invalid_argument")


@dataclass(frozen=True)
class ExchangedToken:
    """The issued token; ``repr`` never shows it.

    ``access_token`` holds the issued token whatever its type (RFC 8693
    names the member so); ``token_type`` is ``Bearer``, or ``N_A`` when it
    is not an access token. ``expires_at`` is None when the lifetime is
    unknown.
    """

    access_token: str = field(repr=False)
    issued_token_type: str
    token_type: str = "Bearer"
    expires_at: float | None = None
    scope: str | None = None
    refresh_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return (
            f"ExchangedToken(access_token=[redacted], "
            f"issued_token_type={self.issued_token_type!r}, "
            f"token_type={self.token_type!r}, expires_at={self.expires_at!r}, "
            f"scope={self.scope!r}, "
            f"refresh_token={'[redacted]' if self.refresh_token else None})"
        )

    @property
    def issued_token_type_name(self) -> str:
        """``access_token`` for the RFC 8693 URN; other URIs as they are."""
        return _short(self.issued_token_type)


def exchange_request(subject_token: str, exchange: TokenExchange) -> dict[str, str]:
    """The form of a token exchange request, without client authentication."""
    form = {
        "grant_type": GRANT_TYPE,
        "subject_token": subject_token,
        "subject_token_type": TOKEN_TYPES[exchange.subject_token_type],
    }
    if exchange.requested_token_type:
        form["requested_token_type"] = token_type_uri(exchange.requested_token_type)
    for name in ("audience", "resource", "scope"):
        value = getattr(exchange, name)
        if value:
            form[name] = value
    return form


def _invalid(message: str) -> ValidationError:
    return ValidationError(message, code="invalid_token_response")


def parse_exchange_response(
    response: Response,
    exchange: TokenExchange,
    *,
    now: float | None = None,
    scope_separator: str = " ",
) -> ExchangedToken:
    """Check a token exchange answer (RFC 8693 section 2.2) and return its token."""
    raise_for_error_response(response, "token endpoint")
    doc = response.json("the token exchange response")
    received = time.time() if now is None else now

    access_token = _optional_string(doc, "access_token")
    if access_token is None:
        raise _invalid("the token exchange response has no access_token")

    issued = doc.get("issued_token_type")
    if not isinstance(issued, str) or not issued:
        raise _invalid(
            "the token exchange response has no issued_token_type "
            "(RFC 8693 section 2.2.1); the token is not used"
        )
    if ":" not in issued or not all("!" <= ch <= "~" for ch in issued):
        raise _invalid("the token exchange response's issued_token_type is no URI")
    wanted = exchange.requested_token_type
    if wanted is not None and issued != token_type_uri(wanted):
        raise _invalid(
            f"the provider issued a {_short(issued)} although "
            f"{_short(token_type_uri(wanted))} was requested; the token is not used"
        )

    raw_type = doc.get("token_type")
    if not isinstance(raw_type, str) or not raw_type:
        raise _invalid(
            "the token exchange response has no token_type (RFC 8693 section 2.2.1)"
        )
    if raw_type.lower() == "bearer":
        token_type = "Bearer"
    elif raw_type.upper() == NOT_APPLICABLE:
        if issued == TOKEN_TYPES["access_token"]:
            raise _invalid(
                "the provider issued an access token with token_type N_A, which "
                "only a token that is no access token may have"
            )
        token_type = NOT_APPLICABLE
    else:
        raise _invalid(
            "the token exchange response's token_type is not Bearer or N_A; "
            "the token is not used (RFC 6749 section 7.1)"
        )

    lifetime = _expires_in(doc.get("expires_in"))
    scope = _scope(doc, "the token exchange response")
    return ExchangedToken(
        access_token=access_token,
        issued_token_type=issued,
        token_type=token_type,
        expires_at=None if lifetime is None else received + lifetime,
        # Section 2.2.1: no scope means the one requested.
        scope=normalize_scope(scope, scope_separator) if scope else exchange.scope,
        refresh_token=_optional_string(doc, "refresh_token"),
    )


def _send(
    http: HTTP,
    token_endpoint: str,
    subject_token: str,
    exchange: TokenExchange,
    auth: tuple[dict[str, str], dict[str, str]],
    scope_separator: str = " ",
) -> ExchangedToken:
    body, headers = auth
    form = {**exchange_request(subject_token, exchange), **body}
    log.info(
        "exchanging the %s at %s (RFC 8693)",
        exchange.subject_token_type.replace("_", " "),
        token_endpoint,
    )
    response = http.post_form(
        token_endpoint, form, what="token endpoint", headers=headers
    )
    try:
        return parse_exchange_response(
            response, exchange, scope_separator=scope_separator
        )
    except EndpointError as exc:
        hint = {
            "unsupported_grant_type": "the provider does not offer token exchange "
            "(RFC 8693) to this client",
            "invalid_target": "the provider will not issue a token for the "
            "audience or resource asked for",
        }.get(exc.error)
        if hint:
            exc.args = (f"{exc.message} ({hint})",)
        raise


def _subject(tokens: TokenSet, exchange: TokenExchange) -> str:
    if tokens.token_type != "Bearer":
        raise ValidationError(
            f"the login's tokens are {tokens.token_type}-bound; exchanging them "
            "is not supported yet",
            code="unsupported",
        )
    if exchange.subject_token_type == "access_token":
        return tokens.access_token
    if tokens.id_token is None:
        raise LocalError(
            "the login has no ID token to exchange (was openid in the scope?); "
            "use subject_token_type access_token",
            code="invalid_argument",
        )
    return tokens.id_token


def exchange_after_login(
    constants: OAuth2Constants,
    metadata: ProviderMetadata,
    tokens: TokenSet,
    exchange: TokenExchange,
    *,
    http: HTTP | None = None,
) -> ExchangedToken:
    """The exchange ``login(exchange=...)`` runs with the new login's tokens."""
    from .tokens import client_auth
    from .transport import HTTP

    c = constants
    auth = client_auth(c.client_id, c.client_secret, c.auth_method)
    subject = _subject(tokens, exchange)
    client = http or HTTP(timeout=c.http_timeout, ca_file=c.ca_file)
    try:
        return _send(
            client, metadata.token_endpoint, subject, exchange, auth, c.scope_separator
        )
    finally:
        if http is None:
            client.close()


def _id_token_expired(id_token: str | None) -> bool:
    from .userinfo import id_token_claims

    exp = id_token_claims(id_token).get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return False  # validated at login; the provider has the last word
    return exp - time.time() <= ID_TOKEN_MARGIN


def _fresh_login_tokens(
    profile: str, exchange: TokenExchange, min_ttl: float
) -> TokenSet:
    """The login's tokens, refreshed when the one to trade is about to expire."""
    from .refresh import get_token_set

    tokens = get_token_set(profile, min_ttl=min_ttl)
    if exchange.subject_token_type != "id_token" or not _id_token_expired(
        tokens.id_token
    ):
        return tokens
    # A refresh brings a new ID token; "rejected" makes it happen now.
    tokens = get_token_set(profile, min_ttl=min_ttl, rejected=tokens.access_token)
    if _id_token_expired(tokens.id_token):
        from .config import login_hint

        raise LoginRequired(
            f"the ID token of profile {profile!r} has expired and a refresh brought "
            f"no new one; log in again: {login_hint(profile)}"
        )
    return tokens


def _client_settings(profile: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The profile's client as stored; a machine's secret from its options."""
    from .client_credentials import is_client_credentials, with_client_secret

    settings = dict(entry.get("settings") or {})
    if is_client_credentials(entry):
        settings = with_client_secret(profile, settings)
    return settings


def exchange_token(
    exchange: TokenExchange,
    profile: str | None = None,
    *,
    min_ttl: float = 60.0,
) -> ExchangedToken:
    """Trade the profile's token for the one ``exchange`` describes.

    The subject token comes from the store (an access token is refreshed
    first when it expires within ``min_ttl``); the client authenticates as
    at login. Raises LoginRequired when the profile is not logged in, and
    EndpointError with the provider's RFC error when it refuses.
    """
    from .client_credentials import client_authentication
    from .config import resolve_profile_name
    from .refresh import stored_login
    from .transport import HTTP

    profile = profile or resolve_profile_name(None)
    tokens = _fresh_login_tokens(profile, exchange, min_ttl)
    subject = _subject(tokens, exchange)
    entry = stored_login(profile)
    settings = _client_settings(profile, entry)
    provider = entry.get("provider") or {}
    endpoint = check_endpoint_url(provider.get("token_endpoint"), "token_endpoint")
    auth = client_authentication(settings, endpoint)
    with HTTP(ca_file=settings.get("ca_file")) as http:
        return _send(
            http,
            endpoint,
            subject,
            exchange,
            auth,
            settings.get("scope_separator") or " ",
        )
