"""The back channel: TLS trust (case C15), redirects, proxies, strict JSON.

The servers are stdlib ``ThreadingHTTPServer`` instances on 127.0.0.1; the TLS
one uses a certificate from a throwaway ``trustme`` CA made for this session.
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from oauthcli.errors import TransportError, ValidationError
from oauthcli.transport import HTTP, Response, parse_json_object

DISCOVERY_PATH = "/.well-known/openid-configuration"
TOKEN_FORM = {
    "grant_type": "authorization_code",
    "code": "code-SECRET-4711",
    "code_verifier": "verifier-SECRET-0815",
    "client_id": "cli-app",
}


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(
        default_factory=lambda: {"Content-Type": "application/json"}
    )


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class StubServer:
    """Answers from a path -> Reply table (404 otherwise); logs every request."""

    def __init__(
        self, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.host = host
        self.routes: dict[str, Reply] = {}
        self.requests: list[Seen] = []
        self.scheme = "https" if tls else "http"
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                stub.requests.append(
                    Seen(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(length),
                    )
                )
                reply = stub.routes.get(self.path, Reply(404, b""))
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.01,), daemon=True
        )
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@dataclass(frozen=True)
class PrivateCA:
    ca: trustme.CA
    ca_file: Path


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCA:
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("ca") / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return PrivateCA(ca, ca_file)


def _server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


@pytest.fixture
def servers() -> Iterator[list[StubServer]]:
    started: list[StubServer] = []
    yield started
    for running in started:
        running.stop()


@pytest.fixture
def plain_server(servers: list[StubServer]) -> StubServer:
    servers.append(StubServer())
    return servers[-1]


@pytest.fixture
def tls_server(test_ca: PrivateCA, servers: list[StubServer]) -> StubServer:
    cert = test_ca.ca.issue_cert("127.0.0.1")
    servers.append(StubServer(_server_context(cert)))
    servers[-1].routes[DISCOVERY_PATH] = Reply(body=b'{"issuer": "x"}')
    return servers[-1]


@pytest.fixture
def clean_trust_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No CA setting from the environment: only the system store is trusted."""
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# TLS trust (C15, TLS-03)


def test_c15_private_ca_without_configuration_fails_naming_ssl_cert_file(
    tls_server: StubServer, clean_trust_env: pytest.MonkeyPatch
) -> None:
    with HTTP(timeout=5) as http, pytest.raises(TransportError) as caught:
        http.get(tls_server.origin + DISCOVERY_PATH, what="discovery endpoint")

    assert caught.value.code == "tls_verification_failed"
    assert "SSL_CERT_FILE" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert tls_server.requests == []


def test_c15_private_ca_given_as_ca_file_is_trusted(
    tls_server: StubServer, test_ca: PrivateCA, clean_trust_env: pytest.MonkeyPatch
) -> None:
    with HTTP(timeout=5, ca_file=str(test_ca.ca_file)) as http:
        response = http.get(tls_server.origin + DISCOVERY_PATH, what="discovery")

    assert response.status_code == 200
    assert response.json("discovery") == {"issuer": "x"}


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_c15_private_ca_from_the_environment_is_trusted(
    tls_server: StubServer,
    test_ca: PrivateCA,
    clean_trust_env: pytest.MonkeyPatch,
    variable: str,
) -> None:
    clean_trust_env.setenv(variable, str(test_ca.ca_file))

    with HTTP(timeout=5) as http:
        response = http.get(tls_server.origin + DISCOVERY_PATH, what="discovery")

    assert response.status_code == 200


