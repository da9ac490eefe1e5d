"""A malicious OpenID provider and a scripted user, for the hostile-provider tests.

``EvilProvider`` is a small but real OpenID provider in this process
(``ThreadingHTTPServer`` on 127.0.0.1 or ::1, port 0, optionally TLS):
discovery (OIDC and RFC 8414 paths), JWKS at a path that differs per run,
``/authorize`` (auto-approves and answers 303 to the ``redirect_uri`` with
``code``, ``state`` and ``iss``), ``/token`` (codes bound to the client,
``redirect_uri`` and ``code_challenge`` of their authorization request; PKCE
S256 checked; refresh tokens rotated; device codes), ``/userinfo``,
``/revoke`` and ``/device_authorization``; ``/par`` (RFC 9126: 201 with a
one-time ``request_uri`` that ``/authorize`` resolves) and DPoP (RFC 9449):
a ``DPoP`` proof at ``/par`` or ``/token`` is checked (``typ``, ES256,
``jwk``, signature, ``htm``, ``htu``, ``iat``, ``jti`` once) and binds the
code, the access and the refresh token to its key (``token_type`` DPoP);
``/resource`` is a resource server that takes Bearer tokens, and DPoP-bound
ones only as ``DPoP`` with a proof whose ``ath`` matches. Keys (RSA and EC)
are generated once per test run with ``cryptography``; ID tokens are signed
with PyJWT.

``EvilProvider(mode="github")`` behaves as GitHub's OAuth apps do instead:
no discovery document, JWKS, userinfo or revocation endpoint (404); GitHub's
paths (``/login/oauth/authorize``, ``/login/oauth/access_token``,
``/login/device/code``); no ``iss`` on the redirect; token and device
answers form-encoded unless the request accepts ``application/json``
(``form_encoded=True`` answers so anyway, as when a proxy drops the
``Accept`` header); every error with HTTP 200 and GitHub's codes
(``incorrect_client_credentials``, ``bad_verification_code``,
``incorrect_device_code``); tokens with ``token_type`` ``bearer``, the
granted scope comma-separated, no ``expires_in``, no refresh token and no ID
token; device codes with ``interval`` 5 and no ``verification_uri_complete``.
``/api/user`` stands for its REST API: 401 without a challenge for a token it
does not know (``forget_tokens()`` revokes them all).

It is honest until a test switches one misbehaviour on, through attributes:

- ``metadata_overrides``, ``token_overrides``, ``id_token_claims``,
  ``id_token_header``, ``redirect_overrides``, ``userinfo_overrides``: merged
  into what it would send; the value ``DELETE`` removes a member, a ``Raw``
  value is written into the JSON verbatim (``NaN``);
- ``id_token_signer`` (another key), ``id_token_mangle`` (edit the compact
  token), ``before_sign`` (runs just before an ID token is signed);
- ``keys`` (the published signing keys) or ``jwks_override`` (raw JWKs);
- ``canned[endpoint]``: a whole answer (status, headers, body, delay,
  trickle, a body repeated many times) instead of the real one;
- ``forward_authorize``: answer ``/authorize`` with a 303 elsewhere;
- ``device_answers``: the errors (``authorization_pending``, ``slow_down``,
  ``access_denied``...) that polls of a device code get, in order, before the
  user approves;
- ``par_status`` and ``par_overrides``: the PAR answer's status and members;
- ``dpop_nonce`` (``/par`` and ``/token``) and ``resource_nonce``
  (``/resource``): ``"never"`` sends no nonce, ``"once"`` asks a proof
  without a nonce for one (``use_dpop_nonce``), ``"always"`` asks every
  proof for a new one; ``resource_scheme`` spells the resource's challenge
  scheme (``dpop``, ``DPOP``); ``dpop_token_type`` is the ``token_type`` of
  a DPoP-bound token (``Bearer`` answers a DPoP request with a bearer one).

Every request is logged (``log``): method, path, endpoint name, query, form
and headers, values included (tests look for secrets in them).

``ScriptedUser`` replaces the browser: used as ``opener=`` in the library, or
as ``BROWSER`` (``python evilprovider.py user PLAN.json %s``) for the CLI.
It GETs the authorization URL without following redirects, walks the 30x
answers until one points at the loopback ``redirect_uri``, applies its
``Plan`` (drop, set, add or duplicate parameters, swap in another session's
code, forge whole callbacks, change the ``Host``), and GETs the callback(s)
from a daemon thread, recording each answer.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json
import os
import secrets
import shlex
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import (
    parse_qsl,
    unquote,
    unquote_plus,
    urlencode,
    urljoin,
    urlsplit,
)

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

__all__ = [
    "DELETE",
    "EVIL_PROVIDER",
    "Answer",
    "Canned",
    "EvilProvider",
    "Logged",
    "Plan",
    "Raw",
    "ScriptedUser",
    "SigningKey",
    "b64url",
    "b64url_decode",
    "cli_browser",
    "half_hash",
    "iter_lines",
    "new_key",
    "s256",
    "token_parts",
    "unsigned_token",
]

EVIL_PROVIDER: Final = Path(__file__).resolve()
DEVICE_CODE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"
FORM_ENCODED: Final = "application/x-www-form-urlencoded; charset=utf-8"
CLIENT_ID: Final = "evil-cli"
SUBJECT: Final = "alice"
EMAIL: Final = "alice@evil.test"
MAX_REQUEST_BODY: Final = 64 * 1024


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


DELETE: Final = _Delete()


class Raw(str):
    """A JSON value written verbatim (``Raw("NaN")``, ``Raw("1e308")``)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """Header, claims and signature bytes of a compact JWS."""
    header, payload, signature = token.split(".")
    return (
        json.loads(b64url_decode(header)),
        json.loads(b64url_decode(payload)),
        b64url_decode(signature),
    )


