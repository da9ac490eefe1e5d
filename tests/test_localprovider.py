"""The test fixtures themselves: the local provider and the scripted users.

These use only httpx and the standard library, so that they say whether the
fixtures work independently of oauthcli.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shlex
import socket
import subprocess
import threading
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest

from localprovider import (
    CLI_SECRET_BASIC,
    DEVICE_CODE_GRANT,
    HTTP_USER,
    LocalProvider,
    ProviderFactory,
    browser_command,
)


@dataclass
class Callback:
    """What the app's loopback redirect_uri received."""

    redirect_uri: str
    queries: list[dict[str, str]] = field(default_factory=list)

    @property
    def params(self) -> dict[str, str]:
        """The one callback's query parameters."""
        assert len(self.queries) == 1, self.queries
        return self.queries[0]


class _Server(HTTPServer):
    callback: Callback


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/callback":  # Chromium also asks for /favicon.ico
            self.send_error(404)
            return
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        self.server.callback.queries.append(query)
        body = b"<!DOCTYPE html><title>Done</title>You can close this page."
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the URL carries the code."""


@contextmanager
def loopback_callback(host: str = "127.0.0.1", port: int = 0) -> Iterator[Callback]:
    """A stdlib HTTP server on a loopback address answering /callback."""
    server_class = _IPv6Server if host == "[::1]" else _Server
    bind = {"[::1]": "::1", "localhost": "127.0.0.1"}.get(host, host)
    server = server_class((bind, port), _Handler)
    server.callback = Callback(f"http://{host}:{server.server_address[1]}/callback")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.callback
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass(frozen=True)
class Authorization:
    """One authorization request and the PKCE verifier that goes with it."""

    url: str
    code_verifier: str


def authorization(
    provider: LocalProvider, client_id: str, redirect_uri: str
) -> Authorization:
    """An authorization code request with PKCE S256, as a native app sends it."""
    verifier = secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    query = urlencode(
        {
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "scope": "openid email profile",
            "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    url = f"{provider.metadata()['authorization_endpoint']}?{query}"
    return Authorization(url, verifier)


def run_user(
    browser: str, url: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a BROWSER command the way webbrowser does: split, then fill %s."""
    argv = [arg.replace("%s", url) for arg in shlex.split(browser)]
    return subprocess.run(
        argv,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def redeem(
    provider: LocalProvider,
    code: str,
    auth: Authorization,
    redirect_uri: str,
    client_id: str = "cli-app",
    client_secret: str | None = None,
) -> httpx.Response:
    """The token request for an authorization code; client_secret_basic if set."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": auth.code_verifier,
    }
    basic: tuple[str, str] | None = None
    if client_secret is None:
        data["client_id"] = client_id
    else:
        # RFC 6749 section 2.3.1: form-urlencode both before base64.
        basic = (quote(client_id, safe=""), quote(client_secret, safe=""))
    token_endpoint = provider.metadata()["token_endpoint"]
    return httpx.post(token_endpoint, data=data, auth=basic, trust_env=False)


def test_discovery_names_the_issuer_and_announces_iss_in_responses(
    provider: LocalProvider,
) -> None:
    metadata = provider.metadata()

    assert provider.issuer.startswith("http://127.0.0.1:")
    assert metadata["issuer"] == provider.issuer
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    for endpoint in ("introspection", "revocation", "device_authorization"):
        assert f"{endpoint}_endpoint" in metadata


def test_login_page_loads_nothing_from_the_internet(provider: LocalProvider) -> None:
    auth = authorization(provider, "cli-app", "http://127.0.0.1:1234/callback")
    with httpx.Client(trust_env=False, follow_redirects=True) as client:
        page = client.get(auth.url)

    assert page.status_code == 200
    assert 'name="login"' in page.text
    assert "https://" not in page.text


def test_pkce_login_with_the_http_user_gives_tokens(
    make_provider: ProviderFactory, http_browser: str
) -> None:
    provider = make_provider()

    with loopback_callback() as callback:
        auth = authorization(provider, "cli-app", callback.redirect_uri)
        assert webbrowser.get(http_browser).open(auth.url)
    params = callback.params
    assert params["iss"] == provider.issuer
    assert set(params) == {"code", "state", "iss"}

    response = redeem(provider, params["code"], auth, callback.redirect_uri)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert {"access_token", "id_token", "refresh_token"} <= set(tokens)
    introspection = provider.introspect(tokens["access_token"])
    assert introspection["active"] is True
    assert introspection["sub"] == "alice"
    assert introspection["client_id"] == "cli-app"
    assert provider.count_grants("authorization_code") == 1

    refreshed = httpx.post(
        provider.metadata()["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "cli-app",
        },
        trust_env=False,
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"]
    assert provider.count_grants("refresh_token") == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_denying_user_sends_access_denied_to_every_loopback_host(
    provider: LocalProvider, http_browser: str, host: str, tmp_path: Path
) -> None:
    names_log = tmp_path / "callback-names.txt"
    env = {"OAUTHCLI_TEST_DENY": "1", "OAUTHCLI_TEST_CALLBACK_LOG": str(names_log)}

    with loopback_callback(host) as callback:
        auth = authorization(provider, "cli-app", callback.redirect_uri)
        user = run_user(http_browser, auth.url, env)

    assert user.returncode == 0, user.stderr
    assert callback.params["error"] == "access_denied"
    assert callback.params["iss"] == provider.issuer
    assert "code" not in callback.params
    assert names_log.read_text().split() == list(callback.params)


def test_confidential_client_secret_needs_form_urlencoded_basic_auth(
    provider: LocalProvider, http_browser: str
) -> None:
    with loopback_callback() as callback:
        auth = authorization(provider, "cli-secret-basic", callback.redirect_uri)
        user = run_user(http_browser, auth.url)
    assert user.returncode == 0, user.stderr

    response = redeem(
        provider,
        callback.params["code"],
        auth,
        callback.redirect_uri,
        client_id="cli-secret-basic",
        client_secret=CLI_SECRET_BASIC,
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("client_id", "redirect_uri", "accepted"),
    [
        ("cli-fixed-ports", "http://127.0.0.1:8020/callback", True),
        ("cli-fixed-ports", "http://127.0.0.1:8022/callback", True),
        ("cli-fixed-ports", "http://127.0.0.1:8023/callback", False),
        ("cli-fixed-ports", "http://localhost:8020/callback", False),
        ("cli-app", "http://127.0.0.1:8023/callback", True),
        ("cli-app", "http://[::1]:41000/callback", True),
        ("cli-app", "http://127.0.0.1:8023/", False),
        ("cli-localhost-only", "http://localhost:8023/callback", True),
        ("cli-localhost-only", "http://127.0.0.1:8023/callback", False),
    ],
)
def test_redirect_uri_rules_per_client(
    provider: LocalProvider, client_id: str, redirect_uri: str, accepted: bool
) -> None:
    auth = authorization(provider, client_id, redirect_uri)
    with httpx.Client(trust_env=False) as client:
        response = client.get(auth.url)

    if accepted:
        assert response.status_code == 303
        assert response.headers["location"].startswith("/interaction/")
    else:
        assert response.status_code == 400
        assert "invalid_redirect_uri" in response.text


def test_http_user_reports_a_refused_redirect_uri(
    provider: LocalProvider, http_browser: str
) -> None:
    auth = authorization(provider, "cli-fixed-ports", "http://127.0.0.1:8023/callback")

    user = run_user(http_browser, auth.url)

    assert user.returncode == 1
    assert "invalid_redirect_uri" in user.stderr


@pytest.mark.parametrize("deny", [False, True])
def test_http_user_answers_a_device_authorization(
    provider: LocalProvider, http_browser: str, deny: bool
) -> None:
    metadata = provider.metadata()
    device = httpx.post(
        metadata["device_authorization_endpoint"],
        data={"client_id": "cli-app", "scope": "openid email"},
        trust_env=False,
    ).json()
    env = {"OAUTHCLI_TEST_LOGIN": "bob", "OAUTHCLI_TEST_DENY": "1" if deny else ""}
    before = provider.count_grants(DEVICE_CODE_GRANT)

    user = run_user(http_browser, device["verification_uri_complete"], env)
    response = httpx.post(
        metadata["token_endpoint"],
        data={
            "grant_type": DEVICE_CODE_GRANT,
            "device_code": device["device_code"],
            "client_id": "cli-app",
        },
        trust_env=False,
    )

    assert user.returncode == 0, user.stderr
    if deny:
        assert response.json()["error"] == "access_denied"
    else:
        assert response.status_code == 200, response.text
        assert provider.introspect(response.json()["access_token"])["sub"] == "bob"
        assert provider.count_grants(DEVICE_CODE_GRANT) == before + 1


@pytest.mark.browser
def test_pkce_login_with_chromium_gives_tokens(
    provider: LocalProvider, chromium_browser: str
) -> None:
    with loopback_callback() as callback:
        auth = authorization(provider, "cli-app", callback.redirect_uri)
        assert webbrowser.get(chromium_browser).open(auth.url)

    response = redeem(provider, callback.params["code"], auth, callback.redirect_uri)
    assert response.status_code == 200, response.text
    assert provider.introspect(response.json()["access_token"])["active"] is True


def test_browser_command_quotes_paths_for_webbrowser(tmp_path: Path) -> None:
    script = tmp_path / "dir with space" / "user's.py"

    command = browser_command(script)

    assert shlex.split(command)[1:] == [str(script), "%s"]
    assert browser_command(HTTP_USER).endswith(" %s")
