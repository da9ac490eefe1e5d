"""``oauthcli logout``, ``status`` and ``profiles`` against the real provider."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from clirun import cli_env, login_args, oauthcli, stored
from localprovider import LocalProvider
from oauthcli.store import write_entry


def log_in(
    provider: LocalProvider, env: dict[str, str], profile: str = "default"
) -> None:
    result = oauthcli(*login_args(provider, "cli-app", "--profile", profile), env=env)
    assert result.returncode == 0, result.stderr


def test_rev_01_logout_revokes_at_the_provider_and_deletes_the_entry(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    log_in(provider, env)
    entry = stored(oauthcli_home)
    assert entry is not None
    tokens = entry["tokens"]

    result = oauthcli("logout", env=env)

    assert result.returncode == 0, result.stderr
    assert "revoked" in result.stderr
    assert stored(oauthcli_home) is None
    assert provider.introspect(tokens["refresh_token"])["active"] is False
    assert provider.introspect(tokens["access_token"])["active"] is False
    assert oauthcli("token", env=env).returncode == 3


def test_logout_no_revoke_only_forgets_locally(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    log_in(provider, env)
    entry = stored(oauthcli_home)
    assert entry is not None
    result = oauthcli("logout", "--no-revoke", env=env)
    assert result.returncode == 0
    assert stored(oauthcli_home) is None
    assert provider.introspect(entry["tokens"]["refresh_token"])["active"] is True


def test_st_25_two_profiles_keep_their_own_accounts_and_logout_removes_one(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    log_in(provider, env, "work")
    log_in(provider, {**env, "OAUTHCLI_TEST_LOGIN": "bob"}, "home")
    work, home = stored(oauthcli_home, "work"), stored(oauthcli_home, "home")
    assert work is not None
    assert home is not None
    assert work["account"]["sub"] == "alice"
    assert home["account"]["sub"] == "bob"

    listing = oauthcli("profiles", env={**env, "OAUTHCLI_PROFILE": "work"})
    assert listing.stdout == "  home  logged in\n* work  logged in\n"

    assert oauthcli("logout", "--profile", "work", env=env).returncode == 0
    assert stored(oauthcli_home, "work") is None
    assert stored(oauthcli_home, "home") == home
    token = oauthcli("token", "--profile", "home", env=env)
    assert token.stdout.strip() == home["tokens"]["access_token"]


def test_logout_all_logs_out_of_every_profile(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    log_in(provider, env, "a")
    log_in(provider, env, "b")
    result = oauthcli("logout", "--all", env=env)
    assert result.returncode == 0, result.stderr
    assert oauthcli("profiles", env=env).stdout == ""


def test_status_reports_a_login_in_text_and_json(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    log_in(provider, env)
    text = oauthcli("status", env=env)
    assert text.returncode == 0
    assert f"Issuer:    {provider.issuer}" in text.stdout
    assert "Account:   alice@example.test" in text.stdout
    assert "Refresh:   available" in text.stdout
    report = json.loads(oauthcli("status", "--format", "json", env=env).stdout)
    assert report["logged_in"] is True
    assert report["account"] == "alice@example.test"
    assert report["store"] == "file"
    entry = stored(oauthcli_home)
    assert entry is not None
    for secret in (entry["tokens"]["access_token"], entry["tokens"]["refresh_token"]):
        assert secret not in text.stdout + json.dumps(report)


def test_status_says_a_login_is_dpop_bound_in_text_and_json(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    result = oauthcli(*login_args(provider, "cli-app", "--dpop"), env=env)
    assert result.returncode == 0, result.stderr
    entry = stored(oauthcli_home)
    assert entry is not None
    jkt = entry["dpop"]["jkt"]

    text = oauthcli("status", env=env)
    report = json.loads(oauthcli("status", "--format", "json", env=env).stdout)

    assert f"Bound:     DPoP key {jkt}" in text.stdout
    assert report["token_type"] == "DPoP"
    assert report["dpop_jkt"] == jkt


def test_status_of_a_bearer_login_says_bearer_and_no_key(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    log_in(provider, env)

    text = oauthcli("status", env=env)
    report = json.loads(oauthcli("status", "--format", "json", env=env).stdout)

    assert "Bound:" not in text.stdout
    assert report["token_type"] == "Bearer"
    assert report["dpop_jkt"] is None


def test_status_of_an_expired_access_token_gives_the_past_expiry(
    oauthcli_home: Path,
) -> None:
    # expires_at was null for an expired token: the time it ran out was lost.
    env = cli_env(oauthcli_home, None)
    write_entry(
        "default",
        {
            "settings": {"issuer": "https://idp.test", "client_id": "x"},
            "tokens": {
                "access_token": "at",
                "refresh_token": "rt",
                "expires_at": 1700000000,
            },
        },
    )

    text = oauthcli("status", env=env)
    report = json.loads(oauthcli("status", "--format", "json", env=env).stdout)

    assert report["access_token_valid"] is False
    assert report["expires_at"] == "2023-11-14T22:13:20Z"
    assert "Access:    expired at 2023-11-14T22:13:20Z" in text.stdout


def test_profiles_marks_the_profiles_that_hold_a_stored_login(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    log_in(provider, env, "work")
    added = oauthcli(
        "profiles", "add", "corp", "--set", "issuer=https://idp.test", env=env
    )
    assert added.returncode == 0, added.stderr
    # What a refused refresh token leaves behind.
    refused = {"settings": {"issuer": "https://idp.test", "client_id": "x"}}
    write_entry("old", {**refused, "tokens": {}})

    listing = oauthcli("profiles", env={**env, "OAUTHCLI_PROFILE": "work"})

    assert listing.stdout == "  corp\n  old   login expired\n* work  logged in\n"


def test_status_without_a_login_exits_3(oauthcli_home: Path) -> None:
    result = oauthcli("status", env=cli_env(oauthcli_home, None))
    assert result.returncode == 3
    assert "not logged in" in result.stdout


def test_c12_status_reports_a_damaged_store_and_logout_removes_it(
    oauthcli_home: Path,
) -> None:
    env = cli_env(oauthcli_home, None)
    path = oauthcli_home / "profiles" / "default.json"
    path.parent.mkdir(mode=0o700)
    path.write_text('{"version": 1}}garbage')
    path.chmod(0o600)
    status = oauthcli("status", env=env)
    assert status.returncode == 3
    assert "damaged" in status.stdout
    assert "Traceback" not in status.stderr
    logout = oauthcli("logout", env=env)
    assert "damaged" in logout.stderr
    assert not path.exists()


class _FailingRevocation(http.server.BaseHTTPRequestHandler):
    status = 503

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b'{"error": "unsupported_token_type"}' if self.status == 400 else b""
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.status == 503:
            self.send_header("Retry-After", "120")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(params=[503, 400])
def failing_revocation(request: pytest.FixtureRequest) -> Iterator[str]:
    handler = type("Handler", (_FailingRevocation,), {"status": request.param})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/revoke"
    server.shutdown()
    server.server_close()


def test_rev_03_rev_04_a_failed_revocation_is_reported_and_the_entry_still_deleted(
    oauthcli_home: Path, failing_revocation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHCLI_HOME", str(oauthcli_home))
    write_entry(
        "default",
        {
            "settings": {"issuer": "http://127.0.0.1:1", "client_id": "cli"},
            "provider": {"revocation_endpoint": failing_revocation},
            "tokens": {"access_token": "at-x", "refresh_token": "rt-x"},
        },
    )
    result = oauthcli("logout", env=cli_env(oauthcli_home, None))
    assert result.returncode == 1
    assert "revoking the refresh token failed" in result.stderr
    assert "rt-x" not in result.stderr
    assert stored(oauthcli_home) is None