def _merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if value is DELETE:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def dump_json(document: Mapping[str, Any]) -> bytes:
    """JSON with ``Raw`` members inserted as written."""
    raws: dict[str, str] = {}
    plain: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, Raw):
            marker = f"@@raw{len(raws)}@@"
            raws[f'"{marker}"'] = str(value)
            plain[key] = marker
        else:
            plain[key] = value
    text = json.dumps(plain)
    for marker, raw in raws.items():
        text = text.replace(marker, raw)
    return text.encode("utf-8")


# Keys: generated once per test run, handed out by slot so that two keys a
# test treats as different are different.


@cache
def _private_key(kind: str, slot: int) -> Any:
    del slot  # one key per (kind, slot)
    if kind == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class SigningKey:
    """A private key, the ``alg`` it signs with and the ``kid`` it is published as."""

    alg: str
    private_key: Any = field(repr=False)
    kid: str | None

    def jwk(self, **members: Any) -> dict[str, Any]:
        """The public JWK; ``members`` add or (``DELETE``) remove members."""
        public = self.private_key.public_key()
        if self.alg.startswith("ES"):
            document = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            document = RSAAlgorithm.to_jwk(public, as_dict=True)
        base: dict[str, Any] = {**document, "use": "sig", "alg": self.alg}
        if self.kid is not None:
            base["kid"] = self.kid
        return _merge(base, members)

    def sign(
        self, claims: Mapping[str, Any], header: Mapping[str, Any] | None = None
    ) -> str:
        headers: dict[str, Any] = {} if self.kid is None else {"kid": self.kid}
        headers = _merge(headers, header or {})
        return jwt.encode(
            dict(claims), self.private_key, algorithm=self.alg, headers=headers
        )


def new_key(alg: str = "RS256", slot: int = 0, kid: str | None = "") -> SigningKey:
    """Key number ``slot`` of its kind; ``kid=""`` picks a fresh random kid."""
    kind = "EC" if alg.startswith("ES") else "RSA"
    if kid == "":
        kid = f"{kind.lower()}-{secrets.token_hex(4)}"
    return SigningKey(alg, _private_key(kind, slot), kid)


def unsigned_token(claims: Mapping[str, Any], signature: str = "") -> str:
    """An ``alg=none`` compact JWS (RFC 7519 section 6.1)."""
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(dict(claims)).encode())
    return f"{header}.{payload}.{signature}"


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def half_hash(value: str) -> str:
    """``at_hash`` for RS256/ES256 (OIDC Core 3.1.3.6)."""
    return b64url(hashlib.sha256(value.encode("ascii")).digest()[:16])


# What the provider answers and logs.


@dataclass
class Canned:
    """A whole answer that replaces an endpoint's real one."""

    status: int = 200
    body: bytes | str | Mapping[str, Any] | list[Any] = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before anything is sent
    trickle: float = 0.0  # seconds between single bytes of the body
    repeat: int = 1  # the body is sent this many times (huge bodies)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Canned:
        return cls(status=status, headers={"Location": location})

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode("utf-8"), "application/json"


@dataclass(frozen=True)
class Logged:
    """One request the provider received."""

    method: str
    path: str
    endpoint: str  # discovery, jwks, authorize, token, ... or "other"
    query: Mapping[str, str]
    raw_query: str
    form: Mapping[str, str]
    headers: Mapping[str, str]  # lower-cased names
    at: float


@dataclass
class Grant:
    """What an authorization code is bound to."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    nonce: str | None
    used: bool = False
    dpop_jkt: str | None = None  # the key the code is bound to (RFC 9449 10)


@dataclass(frozen=True)
class Proof:
    """One DPoP proof the provider received, checked: ``error`` None if good."""

    endpoint: str
    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    jkt: str | None
    error: str | None


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 for an EC key: the required members, sorted, no whitespace."""
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass
class Client:
    client_id: str
    secret: str | None = None
    auth_method: str = "none"


# What GitHub does not have, and its names for some RFC 6749 error codes.
_NOT_ON_GITHUB: Final = frozenset(
    {"discovery", "discovery_rfc8414", "jwks", "userinfo", "revoke"}
)
_GITHUB_ERRORS: Final = {
    "invalid_client": "incorrect_client_credentials",
    "invalid_grant": "bad_verification_code",
}


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, provider: EvilProvider, host: str) -> None:
        self.provider = provider
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        context = self.provider.tls
        if context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(5)
        try:
            wrapped = context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            self.provider.tls_failures += 1
            request.close()
            return
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Broken pipes from clients that gave up are expected here."""


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "evil-op"
    sys_version = ""
    timeout = 5  # idle keep-alive connections end
    # Headers and body go out in two writes: with Nagle's algorithm the body
    # waits for the client's delayed ACK, 40 ms per answer on a kept-alive
    # connection (a refresh's JWKS request after its token request).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the provider keeps its own log."""

    def do_GET(self) -> None:
        self.server.provider._dispatch(self)

    do_POST = do_HEAD = do_GET


