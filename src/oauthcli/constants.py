"""Settings that identify a client at one provider (the seed's OAuth2Constants)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

from .errors import LocalError
from .urls import is_loopback_host, normalize_issuer

__all__ = [
    "DEFAULT_SCOPE",
    "ENDPOINT_FIELDS",
    "SCOPE_SEPARATORS",
    "OAuth2Constants",
    "RedirectSpec",
    "check_extra_params",
    "parse_ports",
]

DEFAULT_SCOPE = "openid profile email"
# The endpoints that may be given explicitly; named as in the metadata.
ENDPOINT_FIELDS = (
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "device_authorization_endpoint",
    "userinfo_endpoint",
    "revocation_endpoint",
)
SCOPE_SEPARATORS = (" ", ",")
# Browsers send these path characters as they are; '%' and friends may be
# re-encoded on the way, and then the listener would never see its path.
_PATH_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/"
)


@dataclass(frozen=True)
class RedirectSpec:
    """Where the loopback listener binds and what ``redirect_uri`` it sends.

    ``ports`` empty means an ephemeral port chosen by the OS (RFC 8252 section
    7.3); otherwise the ports are tried in order.
    """

    host: str  # as written in the redirect_uri: 127.0.0.1, localhost or [::1]
    path: str
    ports: tuple[int, ...]

    @property
    def bind_addresses(self) -> tuple[str, ...]:
        """The loopback addresses to listen on, all on one port; never a wildcard.

        ``localhost`` gets both families: a browser may resolve it to either.
        """
        if self.host == "[::1]":
            return ("::1",)
        if self.host == "localhost":
            return ("127.0.0.1", "::1")
        return ("127.0.0.1",)

    def uri(self, port: int) -> str:
        return f"http://{self.host}:{port}{self.path}"


def parse_ports(text: str) -> tuple[int, ...]:
    """``"8020"``, ``"8020-8040"`` or ``"8020,8022"`` as a tuple of ports."""
    ports: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            first, last = int(low), int(high or low)
            if not 1 <= first <= last <= 65535 or last - first > 1000:
                raise ValueError
            ports.extend(range(first, last + 1))
    except ValueError as exc:
        raise LocalError(
            f"invalid port {text!r}: use N, A-B or A,B with 1 <= N <= 65535",
            code="invalid_argument",
        ) from exc
    return tuple(dict.fromkeys(ports))


def _valid_ports(ports: object) -> tuple[int, ...]:
    """``redirect_ports`` as a tuple of ports 1-65535, or an error naming it."""
    checked: tuple[object, ...] | None = None
    if isinstance(ports, Iterable) and not isinstance(ports, (str, bytes)):
        checked = tuple(ports)
    if checked is None or not all(
        type(port) is int and 1 <= port <= 65535 for port in checked
    ):
        raise LocalError(
            f"redirect_ports {ports!r} must be port numbers from 1 to 65535 (a "
            "list or range of ints; parse_ports reads 'A-B' or 'A,B')",
            code="invalid_argument",
        )
    return cast("tuple[int, ...]", checked)


def check_extra_params(params: Mapping[str, str]) -> None:
    """Refuse extra authorization parameters that cannot be sent or checked,
    before any request: names and values must be strings, and ``max_age``
    whole seconds (the ID token's ``auth_time`` is checked against it)."""
    if not isinstance(params, Mapping):
        raise LocalError(
            f"extra parameters must be a mapping of names to values, not "
            f"{type(params).__name__}",
            code="invalid_argument",
        )
    for name, value in params.items():
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise LocalError(
                f"extra parameter {name!r}: names and values must be strings",
                code="invalid_argument",
            )
    max_age = params.get("max_age")
    if max_age is not None and not (max_age.isascii() and max_age.isdigit()):
        raise LocalError(
            f"the max_age parameter {max_age!r} must be whole seconds (e.g. 300)",
            code="invalid_argument",
        )


@dataclass(frozen=True)
class OAuth2Constants:
    """What identifies the client and the provider; no per-login secrets.

    ``authz_server_host`` is the issuer (a bare host means ``https://``).
    ``redirect_url`` is a loopback URL; without a port, or with port 0, the
    listener takes an ephemeral port. ``redirect_ports`` (a list or range)
    overrides the port for providers that allow-list fixed ports.

    The endpoint fields, when set, win over discovery. ``discovery=False``
    fetches no metadata document at all (GitHub publishes none): then
    ``authorization_endpoint`` and ``token_endpoint`` are required, and
    ``jwks_uri`` too when ``openid`` is requested.

    Provider quirks, all off by default:

    - ``id_token_issuers``: more ``iss`` values an ID token may carry besides
      the issuer, compared as exact strings (Google signs some ID tokens with
      ``accounts.google.com``, without ``https://``). The issuer in the
      metadata must still be the configured one.
    - ``scope_separator``: ``","`` splits the granted ``scope`` of token
      responses on commas, as GitHub sends it (``repo,gist``); it is stored
      space-separated. By default a comma is part of a scope token (RFC 6749
      section 3.3). Requests always send scopes space-separated.

    ``dpop=True`` asks for DPoP-bound tokens (RFC 9449; see ``dpop``);
    ``par=True`` pushes the authorization request (RFC 9126; see ``par``)
    even when the provider does not require it.
    """

    client_id: str
    authz_server_host: str
    redirect_url: str = "http://127.0.0.1/callback"
    scope: str = DEFAULT_SCOPE
    audience: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    token_endpoint_auth_method: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    jwks_uri: str | None = None
    device_authorization_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    revocation_endpoint: str | None = None
    discovery: bool = True
    id_token_issuers: tuple[str, ...] = ()
    scope_separator: str = " "
    extra_params: Mapping[str, str] = field(default_factory=dict)
    redirect_ports: tuple[int, ...] = ()
    required_scopes: tuple[str, ...] = ()
    login_timeout: float = 300.0
    http_timeout: float = 10.0
    leeway: int = 60
    ca_file: str | None = None
    dpop: bool = False
    par: bool = False

    def __post_init__(self) -> None:
        if not self.client_id:
            raise LocalError("client_id is empty", code="invalid_argument")
        object.__setattr__(self, "redirect_ports", _valid_ports(self.redirect_ports))
        self.redirect_spec()  # fail early on a redirect oauthcli cannot serve
        check_extra_params(self.extra_params)
        # A copy of its own: the caller's dict changed later is not sent.
        object.__setattr__(self, "extra_params", dict(self.extra_params))
        method = self.token_endpoint_auth_method
        if method not in (None, "none", "client_secret_basic", "client_secret_post"):
            raise LocalError(
                f"token_endpoint_auth_method {method!r} is not supported",
                code="invalid_argument",
            )
        if method in ("client_secret_basic", "client_secret_post") and not (
            self.client_secret
        ):
            raise LocalError(f"{method} needs a client secret", code="invalid_argument")
        if self.scope_separator not in SCOPE_SEPARATORS:
            raise LocalError(
                f"scope_separator {self.scope_separator!r} is not a space or a comma",
                code="invalid_argument",
            )
        if not all(isinstance(iss, str) and iss for iss in self.id_token_issuers):
            raise LocalError(
                "id_token_issuers must be non-empty strings", code="invalid_argument"
            )
        if not self.discovery:
            needed = ["authorization_endpoint", "token_endpoint"]
            if self.wants_openid:
                needed.append("jwks_uri")
            missing = [name for name in needed if not getattr(self, name)]
            if missing:
                raise LocalError(
                    f"discovery is off, so {' and '.join(missing)} must be set",
                    code="invalid_argument",
                )

    @property
    def issuer(self) -> str:
        return normalize_issuer(self.authz_server_host)

    @property
    def auth_method(self) -> str:
        """``none`` for public clients, ``client_secret_basic`` with a secret."""
        if self.token_endpoint_auth_method:
            return self.token_endpoint_auth_method
        return "client_secret_basic" if self.client_secret else "none"

    @property
    def wants_openid(self) -> bool:
        return "openid" in self.scope.split()

    @property
    def endpoint_overrides(self) -> dict[str, str | None]:
        """The explicit endpoints, by their metadata names (unset ones are None)."""
        return {name: getattr(self, name) for name in ENDPOINT_FIELDS}

    def redirect_spec(self) -> RedirectSpec:
        """Check ``redirect_url`` and split it into host, path and ports."""
        try:
            parts = urlsplit(self.redirect_url)
            port = parts.port
        except ValueError as exc:
            raise LocalError(
                f"redirect_url {self.redirect_url!r} is not a URL",
                code="invalid_argument",
            ) from exc
        host = parts.hostname or ""
        if parts.scheme != "http" or not is_loopback_host(host):
            raise LocalError(
                "redirect_url must be http:// on 127.0.0.1, localhost or [::1] "
                "(RFC 8252 section 7.3)",
                code="invalid_argument",
            )
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise LocalError(
                "redirect_url host must be 127.0.0.1, localhost or [::1]",
                code="invalid_argument",
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise LocalError(
                "redirect_url must not have a query, fragment or credentials",
                code="invalid_argument",
            )
        path = parts.path or "/"
        segments = path.split("/")[1:]
        if (
            not path.startswith("/")
            or "//" in path
            or any(segment in (".", "..") for segment in segments)
            or not all(ch in _PATH_CHARS for ch in path)
        ):
            raise LocalError(
                f"redirect path {path!r} would not reach the listener unchanged: use "
                "/ and letters, digits and -._~ only, without '//', '.' or '..'",
                code="invalid_argument",
            )
        shown_host = "[::1]" if host == "::1" else host
        if self.redirect_ports:
            ports = self.redirect_ports
        elif port:
            ports = (port,)
        else:
            ports = ()
        return RedirectSpec(host=shown_host, path=path, ports=ports)
