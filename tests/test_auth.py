"""The httpx and requests adapters against a resource server that checks
tokens at the real provider's introspection endpoint."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from clirun import cli_env, login_args, oauthcli, stored
from evilprovider import Canned, EvilProvider, ScriptedUser
from localprovider import LocalProvider
from oauthcli import BearerAuth, OAuth2Constants, RequestsBearerAuth
from oauthcli.auth import is_invalid_token
from oauthcli.dpop import NONCES
from oauthcli.session import login


class ResourceServer:
    """GET /me: 200 for a token the provider calls active, else 401."""

    def __init__(self, provider: LocalProvider) -> None:
        self.provider = provider
        self.refused: set[str] = set()  # tokens revoked "on the server side"
        self.refuse_all = False
        self.challenge = 'Bearer error="invalid_token"'
        self.seen: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                owner.seen.append(token)
                active = (
                    not owner.refuse_all
                    and token not in owner.refused
                    and owner.provider.introspect(token).get("active")
                )
                body = json.dumps({"ok": bool(active)}).encode()
                self.send_response(200 if active else 401)
                if not active:
                    self.send_header("WWW-Authenticate", owner.challenge)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/me"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def resource(provider: LocalProvider) -> Iterator[ResourceServer]:
    server = ResourceServer(provider)
    yield server
    server.close()


@pytest.fixture
def access_token(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> str:
    result = oauthcli(*login_args(provider), env=cli_env(oauthcli_home, http_browser))
    assert result.returncode == 0, result.stderr
    entry = stored(oauthcli_home)
    assert entry is not None
    token: str = entry["tokens"]["access_token"]
    return token


def test_httpx_auth_sends_the_stored_token(
    resource: ResourceServer, access_token: str
) -> None:
    with httpx.Client(auth=BearerAuth(), trust_env=False) as client:
        assert client.get(resource.url).status_code == 200
    assert resource.seen == [access_token]


def test_st_27_a_refused_valid_looking_token_is_refreshed_once_and_retried(
    provider: LocalProvider, resource: ResourceServer, access_token: str
) -> None:
    resource.refused.add(access_token)
    grants = provider.count_grants("refresh_token")
    with httpx.Client(auth=BearerAuth(), trust_env=False) as client:
        assert client.get(resource.url).status_code == 200
        assert client.get(resource.url).status_code == 200
    assert provider.count_grants("refresh_token") == grants + 1
    assert resource.seen[0] == access_token
    assert resource.seen[1] == resource.seen[2] != access_token


def test_a_401_without_invalid_token_is_not_retried(
    provider: LocalProvider, resource: ResourceServer, access_token: str
) -> None:
    resource.refused.add(access_token)
    resource.challenge = 'Bearer realm="api"'
    grants = provider.count_grants("refresh_token")
    with httpx.Client(auth=BearerAuth(), trust_env=False) as client:
        assert client.get(resource.url).status_code == 401
    assert resource.seen == [access_token]
    assert provider.count_grants("refresh_token") == grants


def test_async_httpx_auth_refreshes_and_retries(
    provider: LocalProvider, resource: ResourceServer, access_token: str
) -> None:
    resource.refused.add(access_token)

    async def fetch() -> int:
        async with httpx.AsyncClient(auth=BearerAuth(), trust_env=False) as client:
            return (await client.get(resource.url)).status_code

    assert asyncio.run(fetch()) == 200
    assert len(resource.seen) == 2


def test_requests_auth_refreshes_and_retries_once(
    provider: LocalProvider, resource: ResourceServer, access_token: str
) -> None:
    resource.refused.add(access_token)
    grants = provider.count_grants("refresh_token")
    with requests.Session() as session:
        session.trust_env = False
        response = session.get(resource.url, auth=RequestsBearerAuth(), timeout=30)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert provider.count_grants("refresh_token") == grants + 1


def test_requests_auth_gives_up_after_one_retry(
    provider: LocalProvider, resource: ResourceServer, access_token: str
) -> None:
    resource.refuse_all = True
    with requests.Session() as session:
        session.trust_env = False
        response = session.get(resource.url, auth=RequestsBearerAuth(), timeout=30)
    assert response.status_code == 401
    assert len(resource.seen) == 2


@pytest.mark.parametrize(
    ("status", "challenge", "expected"),
    [
        (401, 'Bearer error="invalid_token"', True),
        (401, 'bearer realm="x", error="invalid_token", error_description="y"', True),
        (401, "Bearer error=invalid_token", True),
        (401, 'Bearer error="insufficient_scope"', False),
        (401, 'Basic realm="x"', False),
        (403, 'Bearer error="invalid_token"', False),
    ],
)
def test_invalid_token_challenges_are_recognised(
    status: int, challenge: str, expected: bool
) -> None:
    assert is_invalid_token(status, {"www-authenticate": challenge}) is expected


# Redirects (checklist REDIR-05): the token and the proof stay at their origin.


@pytest.fixture
def op(oauthcli_home: Path) -> Iterator[EvilProvider]:
    with EvilProvider() as provider:
        yield provider


class Elsewhere:
    """Another origin: answers every GET 401 with ``challenge`` and logs it."""

    def __init__(self, challenge: str | None = None) -> None:
        self.seen: list[dict[str, str]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.seen.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(401)
                if challenge is not None:
                    self.send_header("WWW-Authenticate", challenge)
                    self.send_header("DPoP-Nonce", "foreign-nonce")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/steal"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def evil_login(op: EvilProvider, **changes: Any) -> None:
    user = ScriptedUser()
    settings = OAuth2Constants(
        client_id=op.client_id,
        authz_server_host=op.issuer,
        login_timeout=5.0,
        http_timeout=2.0,
        **changes,
    )
    login(settings, opener=user, notify=lambda _: None)
    user.wait()


def refreshes(op: EvilProvider) -> int:
    grants = [r.form.get("grant_type") for r in op.requests("token")]
    return grants.count("refresh_token")


@pytest.mark.parametrize("dpop", [False, True])
def test_redir_05_requests_auth_never_sends_a_refreshed_token_to_a_redirect_target(
    op: EvilProvider, dpop: bool
) -> None:
    elsewhere = Elsewhere()  # 401 without a challenge: "the token is dead"
    evil_login(op, dpop=dpop)
    op.canned["resource"] = Canned.redirect(elsewhere.url)
    try:
        with requests.Session() as session:
            session.trust_env = False
            answer = session.get(op.url("resource"), auth=RequestsBearerAuth())
    finally:
        elsewhere.close()

    assert answer.status_code == 401
    assert len(elsewhere.seen) == 1
    assert "authorization" not in elsewhere.seen[0]
    assert "dpop" not in elsewhere.seen[0]
    assert refreshes(op) == 0
    assert len(op.requests("resource")) == 1


@pytest.mark.parametrize("dpop", [False, True])
def test_redir_05_a_redirect_to_an_unusable_url_is_requests_own_error(
    op: EvilProvider, dpop: bool
) -> None:
    """Callers catch requests.RequestException; a bare ValueError from the
    hook that strips the headers escaped them."""
    evil_login(op, dpop=dpop)
    op.canned["resource"] = Canned.redirect("http://127.0.0.1:99999/x", status=307)
    with requests.Session() as session:
        session.trust_env = False
        with pytest.raises(requests.RequestException):
            session.post(op.url("resource"), auth=RequestsBearerAuth(), timeout=30)
    assert len(op.requests("resource")) == 1


def test_redir_05_a_foreign_use_dpop_nonce_challenge_is_not_answered(
    op: EvilProvider,
) -> None:
    elsewhere = Elsewhere('DPoP error="use_dpop_nonce"')
    evil_login(op, dpop=True)
    op.canned["resource"] = Canned.redirect(elsewhere.url)
    try:
        with requests.Session() as session:
            session.trust_env = False
            by_requests = session.get(op.url("resource"), auth=RequestsBearerAuth())
        with httpx.Client(
            auth=BearerAuth(), follow_redirects=True, trust_env=False
        ) as client:
            by_httpx = client.get(op.url("resource"))
    finally:
        elsewhere.close()

    assert [by_requests.status_code, by_httpx.status_code] == [401, 401]
    assert len(elsewhere.seen) == 2  # one hop each, no retry
    assert all("authorization" not in sent for sent in elsewhere.seen)
    assert "dpop" not in elsewhere.seen[0]  # httpx copies it: see the docstring
    assert len(op.requests("resource")) == 2
    assert refreshes(op) == 0
    assert NONCES.get(op.url("resource")) != "foreign-nonce"