class EvilProvider:
    """See the module docstring. Start with ``with EvilProvider() as op:``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        path_prefix: str = "",
        trailing_slash: bool = False,
        tls: ssl.SSLContext | None = None,
        client_id: str = CLIENT_ID,
        client_secret: str | None = None,
        auth_method: str = "none",
        mode: str = "oidc",
    ) -> None:
        if mode not in ("oidc", "github"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.github = mode == "github"
        self.tls = tls
        self.tls_failures = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(self, host)
        port = self._server.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        scheme = "https" if tls is not None else "http"
        self.base = f"{scheme}://{shown}:{port}"
        self.path_prefix = path_prefix
        self.issuer = self.base + path_prefix + ("/" if trailing_slash else "")
        self.client_id = client_id
        self.clients = {client_id: Client(client_id, client_secret, auth_method)}
        run = secrets.token_hex(4)
        p = path_prefix
        self.paths: dict[str, str] = {
            "discovery": f"{p.rstrip('/')}/.well-known/openid-configuration",
            "discovery_rfc8414": f"/.well-known/oauth-authorization-server{p}",
            "jwks": f"{p}/jwks/{run}.json",
            "authorize": f"{p}/authorize",
            "token": f"{p}/token",
            "userinfo": f"{p}/userinfo",
            "revoke": f"{p}/revoke",
            "device_authorization": f"{p}/device_authorization",
            "par": f"{p}/par",
            "resource": f"{p}/resource",
        }
        if self.github:
            self.paths.update(
                authorize=f"{p}/login/oauth/authorize",
                token=f"{p}/login/oauth/access_token",
                device_authorization=f"{p}/login/device/code",
                api_user=f"{p}/api/user",
            )
        self.keys: list[SigningKey] = [new_key("RS256", 0), new_key("ES256", 0)]
        self.signer: SigningKey = self.keys[0]
        self.send_iss = not self.github

        # Misbehaviours, all off.
        self.metadata_overrides: dict[str, Any] = {}
        self.token_overrides: dict[str, Any] = {}
        self.refresh_overrides: dict[str, Any] = {}
        self.id_token_claims: dict[str, Any] = {}
        self.refresh_id_token_claims: dict[str, Any] = {}
        self.id_token_header: dict[str, Any] = {}
        self.id_token_signer: SigningKey | None = None
        self.id_token_mangle: Callable[[str], str] | None = None
        self.before_sign: Callable[[], None] | None = None
        self.jwks_override: list[Any] | None = None
        self.redirect_overrides: dict[str, Any] = {}
        self.userinfo_overrides: dict[str, Any] = {}
        self.forward_authorize: Callable[[str], str] | None = None
        self.canned: dict[str, Canned] = {}
        self.on_request: Callable[[Logged], None] | None = None
        self.rotate_refresh = True
        self.device_answers: list[str] = []
        self.form_encoded = False  # github mode: even when JSON is accepted
        self.par_status = 201
        self.par_overrides: dict[str, Any] = {}
        self.dpop_nonce = "never"
        self.resource_nonce = "never"
        self.resource_scheme = "DPoP"
        self.dpop_token_type = "DPoP"

        # What happened.
        self.log: list[Logged] = []
        self.grants: dict[str, Grant] = {}
        self.issued: list[str] = []  # every code and token handed out
        self.refresh_tokens: dict[str, Grant] = {}
        self.access_tokens: dict[str, Grant] = {}
        self.device_codes: dict[str, Grant] = {}
        self.revoked: list[str] = []
        self.pushed: dict[str, dict[str, str]] = {}  # request_uri: parameters
        self.proofs: list[Proof] = []
        self.bound: dict[str, str] = {}  # token: the jkt it is bound to
        self._jtis: set[str] = set()
        self._nonces: set[str] = set()

        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},  # stop() waits for one poll
            name="evil-provider",
            daemon=True,
        )
        self._thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EvilProvider(issuer={self.issuer!r})"

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # Reading the log.

    def url(self, endpoint: str) -> str:
        return self.base + self.paths[endpoint]

    def requests(self, endpoint: str | None = None) -> list[Logged]:
        with self._lock:
            return [r for r in self.log if endpoint is None or r.endpoint == endpoint]

    def endpoints(self) -> list[str]:
        """The endpoint of every request so far, in order."""
        return [request.endpoint for request in self.requests()]

    def after(self, endpoint: str) -> list[str]:
        """Endpoints requested after the last request to ``endpoint``."""
        hit = self.endpoints()
        if endpoint not in hit:
            return hit
        last = len(hit) - 1 - hit[::-1].index(endpoint)
        return hit[last + 1 :]

    def forget_tokens(self) -> None:
        """Revoke every access and refresh token (the user removed the app)."""
        with self._lock:
            self.access_tokens.clear()
            self.refresh_tokens.clear()

    def secrets(self) -> list[str]:
        """Codes and tokens it issued, and verifiers it received."""
        received = [
            r.form["code_verifier"]
            for r in self.requests("token")
            if "code_verifier" in r.form
        ]
        with self._lock:
            return [*self.issued, *received]

    # Keys.

    def rotate(self, alg: str = "RS256", slot: int = 1) -> SigningKey:
        """Publish a new key (new ``kid``) instead of the old ones; sign with it."""
        key = new_key(alg, slot)
        self.keys = [key]
        self.signer = key
        return key

    def jwks(self) -> dict[str, Any]:
        if self.jwks_override is not None:
            return {"keys": self.jwks_override}
        return {"keys": [key.jwk() for key in self.keys]}

    def metadata(self) -> dict[str, Any]:
        document = {
            "issuer": self.issuer,
            "authorization_endpoint": self.url("authorize"),
            "token_endpoint": self.url("token"),
            "userinfo_endpoint": self.url("userinfo"),
            "jwks_uri": self.url("jwks"),
            "revocation_endpoint": self.url("revoke"),
            "device_authorization_endpoint": self.url("device_authorization"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": [
                "none",
                "client_secret_basic",
                "client_secret_post",
            ],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "authorization_response_iss_parameter_supported": True,
            "pushed_authorization_request_endpoint": self.url("par"),
            "dpop_signing_alg_values_supported": ["ES256"],
        }
        return _merge(document, self.metadata_overrides)

    def mint_code(self, redirect_uri: str, code_challenge: str) -> str:
        """A code for another session of the same client (code injection)."""
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.grants[code] = Grant(
                self.client_id, redirect_uri, code_challenge, "openid", None
            )
            self.issued.append(code)
        return code

    def id_token(
        self, grant: Grant, access_token: str, *, refresh: bool = False
    ) -> str:
        """An ID token for ``grant``, with whatever misbehaviour is switched on."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": SUBJECT,
            "aud": grant.client_id,
            "exp": now + 300,
            "iat": now,
            "auth_time": now,
            "email": EMAIL,
            "at_hash": half_hash(access_token),
        }
        if grant.nonce is not None and not refresh:
            claims["nonce"] = grant.nonce
        claims = _merge(claims, self.id_token_claims)
        if refresh:
            claims = _merge(claims, self.refresh_id_token_claims)
        if self.before_sign is not None:
            self.before_sign()
        signer = self.id_token_signer or self.signer
        token = signer.sign(claims, self.id_token_header)
        if self.id_token_mangle is not None:
            token = self.id_token_mangle(token)
        return token

    # Serving.

    def _endpoint(self, path: str) -> str:
        for name, known in self.paths.items():
            if unquote(path) == known:
                return name
        return "other"

    def _dispatch(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(min(length, MAX_REQUEST_BODY)) if length else b""
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        endpoint = self._endpoint(parts.path)
        logged = Logged(
            method=handler.command,
            path=parts.path,
            endpoint=endpoint,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            raw_query=parts.query,
            form=form,
            headers={k.lower(): v for k, v in handler.headers.items()},
            at=time.monotonic(),
        )
        with self._lock:
            self.log.append(logged)
        if self.on_request is not None:
            self.on_request(logged)

        canned = self.canned.get(endpoint)
        if canned is not None:
            self._send_canned(handler, canned)
            return
        if self.github and endpoint in _NOT_ON_GITHUB:
            self._send(handler, 404, b"Not Found", {"Content-Type": "text/plain"})
            return
        answer = {
            "discovery": self._discovery,
            "discovery_rfc8414": self._discovery,
            "jwks": self._jwks,
            "authorize": self._authorize,
            "token": self._token,
            "userinfo": self._userinfo,
            "revoke": self._revoke,
            "device_authorization": self._device_authorization,
            "api_user": self._api_user,
            "par": self._par,
            "resource": self._resource,
        }.get(endpoint)
        if answer is None:
            self._send(handler, 404, b"not found", {"Content-Type": "text/plain"})
            return
        answer(handler, logged)

    def _send(
        self,
        handler: _Handler,
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        try:
            handler.send_response(status)
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.send_header("Cache-Control", "no-store")
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(body)
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True

    def _send_json(
        self, handler: _Handler, document: Mapping[str, Any], status: int = 200
    ) -> None:
        self._send(
            handler, status, dump_json(document), {"Content-Type": "application/json"}
        )

    def _send_canned(self, handler: _Handler, canned: Canned) -> None:
        if canned.delay and self._stopping.wait(canned.delay):
            return
        body, content_type = canned.payload()
        headers = {"Content-Type": content_type, **canned.headers}
        if canned.repeat == 1 and not canned.trickle:
            self._send(handler, canned.status, body, headers)
            return
        handler.close_connection = True
        try:
            handler.send_response(canned.status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body) * canned.repeat))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.flush()
            for _ in range(canned.repeat):
                if not canned.trickle:
                    handler.wfile.write(body)
                    continue
                for byte in body:
                    if self._stopping.wait(canned.trickle):
                        return
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
        except OSError:
            return

    def _discovery(self, handler: _Handler, request: Logged) -> None:
        self._send_json(handler, self.metadata())

    def _jwks(self, handler: _Handler, request: Logged) -> None:
        self._send_json(handler, self.jwks())

    def _authorize(self, handler: _Handler, request: Logged) -> None:
        if self.forward_authorize is not None:
            location = self.forward_authorize(request.raw_query)
            self._send(handler, 303, b"", {"Location": location})
            return
        params = request.query
        if "request_uri" in params:
            with self._lock:
                pushed = self.pushed.pop(params["request_uri"], None)  # once
            if pushed is None or pushed.get("client_id") != params.get("client_id"):
                self._send(handler, 400, b"unknown or used request_uri")
                return
            params = pushed
        client = self.clients.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        target = urlsplit(redirect_uri)
        if (
            client is None
            or target.scheme != "http"
            or target.hostname
            not in (
                "127.0.0.1",
                "::1",
                "localhost",
            )
        ):
            self._send(handler, 400, b"unknown client or redirect_uri")
            return
        answer: dict[str, Any] = {}
        if params.get("response_type") != "code":
            answer["error"] = "unsupported_response_type"
        elif params.get("code_challenge_method") != "S256" or not params.get(
            "code_challenge"
        ):
            answer["error"] = "invalid_request"
            answer["error_description"] = "PKCE with S256 is required"
        else:
            code = secrets.token_urlsafe(24)
            with self._lock:
                self.grants[code] = Grant(
                    client.client_id,
                    redirect_uri,
                    params["code_challenge"],
                    params.get("scope", ""),
                    params.get("nonce"),
                    dpop_jkt=params.get("dpop_jkt"),
                )
                self.issued.append(code)
            answer["code"] = code
        if "state" in params:
            answer["state"] = params["state"]
        if self.send_iss:
            answer["iss"] = self.issuer
        answer = _merge(answer, self.redirect_overrides)
        separator = "&" if target.query else "?"
        location = redirect_uri + separator + urlencode(answer)
        self._send(handler, 303, b"", {"Location": location})

    def _client(self, request: Logged) -> Client | None:
        """The authenticated client of a token or revocation request."""
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:], validate=True).decode()
            except ValueError:
                return None
            raw_id, _, raw_secret = decoded.partition(":")
            client = self.clients.get(unquote_plus(raw_id))
            if client is None or client.auth_method != "client_secret_basic":
                return None
            return client if unquote_plus(raw_secret) == client.secret else None
        client = self.clients.get(request.form.get("client_id", ""))
        if client is None:
            return None
        if client.auth_method == "client_secret_post":
            return (
                client if request.form.get("client_secret") == client.secret else None
            )
        return client if client.auth_method == "none" else None

    def _answer(
        self,
        handler: _Handler,
        request: Logged,
        document: Mapping[str, Any],
        status: int = 200,
    ) -> None:
        """A token or device endpoint answer: JSON, or in github mode maybe a form."""
        accepted = "application/json" in request.headers.get("accept", "")
        if self.github and (self.form_encoded or not accepted):
            body = urlencode({key: str(value) for key, value in document.items()})
            self._send(handler, status, body.encode(), {"Content-Type": FORM_ENCODED})
            return
        self._send_json(handler, document, status)

    def _error(
        self, handler: _Handler, request: Logged, error: str, status: int = 400
    ) -> None:
        """An RFC 6749 section 5.2 error; GitHub's come with HTTP 200."""
        if not self.github:
            self._answer(handler, request, {"error": error}, status)
            return
        document = {
            "error": _GITHUB_ERRORS.get(error, error),
            "error_description": f"GitHub-like test provider: {error}",
            "error_uri": "https://docs.github.test/oauth-errors",
        }
        self._answer(handler, request, document, 200)

    def _token(self, handler: _Handler, request: Logged) -> None:
        client = self._client(request)
        if client is None:
            self._error(handler, request, "invalid_client", 401)
            return
        answered, jkt = self._dpop(handler, request, "token", self.dpop_nonce)
        if answered:
            return
        form = request.form
        if form.get("grant_type") == "authorization_code":
            with self._lock:
                grant = self.grants.get(form.get("code", ""))
                fresh = grant is not None and not grant.used
                if grant is not None:
                    grant.used = True
            verifier = form.get("code_verifier", "")
            if (
                grant is None
                or not fresh
                or grant.client_id != client.client_id
                or grant.redirect_uri != form.get("redirect_uri")
                or len(verifier) < 43
                or s256(verifier) != grant.code_challenge
                or (grant.dpop_jkt is not None and grant.dpop_jkt != jkt)
            ):
                self._error(handler, request, "invalid_grant")
                return
            self._send_tokens(handler, request, grant, refresh=False, jkt=jkt)
            return
        if form.get("grant_type") == DEVICE_CODE_GRANT:
            self._device_token(handler, request, client)
            return
        if form.get("grant_type") == "refresh_token":
            with self._lock:
                grant = self.refresh_tokens.get(form.get("refresh_token", ""))
                bound = self.bound.get(form.get("refresh_token", ""))
                if grant is not None and self.rotate_refresh and bound == jkt:
                    del self.refresh_tokens[form["refresh_token"]]
            if grant is None or grant.client_id != client.client_id or bound != jkt:
                self._error(handler, request, "invalid_grant")
                return
            self._send_tokens(handler, request, grant, refresh=True, jkt=jkt)
            return
        self._error(handler, request, "unsupported_grant_type")

    def _device_token(self, handler: _Handler, request: Logged, client: Client) -> None:
        """One poll of a device code (RFC 8628 section 3.4)."""
        device_code = request.form.get("device_code", "")
        with self._lock:
            grant = self.device_codes.get(device_code)
            waiting = grant is not None and bool(self.device_answers)
            answer = self.device_answers.pop(0) if waiting else None
            if grant is not None and answer is None:
                del self.device_codes[device_code]  # approved: redeemed once
        if grant is None or grant.client_id != client.client_id:
            self._error(
                handler,
                request,
                "incorrect_device_code" if self.github else "invalid_grant",
            )
            return
        if answer is not None:
            self._error(handler, request, answer)
            return
        self._send_tokens(handler, request, grant, refresh=False)

    def _send_tokens(
        self,
        handler: _Handler,
        request: Logged,
        grant: Grant,
        *,
        refresh: bool,
        jkt: str | None = None,
    ) -> None:
        access_token = ("gho_" if self.github else "") + secrets.token_urlsafe(32)
        refresh_token = secrets.token_urlsafe(32)
        document: dict[str, Any] = {
            "access_token": access_token,
            "token_type": self.dpop_token_type if jkt else "Bearer",
            "expires_in": 300,
            "refresh_token": refresh_token,
            "scope": grant.scope,
        }
        if self.github:
            # An OAuth app's token: no lifetime, no refresh token, no ID token.
            document = {
                "access_token": access_token,
                "token_type": "bearer",
                "scope": ",".join(grant.scope.split()),
            }
        elif "openid" in grant.scope.split():
            document["id_token"] = self.id_token(grant, access_token, refresh=refresh)
        document = _merge(document, self.token_overrides)
        if refresh:
            document = _merge(document, self.refresh_overrides)
        with self._lock:
            for value in document.values():
                if isinstance(value, str) and len(value) >= 32:
                    self.issued.append(value)
            self.access_tokens[access_token] = grant
            if document.get("refresh_token") == refresh_token:
                self.refresh_tokens[refresh_token] = grant
            if jkt is not None:
                self.bound[access_token] = self.bound[refresh_token] = jkt
        self._answer(handler, request, document)

    def _userinfo(self, handler: _Handler, request: Logged) -> None:
        authorization = request.headers.get("authorization", "")
        token = authorization[7:] if authorization.startswith("Bearer ") else ""
        if token not in self.access_tokens:
            self._send(
                handler, 401, b"", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
            return
        claims = {"sub": SUBJECT, "email": EMAIL, "name": "Alice"}
        self._send_json(handler, _merge(claims, self.userinfo_overrides))

    def _api_user(self, handler: _Handler, request: Logged) -> None:
        """GitHub's ``GET /user``: no ``WWW-Authenticate`` on a 401."""
        authorization = request.headers.get("authorization", "")
        token = authorization.partition(" ")[2]
        with self._lock:
            known = token in self.access_tokens
        if not known:
            body = json.dumps({"message": "Bad credentials"}).encode()
            self._send(handler, 401, body, {"Content-Type": "application/json"})
            return
        self._send_json(handler, {"login": SUBJECT, "email": EMAIL})

    # Pushed authorization requests and DPoP.

    def _par(self, handler: _Handler, request: Logged) -> None:
        """RFC 9126 section 2: keep the parameters, answer with a reference."""
        client = self._client(request)
        if client is None:
            self._error(handler, request, "invalid_client", 401)
            return
        answered, jkt = self._dpop(handler, request, "par", self.dpop_nonce)
        if answered:
            return
        params = {
            key: value
            for key, value in request.form.items()
            if key not in ("client_secret", "client_assertion")
        }
        if jkt is not None and params.setdefault("dpop_jkt", jkt) != jkt:
            self._error(handler, request, "invalid_request")
            return
        request_uri = "urn:ietf:params:oauth:request_uri:" + secrets.token_urlsafe(24)
        with self._lock:
            self.pushed[request_uri] = params
        answer = _merge(
            {"request_uri": request_uri, "expires_in": 60}, self.par_overrides
        )
        self._send_json(handler, answer, self.par_status)

    def _new_nonce(self) -> str:
        nonce = secrets.token_urlsafe(16)
        with self._lock:
            self._nonces.add(nonce)
        return nonce

    def check_proof(
        self,
        proof: str,
        endpoint: str,
        method: str,
        access_token: str | None = None,
    ) -> Proof:
        """Check one DPoP proof (RFC 9449 section 4.3); record and return it."""
        header: dict[str, Any] = {}
        claims: dict[str, Any] = {}
        jkt: str | None = None
        error: str | None = None
        try:
            header = jwt.get_unverified_header(proof)
            jwk = header.get("jwk")
            if header.get("typ") != "dpop+jwt" or header.get("alg") != "ES256":
                raise ValueError("typ or alg")
            if not isinstance(jwk, dict) or "d" in jwk:
                raise ValueError("jwk")
            key = jwt.PyJWK(jwk).key
            claims = jwt.decode(proof, key, algorithms=["ES256"])
            jkt = jwk_thumbprint(jwk)
            with self._lock:
                replayed = claims.get("jti") in self._jtis
                self._jtis.add(str(claims.get("jti")))
            if not isinstance(claims.get("jti"), str) or replayed:
                raise ValueError("jti")
            if claims.get("htm") != method or claims.get("htu") != self.url(endpoint):
                raise ValueError("htm or htu")
            if not abs(time.time() - float(claims.get("iat", 0))) < 60:
                raise ValueError("iat")
            if access_token is not None and claims.get("ath") != b64url(
                hashlib.sha256(access_token.encode()).digest()
            ):
                raise ValueError("ath")
        except (ValueError, TypeError, KeyError, jwt.PyJWTError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        checked = Proof(endpoint, header, claims, jkt, error)
        with self._lock:
            self.proofs.append(checked)
        return checked

    def _wants_nonce(self, proof: Proof, mode: str) -> bool:
        """Whether this proof must be answered with ``use_dpop_nonce``."""
        if mode == "always":
            return True
        if mode == "once":
            with self._lock:
                return proof.claims.get("nonce") not in self._nonces
        return False

    def _dpop(
        self, handler: _Handler, request: Logged, endpoint: str, mode: str
    ) -> tuple[bool, str | None]:
        """Whether an error was answered, and the jkt of the request's proof."""
        proof = request.headers.get("dpop")
        if proof is None:
            return False, None
        checked = self.check_proof(proof, endpoint, "POST")
        if checked.error is not None:
            self._error(handler, request, "invalid_dpop_proof")
            return True, None
        if self._wants_nonce(checked, mode):
            self._send(
                handler,
                400,
                json.dumps({"error": "use_dpop_nonce"}).encode(),
                {"Content-Type": "application/json", "DPoP-Nonce": self._new_nonce()},
            )
            return True, None
        return False, checked.jkt

    def _resource(self, handler: _Handler, request: Logged) -> None:
        """A resource server: Bearer tokens, and DPoP-bound ones with a proof."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            known = token in self.access_tokens
            bound = self.bound.get(token)
        challenge = f'{self.resource_scheme} algs="ES256", error="invalid_token"'
        headers: dict[str, str] = {}
        if bound is None:
            good = known and scheme == "Bearer"
        elif scheme != "DPoP" or "dpop" not in request.headers:
            good = False  # never downgraded to Bearer (RFC 9449 section 7.2)
        else:
            checked = self.check_proof(
                request.headers["dpop"], "resource", request.method, token
            )
            good = known and checked.error is None and checked.jkt == bound
            if good and self._wants_nonce(checked, self.resource_nonce):
                good = False
                challenge = f'{self.resource_scheme} error="use_dpop_nonce"'
                headers["DPoP-Nonce"] = self._new_nonce()
        if not good:
            headers["WWW-Authenticate"] = challenge
            self._send(handler, 401, b"", headers)
            return
        self._send_json(handler, {"sub": SUBJECT})

    def _revoke(self, handler: _Handler, request: Logged) -> None:
        if self._client(request) is None:
            self._error(handler, request, "invalid_client", 401)
            return
        with self._lock:
            self.revoked.append(request.form.get("token", ""))
        self._send(handler, 200, b"")

    def _device_authorization(self, handler: _Handler, request: Logged) -> None:
        client = self._client(request)
        if client is None:
            self._error(handler, request, "invalid_client", 401)
            return
        device_code = secrets.token_hex(20)
        with self._lock:
            self.device_codes[device_code] = Grant(
                client.client_id, "", "", request.form.get("scope", ""), None
            )
            self.issued.append(device_code)
        self._answer(
            handler,
            request,
            {
                "device_code": device_code,
                "user_code": "WDJB-MJHT",
                "verification_uri": self.base
                + ("/login/device" if self.github else "/device"),
                "expires_in": 900 if self.github else 600,
                "interval": 5,
            },
        )


# The scripted user.

Op = tuple[str, ...]


@dataclass
class Plan:
    """What the scripted user does with the redirect back to the app.

    ``callbacks`` lists the callbacks to send, in order; each is a list of
    operations applied to the genuine callback's parameters:

    - ``("drop", name)``, ``("set", name, value)``, ``("add", name, value)``
      (appends: a second copy when the name exists), ``("dup", name)``;
    - ``("swap_code",)``: replace ``code`` with one the provider issued to
      another authorization request (same client and ``redirect_uri``,
      another ``code_challenge``);
    - ``("query", text)``: send ``text`` as the whole query instead;
    - ``("host", value)``: send this ``Host`` header; ``("path", p)``.

    ``verify`` is a CA bundle for an https provider. ``result_file``, in the
    CLI, receives the user's argv and every answer as JSON.
    """

    callbacks: list[list[Op]] = field(default_factory=lambda: [[]])
    verify: str | None = None
    result_file: str | None = None

    def dump(self, path: Path) -> None:
        path.write_text(
            json.dumps(
                {
                    "callbacks": [[list(op) for op in ops] for ops in self.callbacks],
                    "verify": self.verify,
                    "result_file": self.result_file,
                }
            ),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, path: Path) -> Plan:
        document = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            callbacks=[[tuple(op) for op in ops] for ops in document["callbacks"]],
            verify=document["verify"],
            result_file=document["result_file"],
        )


@dataclass(frozen=True)
class Answer:
    """What the app's listener answered to one callback (status None: no answer)."""

    status: int | None
    headers: Mapping[str, str]
    body: str


def _apply(
    ops: Sequence[Op], pairs: list[tuple[str, str]], swap: Callable[[], str]
) -> tuple[str, dict[str, str], str | None]:
    """The query, extra headers and path of one callback."""
    pairs = list(pairs)
    headers: dict[str, str] = {}
    path: str | None = None
    raw: str | None = None
    for op in ops:
        kind = op[0]
        if kind == "drop":
            pairs = [(k, v) for k, v in pairs if k != op[1]]
        elif kind == "set":
            pairs = [(k, v) for k, v in pairs if k != op[1]] + [(op[1], op[2])]
        elif kind == "add":
            pairs.append((op[1], op[2]))
        elif kind == "dup":
            pairs += [(k, v) for k, v in pairs if k == op[1]]
        elif kind == "swap_code":
            pairs = [(k, v) for k, v in pairs if k != "code"] + [("code", swap())]
        elif kind == "query":
            raw = op[1]
        elif kind == "host":
            headers["Host"] = op[1]
        elif kind == "path":
            path = op[1]
        else:
            raise ValueError(f"unknown plan operation {kind!r}")
    return (raw if raw is not None else urlencode(pairs)), headers, path


@cache
def _client_context(ca_file: str | None) -> ssl.SSLContext:
    """Made once per CA file: building a context costs tens of milliseconds."""
    return ssl.create_default_context(cafile=ca_file)


class ScriptedUser:
    """The browser for a test: ``opener=ScriptedUser(plan)`` (see ``Plan``)."""

    def __init__(self, plan: Plan | None = None) -> None:
        self.plan = plan or Plan()
        self.urls: list[str] = []
        self.answers: list[Answer] = []
        self.error: str | None = None
        self.done = threading.Event()

    def __call__(self, url: str) -> bool:
        """The ``opener`` seam: start in the background, report success."""
        self.urls.append(url)
        thread = threading.Thread(
            target=self.run, args=(url,), name="scripted-user", daemon=True
        )
        thread.start()
        return True

    def wait(self, timeout: float = 5.0) -> None:
        assert self.done.wait(timeout), "the scripted user did not finish"

    def run(self, url: str) -> None:
        try:
            with httpx.Client(
                follow_redirects=False,
                trust_env=False,
                timeout=5.0,
                verify=_client_context(self.plan.verify),
            ) as client:
                self._walk(client, url)
        except Exception as exc:  # reported to the test, never raised in a thread
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.done.set()

    def _walk(self, client: httpx.Client, url: str) -> None:
        redirect_uri = dict(parse_qsl(urlsplit(url).query)).get("redirect_uri")
        # A pushed request's URL has no redirect_uri: the first redirect away
        # from the provider goes there.
        target = urlsplit(redirect_uri) if redirect_uri else None
        location = url
        for _ in range(5):
            response = client.get(location)
            if not response.is_redirect:
                self.error = f"the provider answered {response.status_code}"
                return
            location = urljoin(location, response.headers["location"])
            here = urlsplit(location)
            if target is None and here.netloc != urlsplit(url).netloc:
                target = here
            if target is not None and (here.netloc, here.path) == (
                target.netloc,
                target.path,
            ):
                break
        else:
            self.error = "too many redirects before the app's redirect_uri"
            return
        assert target is not None

        pairs = parse_qsl(urlsplit(location).query, keep_blank_values=True)

        def swap() -> str:
            return self._other_session_code(client, url)

        base = f"{target.scheme}://{target.netloc}"
        for ops in self.plan.callbacks:
            query, headers, path = _apply(ops, pairs, swap)
            callback = f"{base}{path or target.path}?{query}"
            try:
                answer = client.get(callback, headers=headers)
                self.answers.append(
                    Answer(answer.status_code, dict(answer.headers), answer.text)
                )
            except httpx.HTTPError as exc:
                self.answers.append(Answer(None, {}, type(exc).__name__))

    def _other_session_code(self, client: httpx.Client, url: str) -> str:
        """Run a second authorization with another challenge; take its code."""
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query))
        params["code_challenge"] = s256(secrets.token_urlsafe(32))
        params["state"] = secrets.token_urlsafe(16)
        other = parts._replace(query=urlencode(params)).geturl()
        response = client.get(other)
        query = urlsplit(response.headers["location"]).query
        return dict(parse_qsl(query))["code"]

    def report(self, argv: Sequence[str]) -> dict[str, Any]:
        return {
            "argv": list(argv),
            "pid": os.getpid(),
            "error": self.error,
            "answers": [
                {"status": a.status, "headers": dict(a.headers), "body": a.body}
                for a in self.answers
            ],
        }


def cli_browser(plan_file: Path) -> str:
    """The ``BROWSER`` value that runs the scripted user with ``plan_file``."""
    parts = (sys.executable, str(EVIL_PROVIDER), "user", str(plan_file))
    return " ".join(shlex.quote(part) for part in parts) + " %s"


def main(argv: list[str]) -> int:
    """``python evilprovider.py user PLAN.json URL``: the user as BROWSER."""
    if len(argv) < 4 or argv[1] != "user":
        print("usage: evilprovider.py user PLAN.json URL", file=sys.stderr)
        return 2
    plan = Plan.load(Path(argv[2]))
    user = ScriptedUser(plan)
    user.run(argv[-1])
    if plan.result_file is not None:
        with (
            contextlib.suppress(OSError),
            open(plan.result_file, "a", encoding="utf-8") as handle,
        ):
            handle.write(json.dumps(user.report(argv)) + "\n")
    return 0 if user.error is None else 1


def iter_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON lines a CLI-run user appended to its ``result_file``."""
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
