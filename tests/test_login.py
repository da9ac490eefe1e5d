"""``oauthcli login`` and the seed API, end to end against the real provider.

The CLI runs as a user runs it (a subprocess, ``BROWSER`` pointing at a
scripted user); no HTTP is mocked. Cases C01-C18 are from
shared/cases/login-failures.md.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from clirun import cli_env, login_args, oauthcli, stored
from localprovider import HTTP_USER, LocalProvider
from oauthcli import (
    PKCE,
    CSRFState,
    LocalError,
    OAuth2,
    OAuth2Constants,
    login,
    set_commands,
)
from oauthcli.pkce import code_challenge
from oauthcli.session import Account

PORT_IN_STDERR = re.compile(r"return to http://[^:]+:(\d+)/")


def test_cli_login_then_token_prints_a_token_the_provider_says_is_active(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    before = provider.count_grants("authorization_code")

    result = oauthcli(*login_args(provider), env=env)

    assert result.returncode == 0, result.stderr
    assert f"Logged in to {provider.issuer} as alice@example.test" in result.stderr
    assert result.stdout == ""
    assert provider.count_grants("authorization_code") == before + 1

    token = oauthcli("token", env=env)
    assert token.returncode == 0, token.stderr
    access_token = token.stdout.removesuffix("\n")
    assert token.stdout == access_token + "\n"
    assert provider.introspect(access_token)["active"] is True

    document = stored(oauthcli_home)
    assert document is not None
    tokens = document["tokens"]
    assert isinstance(tokens, dict)
    for secret in (tokens["access_token"], tokens["refresh_token"], tokens["id_token"]):
        assert secret not in result.stderr
    assert document["account"] == {"sub": "alice", "name": "alice@example.test"}
    assert (
        oct((oauthcli_home / "profiles" / "default.json").stat().st_mode)[-3:] == "600"
    )


@pytest.mark.browser
def test_cli_login_through_headless_chromium(
    provider: LocalProvider, oauthcli_home: Path, chromium_browser: str
) -> None:
    env = cli_env(oauthcli_home, chromium_browser, OAUTHCLI_TEST_LOGIN="carol")
    result = oauthcli(*login_args(provider), env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "as carol@example.test" in result.stderr
    token = oauthcli("token", env=env)
    assert token.returncode == 0
    assert provider.introspect(token.stdout.strip())["active"] is True


def run_http_user(url: str) -> bool:
    done = subprocess.run(
        [sys.executable, str(HTTP_USER), url], check=False, timeout=60
    )
    return done.returncode == 0


def test_the_seed_api_logs_in_as_documented(provider: LocalProvider) -> None:
    constants = OAuth2Constants(client_id="cli-app", authz_server_host=provider.issuer)
    notices: list[str] = []
    with PKCE() as pkce, CSRFState() as csrf_state:
        flow = OAuth2(
            pkce, csrf_state, constants, opener=run_http_user, notify=notices.append
        )
        auth_code = flow.authorization_request()  # A + B
        token = flow.access_token_request(auth_code)  # C + D
    assert provider.introspect(token)["active"] is True
    assert flow.id_token_claims is not None
    assert flow.id_token_claims["sub"] == "alice"
    assert any("open this URL" in line for line in notices)
    assert not any("oauthcli login" in line for line in notices)  # not our CLI
    assert pkce._verifier is None  # wiped on exit


def test_an_embedding_program_names_its_own_device_login(
    provider: LocalProvider,
) -> None:
    constants = OAuth2Constants(client_id="cli-app", authz_server_host=provider.issuer)
    notices: list[str] = []
    set_commands(login="latch login", device="latch login --code")
    try:
        with PKCE() as pkce, CSRFState() as csrf_state:
            flow = OAuth2(
                pkce, csrf_state, constants, opener=run_http_user, notify=notices.append
            )
            flow.access_token_request(flow.authorization_request())
    finally:
        set_commands(login=None)
    assert any("or log in with `latch login --code`" in line for line in notices)
    assert not any("oauthcli login" in line for line in notices)


def test_the_seed_connection_parameter_is_sent(provider: LocalProvider) -> None:
    urls: list[str] = []

    def opener(url: str) -> bool:
        urls.append(url)
        return run_http_user(url)

    constants = OAuth2Constants(client_id="cli-app", authz_server_host=provider.issuer)
    with PKCE() as pkce, CSRFState() as csrf_state:
        flow = OAuth2(pkce, csrf_state, constants, opener=opener, notify=lambda _: None)
        auth_code = flow.authorization_request("github")
        verifier = pkce.verifier
        challenge = code_challenge(verifier)
        tokens = flow.token_request(auth_code)
    assert "connection=github" in urls[0]
    assert f"code_challenge={challenge}&code_challenge_method=S256" in urls[0]
    assert verifier not in urls[0]  # PKCE-07: only in the token request body
    assert tokens.refresh_token is not None


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("cli-secret-basic", "s3cret:+%/-basic"), ("cli-secret-post", "s3cret-post")],
)
def test_confidential_clients_log_in_with_their_secret(
    provider: LocalProvider,
    oauthcli_home: Path,
    http_browser: str,
    client_id: str,
    secret: str,
) -> None:
    method = (
        "client_secret_post" if client_id.endswith("post") else "client_secret_basic"
    )
    env = cli_env(oauthcli_home, http_browser, OAUTHCLI_CLIENT_SECRET=secret)
    args = login_args(provider, client_id, "--token-endpoint-auth-method", method)
    result = oauthcli(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert secret not in result.stderr
    document = stored(oauthcli_home)
    assert document is not None
    settings = document["settings"]
    assert isinstance(settings, dict)
    assert settings["token_endpoint_auth_method"] == method


def test_c03_a_localhost_registration_gets_the_identical_redirect_uri(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    args = login_args(provider, "cli-localhost-only", "--redirect-host", "localhost")
    result = oauthcli(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert "return to http://localhost:" in result.stderr


def test_c03_an_unregistered_redirect_uri_names_the_uri_that_was_sent(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    result = oauthcli(
        *login_args(provider, "cli-localhost-only", "--timeout", "3"), env=env
    )
    assert result.returncode == 1
    assert "http://127.0.0.1" in result.stderr
    assert "/callback" in result.stderr.splitlines()[-1]
    assert stored(oauthcli_home) is None


def ports_free(*ports: int) -> bool:
    for port in ports:
        with socket.socket() as probe:
            # Like the listener: TIME_WAIT left by an earlier test is no owner.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def test_c02_a_busy_allow_listed_port_moves_to_the_next_allowed_one(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    assert ports_free(8020, 8021, 8022), "the test needs 8020-8022 free"
    env = cli_env(oauthcli_home, http_browser)
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 8020))
        holder.listen()
        result = oauthcli(
            *login_args(provider, "cli-fixed-ports", "--port", "8020-8022"), env=env
        )
    assert result.returncode == 0, result.stderr
    assert "return to http://127.0.0.1:8021/callback" in result.stderr


def test_c02_all_allow_listed_ports_busy_is_a_clear_error(
    provider: LocalProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    assert ports_free(8020, 8021, 8022), "the test needs 8020-8022 free"
    marker = tmp_path / "browser-ran"
    env = cli_env(oauthcli_home, f"touch {marker} %s")
    holders = []
    for port in (8020, 8021, 8022):
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen()
        holders.append(holder)
    try:
        result = oauthcli(
            *login_args(provider, "cli-fixed-ports", "--port", "8020-8022"), env=env
        )
    finally:
        for holder in holders:
            holder.close()
    assert result.returncode == 1
    assert "8020, 8021, 8022" in result.stderr
    assert not marker.exists()  # failed before any browser launch


def test_c01_a_busy_fixed_port_fails_at_once_before_the_browser(
    provider: LocalProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "browser-ran"
    env = cli_env(oauthcli_home, f"touch {marker} %s")
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))  # noqa: S104 - the other program holds the wildcard
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()
        result = oauthcli(
            *login_args(provider, "cli-app", "--port", str(port)), env=env
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert f"port {port} is already in use" in result.stderr
    assert elapsed < 10
    assert not marker.exists()
    assert stored(oauthcli_home) is None


def test_c08_denied_consent_fails_at_once_and_keeps_the_stored_login(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    assert oauthcli(*login_args(provider), env=env).returncode == 0
    before = stored(oauthcli_home)
    grants = provider.count_grants("authorization_code")

    denied = oauthcli(*login_args(provider), env={**env, "OAUTHCLI_TEST_DENY": "1"})

    assert denied.returncode == 1
    assert "access_denied" in denied.stderr
    assert "Traceback" not in denied.stderr
    assert provider.count_grants("authorization_code") == grants
    assert stored(oauthcli_home) == before


def start_waiting_login(
    provider: LocalProvider, env: Mapping[str, str], *more: str
) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oauthcli",
            *login_args(provider, "cli-app", "--no-browser", *more),
        ],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen = ""
    while (match := PORT_IN_STDERR.search(seen)) is None:
        line = process.stderr.readline()
        assert line, f"login exited early: {seen}"
        seen += line
    return process, int(match.group(1))


def test_c10_a_callback_with_a_wrong_state_is_refused_and_nothing_is_redeemed(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    env = cli_env(oauthcli_home, None)
    grants = provider.count_grants("authorization_code", error=True)
    grants += provider.count_grants("authorization_code")
    process, port = start_waiting_login(provider, env, "--timeout", "3")
    for query in ("code=attacker&state=wrong", "code=attacker"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            request = (
                f"GET /callback?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
            )
            conn.sendall(request.encode())
            assert conn.recv(100).split(b" ")[1] == b"400"
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "did not carry this login's state" in stderr
    assert "timed out" in stderr
    after = provider.count_grants("authorization_code", error=True)
    after += provider.count_grants("authorization_code")
    assert after == grants  # nothing reached the token endpoint
    assert stored(oauthcli_home) is None


def test_c09_no_redirect_times_out_and_releases_a_fixed_port(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = cli_env(oauthcli_home, None)
    started = time.monotonic()
    result = oauthcli(
        *login_args(
            provider, "cli-app", "--no-browser", "--timeout", "2", "--port", str(port)
        ),
        env=env,
    )
    assert result.returncode == 1
    assert "timed out after 2 s waiting for the browser" in result.stderr
    assert time.monotonic() - started < 15
    assert ports_free(port)


def test_ctrl_c_ends_the_login_cleanly_with_exit_130(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    import signal

    process, port = start_waiting_login(provider, cli_env(oauthcli_home, None))
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 130
    assert "cancelled" in stderr
    assert "Traceback" not in stderr
    assert ports_free(port)


def test_c11_the_browser_gets_the_url_byte_for_byte_as_printed(
    provider: LocalProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    seen = tmp_path / "url-seen"
    recorder = tmp_path / "record_then_login.py"
    recorder.write_text(
        "import pathlib, subprocess, sys\n"
        f"pathlib.Path({str(seen)!r}).write_text(sys.argv[1])\n"
        "sys.exit(subprocess.call("
        f"[sys.executable, {str(HTTP_USER)!r}, sys.argv[1]]))\n"
    )
    awkward = "a&b=c%25d^e+f " + "x" * 1800
    env = cli_env(oauthcli_home, f"{sys.executable} {recorder} %s")
    result = oauthcli(
        *login_args(provider, "cli-app", "--param", f"ui_hint={awkward}"), env=env
    )
    assert result.returncode == 0, result.stderr
    printed = next(
        line.strip()
        for line in result.stderr.splitlines()
        if line.strip().startswith("http")
    )
    assert seen.read_text() == printed
    assert len(printed) > 2000


def test_c16_a_required_scope_the_provider_did_not_grant_fails_listing_it(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    args = login_args(provider, "cli-app", "--require-scope", "phone")
    result = oauthcli(*args, env=env)
    assert result.returncode == 1
    assert "required scope(s): phone" in result.stderr
    assert stored(oauthcli_home) is None


def test_c17_a_repeat_login_without_a_refresh_token_keeps_the_old_one(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    assert oauthcli(*login_args(provider), env=env).returncode == 0
    first = stored(oauthcli_home)
    assert first is not None
    first_tokens = first["tokens"]
    assert isinstance(first_tokens, dict)
    # A client without the refresh_token grant gets no refresh token; keep
    # the account and client the same by logging in again with scope openid.
    result = oauthcli(*login_args(provider, "cli-app", "--scope", "openid"), env=env)
    assert result.returncode == 0, result.stderr
    second = stored(oauthcli_home)
    assert second is not None
    second_tokens = second["tokens"]
    assert isinstance(second_tokens, dict)
    assert second_tokens["access_token"] != first_tokens["access_token"]
    assert second_tokens["refresh_token"] is not None


def test_token_without_a_login_exits_3_and_says_how_to_log_in(
    oauthcli_home: Path,
) -> None:
    result = oauthcli("token", "--profile", "work", env=cli_env(oauthcli_home, None))
    assert result.returncode == 3
    assert result.stdout == ""
    assert "oauthcli login --issuer URL --client-id ID --profile work" in result.stderr


def test_c18_the_account_falls_back_to_preferred_username_then_sub() -> None:
    assert Account.from_claims(
        {"sub": "u1", "preferred_username": "user@example.test"}
    ) == (Account(sub="u1", display_name="user@example.test"))
    assert Account.from_claims({"sub": "u1"}).display_name == "u1"
    assert (
        Account.from_claims({"sub": "u1", "email": "a@b.test"}).display_name
        == "a@b.test"
    )


@pytest.mark.parametrize(
    ("claims", "shown"),
    [
        ({"preferred_username": "\x1b]0;pwned\x07bob"}, "]0;pwned bob"),
        ({"email": "\u202eevil@example.test"}, "evil@example.test"),
        ({"email": "a\ud800b@example.test"}, "a b@example.test"),
        ({"email": "\x1b\x07", "preferred_username": "bob"}, "bob"),
        ({"email": "\u200f"}, "u1"),
        ({"sub": "\x1b[2Jeve"}, "[2Jeve"),
    ],
    ids=ascii,
)
def test_the_account_name_has_no_control_bidi_or_surrogate_characters(
    claims: dict[str, str], shown: str
) -> None:
    account = Account.from_claims({"sub": "u1", **claims})

    assert account.display_name == shown
    assert account.sub == claims.get("sub", "u1")  # kept as sent, to compare with


def test_c05_a_failing_browser_launcher_is_reported_and_never_claimed(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    env = cli_env(oauthcli_home, "false %s")
    result = oauthcli(*login_args(provider, "cli-app", "--timeout", "2"), env=env)
    assert result.returncode == 1
    assert (
        "The browser command exited with status 1; if no login page appeared, "
        "open the URL above yourself." in result.stderr
    )
    assert "Could not open a browser" not in result.stderr  # it may have shown one
    assert "Opened the login page" not in result.stderr
    assert "open this URL in a browser" in result.stderr


def test_the_browser_line_claims_only_the_asking_and_comes_before_the_wait(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    # A launcher that blocks (as a BROWSER command does until it exits).
    env = cli_env(oauthcli_home, "sh -c 'sleep 3' %s")
    result = oauthcli(*login_args(provider, "cli-app", "--timeout", "1"), env=env)

    assert result.returncode == 1
    asked = result.stderr.index(
        "Asked the browser to open the login page; if nothing appeared, open the "
        "URL above yourself, or log in with `oauthcli login --device`.\n"
    )
    assert asked < result.stderr.index("Waiting for the browser to return")
    assert "Opened the login page" not in result.stderr
    assert "Could not open a browser" not in result.stderr


def test_an_ipv6_loopback_redirect_logs_in(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("::1 is not configured on this machine")
    env = cli_env(oauthcli_home, http_browser)
    result = oauthcli(
        *login_args(provider, "cli-app", "--redirect-host", "[::1]"), env=env
    )
    assert result.returncode == 0, result.stderr
    assert "return to http://[::1]:" in result.stderr


def test_cb_25_no_callback_ever_times_out_and_suggests_the_other_ways(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    result = oauthcli(
        *login_args(provider, "cli-app", "--no-browser", "--timeout", "1"),
        env=cli_env(oauthcli_home, None),
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "timed out after 1 s" in last
    assert "paste the address" in last
    assert "--device" in last
    assert stored(oauthcli_home) is None


def test_the_listener_port_is_free_once_login_returns(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    """The listener winds down while the code is redeemed, but never later
    than the return of ``login``."""
    import urllib.parse

    seen: list[int] = []

    def user(url: str) -> bool:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        seen.append(urllib.parse.urlsplit(query["redirect_uri"][0]).port or 0)
        return run_http_user(url)

    constants = OAuth2Constants(client_id="cli-app", authz_server_host=provider.issuer)
    login(constants, opener=user, notify=lambda _: None)

    assert len(seen) == 1
    assert ports_free(seen[0])


def test_a_claims_parameter_nested_5000_deep_asks_for_no_acr() -> None:
    # json.loads raised RecursionError while the ID token was being checked.
    from oauthcli.oauth2 import _essential_acr

    constants = OAuth2Constants(
        client_id="cli-app",
        authz_server_host="https://idp.example.test",
        extra_params={"claims": "[" * 5000 + "]" * 5000},
    )
    assert _essential_acr(constants.extra_params) is None


@pytest.mark.parametrize("device", [False, True], ids=["browser", "device"])
def test_a_profile_name_the_store_refuses_fails_before_the_browser(
    provider: LocalProvider, device: bool
) -> None:
    # It failed only when the login was stored, after the user had logged in.
    opened: list[str] = []

    def opener(url: str) -> bool:
        opened.append(url)
        return True

    constants = OAuth2Constants(
        client_id="cli-app", authz_server_host=provider.issuer, login_timeout=2
    )
    with pytest.raises(LocalError) as refused:
        login(
            constants,
            profile="../x",
            device=device,
            opener=opener,
            notify=lambda _: None,
        )
    assert refused.value.code == "invalid_argument"
    assert "profile name" in refused.value.message
    assert opened == []


@pytest.mark.parametrize("profile", [None, 5], ids=["none", "an-int"])
def test_a_profile_that_is_not_a_string_is_our_own_error(profile: object) -> None:
    constants = OAuth2Constants(client_id="cli-app", authz_server_host="idp.test")
    with pytest.raises(LocalError) as refused:
        login(constants, profile=profile, notify=lambda _: None)  # type: ignore[arg-type]
    assert refused.value.code == "invalid_argument"
