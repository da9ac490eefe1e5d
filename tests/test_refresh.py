"""Silent refresh against the real provider, many processes at once.

The local provider rotates refresh tokens and revokes the whole grant when a
rotated one is presented again, so any race between refreshing processes
shows up as logged-out users and extra grants in its event log. The ST-16
tests use the evil provider (tests/evilprovider.py) instead, which can leave
a refresh request unanswered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import oauthcli.refresh as refresh_module
from clirun import cli_env, login_args, oauthcli, stored
from evilprovider import Canned, EvilProvider, Logged, ScriptedUser
from localprovider import LocalProvider, ProviderFactory
from oauthcli import OAuth2Constants, set_commands
from oauthcli.cli import main
from oauthcli.errors import LoginRequired, TransportError
from oauthcli.refresh import get_token, get_token_set
from oauthcli.session import login
from oauthcli.store import profile_lock, write_entry


@pytest.fixture
def logged_in(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> dict[str, str]:
    """A user logged in as 'default' whose access token has just expired."""
    env = cli_env(oauthcli_home, http_browser)
    result = oauthcli(*login_args(provider), env=env)
    assert result.returncode == 0, result.stderr
    expire_access_token(oauthcli_home)
    return env


def expire_access_token(home: Path, profile: str = "default") -> None:
    document = stored(home, profile)
    assert document is not None
    document["tokens"]["expires_at"] = time.time() - 10
    os.environ["OAUTHCLI_HOME"] = str(home)
    write_entry(profile, document)


def test_an_expired_token_is_refreshed_and_the_rotated_refresh_token_stored(
    provider: LocalProvider, logged_in: dict[str, str], oauthcli_home: Path
) -> None:
    before = stored(oauthcli_home)
    assert before is not None
    grants = provider.count_grants("refresh_token")

    result = oauthcli("token", env=logged_in)

    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    after = stored(oauthcli_home)
    assert after is not None
    assert token == after["tokens"]["access_token"] != before["tokens"]["access_token"]
    assert (
        after["tokens"]["refresh_token"] != before["tokens"]["refresh_token"]
    )  # TOK-09
    assert after["tokens"]["expires_at"] > time.time() + 60
    assert provider.count_grants("refresh_token") == grants + 1
    assert provider.introspect(token)["active"] is True
    assert token not in result.stderr


@pytest.mark.parametrize("processes", [16])
def test_st_12_c13_concurrent_processes_cause_exactly_one_refresh(
    provider: LocalProvider, logged_in: dict[str, str], processes: int
) -> None:
    grants = provider.count_grants("refresh_token")
    refused = provider.count_grants("refresh_token", error=True)
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "oauthcli", "token"],
            env=logged_in,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    outputs = [process.communicate(timeout=120) for process in running]

    assert [process.returncode for process in running] == [0] * processes, outputs
    tokens = {stdout.strip() for stdout, _ in outputs}
    assert len(tokens) == 1
    assert provider.count_grants("refresh_token") == grants + 1
    assert provider.count_grants("refresh_token", error=True) == refused
    assert provider.introspect(tokens.pop())["active"] is True


def test_st_13_threads_in_one_process_share_one_refresh(
    provider: LocalProvider, logged_in: dict[str, str]
) -> None:
    grants = provider.count_grants("refresh_token")
    results: list[str] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            results.append(get_token())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(set(results)) == 1
    assert len(results) == 8
    assert provider.count_grants("refresh_token") == grants + 1


def test_min_ttl_refreshes_a_token_that_is_still_valid(
    provider: LocalProvider, logged_in: dict[str, str], oauthcli_home: Path
) -> None:
    assert oauthcli("token", env=logged_in).returncode == 0
    grants = provider.count_grants("refresh_token")
    assert oauthcli("token", env=logged_in).returncode == 0
    assert provider.count_grants("refresh_token") == grants  # still fresh
    # Ten minutes into a one-hour token: 50 minutes left.
    entry = stored(oauthcli_home)
    assert entry is not None
    entry["tokens"]["obtained_at"] = time.time() - 600
    entry["tokens"]["expires_at"] = time.time() + 3000
    write_entry("default", entry)
    assert oauthcli("token", "--min-ttl", "2900", env=logged_in).returncode == 0
    assert provider.count_grants("refresh_token") == grants  # 3000 s > 2900 s
    result = oauthcli("token", "--min-ttl", "3100", env=logged_in)
    assert result.returncode == 0
    assert provider.count_grants("refresh_token") == grants + 1


def test_token_json_never_shows_the_refresh_token(
    logged_in: dict[str, str], oauthcli_home: Path
) -> None:
    result = oauthcli("token", "--format", "json", env=logged_in)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"access_token", "token_type", "expires_at", "scope"}
    assert document["token_type"] == "Bearer"
    assert document["expires_at"].endswith("Z")
    assert "openid" in document["scope"]
    entry = stored(oauthcli_home)
    assert entry is not None
    assert entry["tokens"]["refresh_token"] not in result.stdout


def test_invalid_grant_clears_the_tokens_and_says_log_in_again(
    make_provider: ProviderFactory, oauthcli_home: Path, http_browser: str
) -> None:
    first = make_provider()
    env = cli_env(oauthcli_home, http_browser)
    assert oauthcli(*login_args(first), env=env).returncode == 0
    # Revoking at the provider makes the stored refresh token worthless.
    entry = stored(oauthcli_home)
    assert entry is not None
    import httpx

    revoked = httpx.post(
        first.metadata()["revocation_endpoint"],
        data={"token": entry["tokens"]["refresh_token"], "client_id": "cli-app"},
        trust_env=False,
    )
    assert revoked.status_code == 200
    expire_access_token(oauthcli_home)

    result = oauthcli("token", env=env)

    assert result.returncode == 3
    assert "log in again" in result.stderr
    assert first.count_grants("refresh_token", error=True) == 1
    after = stored(oauthcli_home)
    assert after is not None
    assert after["tokens"] == {}
    assert after["settings"]["client_id"] == "cli-app"  # settings kept for re-login
    status = oauthcli("status", env=env)
    assert status.returncode == 3


def test_st_15_compare_and_clear_keeps_a_newer_refresh_token(
    provider: LocalProvider, logged_in: dict[str, str], oauthcli_home: Path
) -> None:
    from oauthcli.refresh import _clear_if_unchanged

    entry = stored(oauthcli_home)
    assert entry is not None
    old = entry["tokens"]["refresh_token"]
    entry["tokens"]["refresh_token"] = "newer-one-from-another-process"
    write_entry("default", entry)
    with profile_lock("default"):
        _clear_if_unchanged("default", old)  # the slow process's failed token
    kept = stored(oauthcli_home)
    assert kept is not None
    assert kept["tokens"]["refresh_token"] == "newer-one-from-another-process"
    with profile_lock("default"):
        _clear_if_unchanged("default", "newer-one-from-another-process")
    cleared = stored(oauthcli_home)
    assert cleared is not None
    assert cleared["tokens"] == {}


def test_no_refresh_token_means_exit_3_and_status_says_unavailable(
    logged_in: dict[str, str], oauthcli_home: Path
) -> None:
    entry = stored(oauthcli_home)
    assert entry is not None
    entry["tokens"]["refresh_token"] = None
    write_entry("default", entry)

    result = oauthcli("token", env=logged_in)
    assert result.returncode == 3
    assert "no refresh token" in result.stderr
    status = oauthcli("status", env=logged_in)
    assert status.returncode == 3
    assert "Refresh:   unavailable" in status.stdout


def test_the_python_api_raises_login_required_without_a_login(
    oauthcli_home: Path,
) -> None:
    with pytest.raises(LoginRequired):
        get_token_set("nobody")


def test_a_stored_expires_at_of_10_to_the_400_asks_for_a_login_not_a_traceback(
    oauthcli_home: Path,
) -> None:
    # The full path of `oauthcli token` raised OverflowError here.
    tokens = {"access_token": "at", "refresh_token": "rt", "expires_at": 10**400}
    write_entry(
        "default", {"settings": {"issuer": "https://idp.test"}, "tokens": tokens}
    )

    with pytest.raises(LoginRequired, match="holds no usable token"):
        get_token_set("default")


def test_a_stored_id_token_nested_5000_deep_has_no_claims_to_compare() -> None:
    # json.loads raised RecursionError in the middle of a refresh.
    import base64

    from oauthcli.refresh import _unverified_claims

    deep = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode().rstrip("=")
    assert _unverified_claims(f"e30.{deep}.c2ln") == {}


def test_st_12_short_lived_tokens_within_min_ttl_still_cause_one_refresh(
    make_provider: ProviderFactory, oauthcli_home: Path, http_browser: str
) -> None:
    short = make_provider(ttl={"AccessToken": 20})
    env = cli_env(oauthcli_home, http_browser)
    assert oauthcli(*login_args(short), env=env).returncode == 0
    grants = short.count_grants("refresh_token")
    # With a 20 s lifetime the default --min-ttl (60 s) is capped at 10 s:
    # the fresh token is used, not refreshed by every caller.
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "oauthcli", "token", "--min-ttl", "300"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(10)
    ]
    outputs = [process.communicate(timeout=120) for process in running]
    assert [p.returncode for p in running] == [0] * 10, outputs
    assert short.count_grants("refresh_token") == grants


def test_st_13_many_calls_in_one_process_refresh_once(
    make_provider: ProviderFactory, oauthcli_home: Path, http_browser: str
) -> None:
    short = make_provider(ttl={"AccessToken": 20})
    env = cli_env(oauthcli_home, http_browser)
    assert oauthcli(*login_args(short), env=env).returncode == 0
    expire_access_token(oauthcli_home)
    grants = short.count_grants("refresh_token")
    tokens = {get_token() for _ in range(20)}
    assert len(tokens) == 1
    assert short.count_grants("refresh_token") == grants + 1


def test_a_jwks_outage_after_a_refresh_hands_out_nothing_unchecked(
    provider: LocalProvider, logged_in: dict[str, str], oauthcli_home: Path
) -> None:
    import http.server

    class Unavailable(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(503)

        def log_message(self, format: str, *args: object) -> None:
            pass

    # The provider signs the same claims within one second to the same bytes:
    # a refreshed ID token that differs from the login's needs a later second.
    time.sleep(1.1)
    down = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=down.serve_forever, daemon=True).start()
    refused = provider.count_grants("refresh_token", error=True)
    try:
        entry = stored(oauthcli_home)
        assert entry is not None
        jwks_uri = entry["provider"]["jwks_uri"]
        entry["provider"]["jwks_uri"] = (
            f"http://127.0.0.1:{down.server_address[1]}/jwks"
        )
        write_entry("default", entry)
        first = oauthcli("token", env=logged_in)
    finally:
        down.shutdown()
        down.server_close()
    assert first.returncode == 1
    assert first.stdout == ""
    assert "the refreshed ID token could not be checked" in first.stderr
    after = stored(oauthcli_home)
    assert after is not None
    assert after["tokens"]["refresh_token"] != entry["tokens"]["refresh_token"]
    assert after["tokens"]["access_token"] != entry["tokens"]["access_token"]
    assert after["tokens"]["expires_at"] == 0  # held back until checked
    assert after["tokens"]["id_token"] == entry["tokens"]["id_token"]  # the checked one

    after["provider"]["jwks_uri"] = jwks_uri
    write_entry("default", after)
    second = oauthcli("token", env=logged_in)
    assert second.returncode == 0, second.stderr
    assert provider.count_grants("refresh_token", error=True) == refused
    final = stored(oauthcli_home)
    assert final is not None
    assert second.stdout.strip() == final["tokens"]["access_token"]
    assert final["tokens"]["id_token"] != entry["tokens"]["id_token"]


def test_get_token_without_a_profile_follows_the_configs_default_profile(
    oauthcli_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OAUTHCLI_PROFILE", raising=False)
    for name in ("default", "work"):
        write_entry(
            name,
            {
                "settings": {"issuer": "https://idp.test", "client_id": "x"},
                "tokens": {
                    "access_token": f"at-{name}",
                    "expires_at": time.time() + 600,
                },
            },
        )
    (oauthcli_home / "config.toml").write_text('default_profile = "work"\n')
    assert get_token() == "at-work"


# ST-16: a refresh whose outcome is unknown. The provider stalls a refresh
# request past the client's timeout (0.3 s here instead of 10), then drops
# the connection: either without having handled it, or after rotating the
# refresh token (the answer was lost on the way back).

STALL = 1.0  # seconds a stalled refresh request waits before it is dropped


@pytest.fixture
def quiet_op(
    oauthcli_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EvilProvider]:
    """Logged in at the evil provider; refresh requests time out after 0.3 s."""
    monkeypatch.setattr(refresh_module, "REFRESH_TIMEOUT", 0.3)
    with EvilProvider() as op:
        constants = OAuth2Constants(
            client_id=op.client_id, authz_server_host=op.issuer, login_timeout=10
        )
        login(constants, opener=ScriptedUser(), notify=lambda _: None)
        yield op


def stall_refreshes(op: EvilProvider, count: int, *, rotated: bool) -> None:
    """Let the next ``count`` refresh requests go unanswered."""
    stalled: list[str] = []

    def hook(request: Logged) -> None:
        if request.form.get("grant_type") != "refresh_token" or len(stalled) >= count:
            return
        stalled.append(request.form["refresh_token"])
        if rotated:  # handled, but the answer never arrives
            op.refresh_tokens.pop(request.form["refresh_token"], None)
        time.sleep(STALL)
        raise ConnectionAbortedError("no answer")  # the connection is dropped

    op.on_request = hook


def refresh_requests(op: EvilProvider) -> list[str]:
    """The refresh token each refresh request carried, in order."""
    return [
        request.form["refresh_token"]
        for request in op.requests("token")
        if request.form.get("grant_type") == "refresh_token"
    ]


def test_st_16_a_refresh_that_timed_out_is_sent_once_more_with_the_same_token(
    quiet_op: EvilProvider, oauthcli_home: Path
) -> None:
    before = stored(oauthcli_home)
    assert before is not None
    stall_refreshes(quiet_op, 1, rotated=False)

    fresh = get_token_set("default", rejected=before["tokens"]["access_token"])

    sent = refresh_requests(quiet_op)
    assert len(sent) == 2
    assert sent[0] == sent[1] == before["tokens"]["refresh_token"]
    after = stored(oauthcli_home)
    assert after is not None
    assert after["tokens"]["access_token"] == fresh.access_token
    assert after["tokens"]["refresh_token"] == fresh.refresh_token
    assert fresh.refresh_token != before["tokens"]["refresh_token"]


def test_st_16_invalid_grant_after_a_timed_out_refresh_means_log_in_again(
    quiet_op: EvilProvider, oauthcli_home: Path
) -> None:
    before = stored(oauthcli_home)
    assert before is not None
    stall_refreshes(quiet_op, 1, rotated=True)

    with pytest.raises(LoginRequired, match="log in again"):
        get_token_set("default", rejected=before["tokens"]["access_token"])

    sent = refresh_requests(quiet_op)
    assert sent == [before["tokens"]["refresh_token"]] * 2  # one retry, no more
    after = stored(oauthcli_home)
    assert after is not None
    assert after["tokens"] == {}
    assert after["settings"] == before["settings"]


def test_st_16_a_refresh_that_times_out_twice_keeps_the_tokens_and_exits_1(
    quiet_op: EvilProvider, oauthcli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expire_access_token(oauthcli_home)
    before = (oauthcli_home / "profiles" / "default.json").read_bytes()
    stall_refreshes(quiet_op, 2, rotated=False)

    status = main(["token"])

    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert "did not answer in time" in err
    assert len(refresh_requests(quiet_op)) == 2
    assert (oauthcli_home / "profiles" / "default.json").read_bytes() == before
    for secret in quiet_op.secrets():
        assert secret not in err
    # Nothing was lost: the kept refresh token works once the provider answers.
    assert main(["token"]) == 0
    assert capsys.readouterr().out.strip() == stored_access_token(oauthcli_home)


def stored_access_token(home: Path) -> str:
    document = stored(home)
    assert document is not None
    token: str = document["tokens"]["access_token"]
    return token


def test_an_expired_login_without_a_refresh_token_names_the_profile_to_log_in(
    oauthcli_home: Path,
) -> None:
    write_entry(
        "work",
        {
            "settings": {"issuer": "https://idp.test", "client_id": "x"},
            "tokens": {"access_token": "at-old", "expires_at": time.time() - 10},
        },
    )
    with pytest.raises(LoginRequired) as caught:
        get_token("work")
    assert caught.value.message.endswith(
        "log in again: call oauthcli.login() for profile 'work'"
    )
    assert "at-old" not in caught.value.message

    # The oauthcli command names its own; a program that embeds the library
    # names its own, so that its users are not sent to another tool's flags.
    assert main(["token", "--profile", "work"]) == 3
    set_commands(login="latch login", device="latch login --code")
    try:
        with pytest.raises(LoginRequired) as embedded:
            get_token("work")
    finally:
        set_commands(login=None)
    assert embedded.value.message.endswith("log in again: run `latch login`")


def shorten_access_token(home: Path, left: float) -> str:
    """Make the stored access token valid for only ``left`` more seconds."""
    document = stored(home)
    assert document is not None
    document["tokens"]["expires_at"] = time.time() + left
    document["tokens"]["obtained_at"] = time.time() - 3600 + left
    write_entry("default", document)
    return str(document["tokens"]["access_token"])


@pytest.mark.parametrize("outage", ["stopped", "503"])
def test_a_provider_outage_hands_out_the_still_valid_token_with_a_warning(
    quiet_op: EvilProvider,
    oauthcli_home: Path,
    capsys: pytest.CaptureFixture[str],
    outage: str,
) -> None:
    """min_ttl asks for a margin; when the provider cannot give one, the token
    that still works is better than no token (and the refresh token is kept)."""
    current = shorten_access_token(oauthcli_home, 30)  # within min_ttl 60
    before = (oauthcli_home / "profiles" / "default.json").read_bytes()
    if outage == "stopped":
        quiet_op.stop()
    else:
        quiet_op.canned["token"] = Canned(503, {"error": "temporarily_unavailable"})

    status = main(["token"])

    out, err = capsys.readouterr()
    assert (status, out) == (0, f"{current}\n")
    assert "warning: could not refresh the tokens of profile 'default'" in err
    assert "using the current access token, valid for " in err
    assert (oauthcli_home / "profiles" / "default.json").read_bytes() == before
    for secret in quiet_op.secrets():
        assert secret not in err


@pytest.mark.parametrize(
    "refusal",
    [
        Canned(401, "Unauthorized: client authentication failed"),
        Canned(400, "invalid refresh token"),
        Canned(403, "<html>blocked</html>", headers={"Content-Type": "text/html"}),
        Canned(401),
        Canned(400, {"error": "invalid_client"}),
    ],
)
def test_a_refused_refresh_is_not_taken_for_an_outage(
    quiet_op: EvilProvider,
    oauthcli_home: Path,
    capsys: pytest.CaptureFixture[str],
    refusal: Canned,
) -> None:
    """A 4xx is the provider saying no (a revoked client, a firewall), not
    that it is away: no token is handed out over it."""
    shorten_access_token(oauthcli_home, 30)
    quiet_op.canned["token"] = refusal

    status = main(["token"])

    out, err = capsys.readouterr()
    assert (status, out) == (1, "")
    assert "using the current access token" not in err


def test_a_tls_failure_at_the_token_endpoint_is_not_taken_for_an_outage(
    quiet_op: EvilProvider, oauthcli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """https to a server that speaks plain http: the handshake fails, as it
    would against a downgrade; that is not worth hiding behind a warning."""
    shorten_access_token(oauthcli_home, 30)
    document = stored(oauthcli_home)
    assert document is not None
    endpoint = document["provider"]["token_endpoint"]
    document["provider"]["token_endpoint"] = endpoint.replace("http://", "https://")
    write_entry("default", document)

    status = main(["token"])

    out, err = capsys.readouterr()
    assert (status, out) == (1, "")
    assert "using the current access token" not in err


def test_a_provider_outage_with_an_expired_token_is_an_error(
    quiet_op: EvilProvider, oauthcli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expire_access_token(oauthcli_home)
    quiet_op.stop()

    status = main(["token"])

    out, err = capsys.readouterr()
    assert (status, out) == (1, "")
    assert "using the current access token" not in err
    assert "token endpoint" in err


def test_a_refused_token_is_not_handed_out_again_during_an_outage(
    quiet_op: EvilProvider, oauthcli_home: Path
) -> None:
    current = shorten_access_token(oauthcli_home, 600)
    quiet_op.stop()

    with pytest.raises(TransportError):
        get_token_set("default", rejected=current)