def test_c15_missing_ca_bundle_file_is_a_clear_error(
    tls_server: StubServer, tmp_path: Path, clean_trust_env: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-ca.pem"

    with (
        HTTP(timeout=5, ca_file=str(missing)) as http,
        pytest.raises(TransportError) as caught,
    ):
        http.get(tls_server.origin + DISCOVERY_PATH, what="discovery")

    assert caught.value.code == "tls_verification_failed"


def test_tls_03_certificate_for_another_name_fails_closed(
    test_ca: PrivateCA, servers: list[StubServer], clean_trust_env: pytest.MonkeyPatch
) -> None:
    cert = test_ca.ca.issue_cert("op.example.test")
    servers.append(StubServer(_server_context(cert)))

    with (
        HTTP(timeout=5, ca_file=str(test_ca.ca_file)) as http,
        pytest.raises(TransportError) as caught,
    ):
        http.get(servers[-1].origin + DISCOVERY_PATH, what="discovery")

    assert caught.value.code == "tls_verification_failed"


def test_tls_03_expired_certificate_fails_closed(
    test_ca: PrivateCA, servers: list[StubServer], clean_trust_env: pytest.MonkeyPatch
) -> None:
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    cert = test_ca.ca.issue_cert(
        "127.0.0.1",
        not_before=long_ago,
        not_after=long_ago + datetime.timedelta(days=30),
    )
    servers.append(StubServer(_server_context(cert)))

    with (
        HTTP(timeout=5, ca_file=str(test_ca.ca_file)) as http,
        pytest.raises(TransportError) as caught,
    ):
        http.get(servers[-1].origin + DISCOVERY_PATH, what="discovery")

    assert caught.value.code == "tls_verification_failed"


def test_plain_http_to_loopback_reads_no_ca_bundle(
    plain_server: StubServer,
    tls_server: StubServer,
    test_ca: PrivateCA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Loading a CA bundle costs tens of milliseconds, at every login."""
    loaded: list[str | None] = []
    original = ssl.SSLContext.load_verify_locations

    def load_verify_locations(context: ssl.SSLContext, *args: Any, **kw: Any) -> None:
        loaded.append(kw.get("cafile"))
        original(context, *args, **kw)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", load_verify_locations)
    plain_server.routes[DISCOVERY_PATH] = Reply()

    with HTTP(timeout=5, ca_file=str(test_ca.ca_file)) as http:
        plain = http.get(plain_server.origin + DISCOVERY_PATH, what="discovery")
        assert loaded == []
        over_tls = http.get(tls_server.origin + DISCOVERY_PATH, what="discovery")

    assert plain.status_code == over_tls.status_code == 200
    assert str(test_ca.ca_file) in loaded


def test_a_ca_bundle_named_twice_in_the_environment_is_read_once(
    tls_server: StubServer,
    test_ca: PrivateCA,
    clean_trust_env: pytest.MonkeyPatch,
) -> None:
    """Debian-style setups point SSL_CERT_FILE and REQUESTS_CA_BUNDLE at one file."""
    loaded: list[str | None] = []
    original = ssl.SSLContext.load_verify_locations

    def load_verify_locations(context: ssl.SSLContext, *args: Any, **kw: Any) -> None:
        loaded.append(kw.get("cafile"))
        original(context, *args, **kw)

    clean_trust_env.setattr(
        ssl.SSLContext, "load_verify_locations", load_verify_locations
    )
    clean_trust_env.setenv("SSL_CERT_FILE", str(test_ca.ca_file))
    clean_trust_env.setenv("REQUESTS_CA_BUNDLE", str(test_ca.ca_file))

    with HTTP(timeout=5) as http:
        response = http.get(tls_server.origin + DISCOVERY_PATH, what="discovery")

    assert response.status_code == 200
    assert loaded == []  # the default context read SSL_CERT_FILE itself


# Redirects on the back channel (REDIR-03)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redir_03_redirect_from_a_token_post_is_an_error_and_not_followed(
    servers: list[StubServer], status: int
) -> None:
    token_endpoint, elsewhere = StubServer(), StubServer()
    servers.extend([token_endpoint, elsewhere])
    token_endpoint.routes["/token"] = Reply(
        status, b"", {"Location": f"{elsewhere.origin}/token"}
    )
    elsewhere.routes["/token"] = Reply(body=b'{"access_token": "stolen"}')

    with HTTP(timeout=5) as http, pytest.raises(TransportError) as caught:
        http.post_form(
            f"{token_endpoint.origin}/token", TOKEN_FORM, what="token endpoint"
        )

    assert caught.value.code == "unexpected_redirect"
    assert "SECRET" not in str(caught.value)
    assert len(token_endpoint.requests) == 1
    assert len(elsewhere.requests) == 0


def test_token_post_is_form_encoded_and_asks_for_json(
    plain_server: StubServer,
) -> None:
    plain_server.routes["/token"] = Reply()

    with HTTP(timeout=5) as http:
        http.post_form(f"{plain_server.origin}/token", TOKEN_FORM, what="token")

    seen = plain_server.requests[0]
    assert seen.method == "POST"
    assert seen.headers["accept"] == "application/json"
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert b"code_verifier=verifier-SECRET-0815" in seen.body


# Proxies from the environment (HTTP-04)


def test_http_04_proxy_settings_do_not_apply_to_loopback(
    plain_server: StubServer,
    tls_server: StubServer,
    test_ca: PrivateCA,
    clean_trust_env: pytest.MonkeyPatch,
) -> None:
    proxy = f"http://127.0.0.1:{_unused_port()}"
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        clean_trust_env.setenv(name, proxy)
        clean_trust_env.setenv(name.lower(), proxy)
    for name in ("NO_PROXY", "no_proxy"):
        clean_trust_env.delenv(name, raising=False)
    plain_server.routes["/token"] = Reply()

    with HTTP(timeout=5, ca_file=str(test_ca.ca_file)) as http:
        over_tls = http.get(tls_server.origin + DISCOVERY_PATH, what="discovery")
        plain = http.post_form(
            f"{plain_server.origin}/token", TOKEN_FORM, what="token endpoint"
        )

    assert over_tls.status_code == 200
    assert plain.status_code == 200


def test_http_04_proxy_settings_do_not_apply_to_any_127_address(
    servers: list[StubServer], clean_trust_env: pytest.MonkeyPatch
) -> None:
    servers.append(StubServer(host="127.0.0.2"))
    servers[-1].routes["/jwks"] = Reply(body=b'{"keys": []}')
    proxy = f"http://127.0.0.1:{_unused_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        clean_trust_env.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        clean_trust_env.delenv(name, raising=False)

    with HTTP(timeout=5) as http:
        response = http.get(f"{servers[-1].origin}/jwks", what="jwks")

    assert response.status_code == 200


# Other failures and limits


def test_refused_connection_is_a_connect_error() -> None:
    url = f"http://127.0.0.1:{_unused_port()}/token"

    with HTTP(timeout=5) as http, pytest.raises(TransportError) as caught:
        http.get(url, what="token endpoint")

    assert caught.value.code == "connect_failed"


def test_body_at_the_cap_is_read_and_one_byte_more_is_refused(
    plain_server: StubServer,
) -> None:
    plain_server.routes["/exact"] = Reply(body=b"x" * 1000)
    plain_server.routes["/over"] = Reply(body=b"x" * 1001)

    with HTTP(timeout=5, max_bytes=1000) as http:
        exact = http.get(f"{plain_server.origin}/exact", what="jwks")
        with pytest.raises(TransportError) as caught:
            http.get(f"{plain_server.origin}/over", what="jwks")

    assert len(exact.body) == 1000
    assert caught.value.code == "response_too_large"


def test_response_headers_are_lower_cased(plain_server: StubServer) -> None:
    plain_server.routes["/h"] = Reply(
        headers={"Content-Type": "Application/JSON; charset=UTF-8", "X-Odd": "1"}
    )

    with HTTP(timeout=5) as http:
        response = http.get(f"{plain_server.origin}/h", what="discovery")

    assert response.headers["x-odd"] == "1"
    assert response.content_type == "application/json"


# Strict JSON


@pytest.mark.parametrize(
    "body",
    [b'{"expires_in": NaN}', b'{"x": Infinity}', b'{"x": -Infinity}', b"NaN"],
    ids=repr,
)
def test_parse_json_object_rejects_non_finite_constants(body: bytes) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_json_object(body, "the token response")

    assert caught.value.code == "invalid_response"
    assert "the token response" in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        b'{"access_token": "a", "access_token": "b"}',
        b'{"outer": {"k": 1, "k": 1}}',
        b'{"keys": [{"kid": "a", "kid": "b"}]}',
    ],
    ids=["top-level", "nested-object", "inside-an-array"],
)
def test_parse_json_object_rejects_duplicate_members(body: bytes) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_json_object(body, "the JWKS")

    assert caught.value.code == "invalid_response"
    assert "access_token" not in str(caught.value) or '"a"' not in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [b"[]", b'"object"', b"1", b"null", b"true", b"", b"{", b"\xff{}", b"{} {}"],
    ids=repr,
)
def test_parse_json_object_rejects_anything_but_one_object(body: bytes) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_json_object(body, "the provider metadata")

    assert caught.value.code == "invalid_response"


def test_parse_json_object_rejects_deep_nesting() -> None:
    body = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    with pytest.raises(ValidationError):
        parse_json_object(body, "the token response")


def test_parse_json_object_accepts_an_ordinary_object() -> None:
    doc = {"issuer": "https://op.example.test", "n": 1.5, "list": [1, {"a": None}]}

    assert parse_json_object(json.dumps(doc).encode(), "metadata") == doc


def test_response_json_uses_the_strict_parser() -> None:
    response = Response(200, {}, b'{"a": 1, "a": 2}')

    with pytest.raises(ValidationError):
        response.json("the token response")


# Slow servers (HTTP-01)


def _trickling_server(head: bytes, seconds: float) -> int:
    """Send ``head``, then one byte every 0.05 s for ``seconds``, then close."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        with listener:
            connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(head)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    connection.sendall(b"a")
                except OSError:
                    return
                time.sleep(0.05)

    threading.Thread(target=run, daemon=True).start()
    port: int = listener.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Slow: ",
    ],
    ids=["body", "headers"],
)
def test_http_01_trickling_server_hits_the_overall_deadline(head: bytes) -> None:
    port = _trickling_server(head, seconds=2)
    started = time.monotonic()

    with HTTP(timeout=0.3) as http, pytest.raises(TransportError) as caught:
        http.get(f"http://127.0.0.1:{port}/jwks", what="jwks")

    assert caught.value.code == "deadline_exceeded"
    assert time.monotonic() - started < 1.6
    assert caught.value.message.endswith(
        "took too long to answer; check the network or the proxy (HTTPS_PROXY), "
        "or try again"
    )


def test_a_token_endpoint_that_does_not_answer_says_what_to_check() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def silent() -> None:  # reads the request, says nothing, then hangs up
        with listener:
            connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            time.sleep(2)

    threading.Thread(target=silent, daemon=True).start()

    with HTTP(timeout=0.3) as http, pytest.raises(TransportError) as caught:
        http.post_form(
            f"http://127.0.0.1:{port}/token", {"a": "b"}, what="token endpoint"
        )

    assert caught.value.code == "timeout"
    assert caught.value.message == (
        f"the token endpoint at 127.0.0.1:{port} did not answer in time; "
        "check the network or the proxy (HTTPS_PROXY), or try again"
    )
