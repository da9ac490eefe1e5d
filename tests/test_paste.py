"""Logging in where the browser is elsewhere: paste-back and detection
(cases C04, C05, C06 of shared/cases/login-failures.md)."""

from __future__ import annotations

import contextlib
import os
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import pytest

from clirun import cli_env, login_args, stored
from evilprovider import EvilProvider, ScriptedUser
from localprovider import HTTP_USER, LocalProvider
from oauthcli.browser import browser_unavailable_reason, is_wsl

URL_IN_STDERR = re.compile(r"^    (http://\S+/auth\?\S+)$", re.MULTILINE)


def start_login(
    provider: LocalProvider, env: dict[str, str], *more: str
) -> tuple[subprocess.Popen[str], str]:
    """Start `oauthcli login` with a pipe as the terminal; return it and the URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "oauthcli", *login_args(provider, "cli-app", *more)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen = ""
    while "Waiting for the browser" not in seen:
        line = process.stderr.readline()
        assert line, f"login ended early: {seen}"
        seen += line
    match = URL_IN_STDERR.search(seen)
    assert match, seen
    return process, seen + "\n" + match.group(1)


def browse_elsewhere(url: str, tmp_path: Path, **env: str) -> str:
    """A browser on another machine: log in, return the address it ended on."""
    ended_on = tmp_path / "ended-on"
    subprocess.run(
        [sys.executable, str(HTTP_USER), url],
        env={**os.environ, "OAUTHCLI_TEST_REMOTE": str(ended_on), **env},
        check=True,
        timeout=60,
    )
    return ended_on.read_text()


def ssh_env(home: Path) -> dict[str, str]:
    env = cli_env(home, None, SSH_CONNECTION="10.0.0.1 5555 10.0.0.2 22")
    env.pop("BROWSER", None)
    return env


def test_c06_over_ssh_no_browser_is_tried_and_a_pasted_address_logs_in(
    provider: LocalProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    process, output = start_login(provider, ssh_env(oauthcli_home))
    assert "Not opening a browser: this is an SSH session" in output
    assert "Or log in with a code instead: oauthcli login --device" in output
    assert "paste" in output
    assert "Opened" not in output
    url = output.rsplit("\n", 1)[1]

    ended_on = browse_elsewhere(url, tmp_path)
    _, stderr = process.communicate(ended_on + "\n", timeout=60)

    assert process.returncode == 0, stderr
    assert "Logged in to" in stderr
    entry = stored(oauthcli_home)
    assert entry is not None
    assert provider.introspect(entry["tokens"]["access_token"])["active"] is True


def test_c04_a_pasted_address_is_checked_like_a_callback(
    provider: LocalProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    env = cli_env(oauthcli_home, None, WSL_DISTRO_NAME="Ubuntu")
    process, output = start_login(provider, env, "--no-browser", "--timeout", "60")
    url = output.rsplit("\n", 1)[1]
    ended_on = browse_elsewhere(url, tmp_path)
    forged = re.sub(r"state=[^&]+", "state=forged", ended_on)
    assert process.stdin is not None
    process.stdin.write("not an address\n" + forged + "\n")
    process.stdin.flush()
    time.sleep(0.5)
    _, stderr = process.communicate(ended_on + "\n", timeout=60)
    assert process.returncode == 0, stderr
    assert "That is not the address the browser ended on" in stderr
    assert "does not belong to this login" in stderr


def test_the_end_of_stdin_is_told_and_the_redirect_still_logs_in(
    provider: LocalProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    # After `printf 'hello\n' | oauthcli login`, it said "Still waiting" and
    # nothing told the user that no paste could come any more.
    import urllib.request

    env = cli_env(oauthcli_home, None, WSL_DISTRO_NAME="Ubuntu")
    process, output = start_login(provider, env, "--no-browser", "--timeout", "60")
    assert process.stdin is not None
    assert process.stderr is not None
    process.stdin.write("hello\n")
    process.stdin.close()
    seen = ""
    while "Standard input has ended" not in seen:
        line = process.stderr.readline()
        assert line, f"login ended early: {seen}"
        seen += line
    assert "nothing more can be pasted" in seen

    ended_on = browse_elsewhere(output.rsplit("\n", 1)[1], tmp_path)
    with urllib.request.urlopen(ended_on, timeout=10) as answer:
        assert answer.status == 200
    assert process.wait(timeout=60) == 0
    process.stderr.close()
    assert process.stdout is not None
    process.stdout.close()
    assert stored(oauthcli_home) is not None


def test_a_pasted_error_ends_the_login_with_its_code(
    provider: LocalProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    process, output = start_login(provider, ssh_env(oauthcli_home))
    url = output.rsplit("\n", 1)[1]
    ended_on = browse_elsewhere(url, tmp_path, OAUTHCLI_TEST_DENY="1")
    _, stderr = process.communicate(ended_on + "\n", timeout=60)
    assert process.returncode == 1
    assert "access_denied" in stderr
    assert stored(oauthcli_home) is None


def test_the_real_redirect_still_wins_while_paste_is_offered(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    process = subprocess.run(
        [sys.executable, "-m", "oauthcli", *login_args(provider)],
        env=env,
        stdin=subprocess.PIPE,  # a terminal nobody types into
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr


def seed_login(
    provider: LocalProvider, opener: Callable[[str], bool], paste_input: TextIO
) -> str:
    """A seed-API login that takes pastes from ``paste_input``; its token."""
    from oauthcli import PKCE, CSRFState, OAuth2, OAuth2Constants

    constants = OAuth2Constants("cli-app", provider.issuer)
    with PKCE() as pkce, CSRFState() as csrf:
        flow = OAuth2(
            pkce,
            csrf,
            constants,
            opener=opener,
            notify=lambda _: None,
            paste_input=paste_input,
        )
        return flow.access_token_request(flow.authorization_request())


def test_the_library_takes_pastes_from_any_stream(
    provider: LocalProvider, tmp_path: Path
) -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as pasted, os.fdopen(write_end, "w") as typed:

        def remote_browser(url: str) -> bool:
            typed.write(browse_elsewhere(url, tmp_path) + "\n")
            typed.flush()
            return True

        token = seed_login(provider, remote_browser, pasted)
    assert provider.introspect(token)["active"] is True


def test_the_host_programs_lines_behind_the_paste_stay_on_its_stdin(
    provider: LocalProvider, tmp_path: Path
) -> None:
    """Regression: the reader took 4096 bytes at a time, so the host's next
    line, arriving in one write with the pasted address, was lost."""
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as host_stdin, os.fdopen(write_end, "w") as typed:

        def remote_browser(url: str) -> bool:
            pasted = browse_elsewhere(url, tmp_path)
            typed.write(f"{pasted}\nthe host program's own line\n")
            typed.flush()
            return True

        token = seed_login(provider, remote_browser, host_stdin)

        assert provider.introspect(token)["active"] is True
        ready, _, _ = select.select([host_stdin], [], [], 2)
        assert ready, "the paste reader took the host program's line"
        assert host_stdin.readline() == "the host program's own line\n"


def test_the_reader_stops_reading_when_the_browser_wins() -> None:
    """Regression: the reader outlived the login and took the host's next line,
    then failed on the closed listener with a traceback."""
    from oauthcli import PKCE, CSRFState, OAuth2, OAuth2Constants

    failures: list[BaseException | None] = []
    previous_hook = threading.excepthook
    threading.excepthook = lambda args: failures.append(args.exc_value)
    read_end, write_end = os.pipe()
    try:
        with (
            EvilProvider() as provider,
            os.fdopen(read_end) as host_stdin,
            os.fdopen(write_end, "w") as typed,
        ):
            constants = OAuth2Constants(
                provider.client_id, provider.issuer, login_timeout=5
            )
            browser = ScriptedUser()
            with PKCE() as pkce, CSRFState() as csrf:
                flow = OAuth2(
                    pkce,
                    csrf,
                    constants,
                    opener=browser,
                    notify=lambda _: None,
                    paste_input=host_stdin,
                )
                try:
                    flow.authorization_request()
                finally:
                    flow.close()
            browser.wait()

            typed.write("the host program's own line\n")
            typed.flush()
            ready, _, _ = select.select([host_stdin], [], [], 2)
            assert ready, "the paste reader took the host program's line"
            assert host_stdin.readline() == "the host program's own line\n"
            for thread in threading.enumerate():
                if thread.name == "oauthcli-paste":
                    thread.join(timeout=2)
                    assert not thread.is_alive()
    finally:
        threading.excepthook = previous_hook
    assert failures == []


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WSL_DISTRO_NAME": "Ubuntu"}, True),
        ({"WSL_INTEROP": "/run/WSL/1_interop"}, True),
    ],
)
def test_wsl_is_detected_from_its_variables(
    env: dict[str, str], expected: bool
) -> None:
    assert is_wsl(env) is expected


def test_c05_no_display_means_no_browser_and_no_claim(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    assert browser_unavailable_reason({}) is not None


def test_dev_null_is_not_offered_for_pastes() -> None:
    # cron, CI, `ssh -n`: it offered a paste, then said at once that input
    # had ended.
    from oauthcli.paste import can_read_pastes

    with open(os.devnull) as null:
        assert can_read_pastes(null) is False
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as pipe:
        os.close(write_end)
        assert can_read_pastes(pipe) is True


def test_a_flood_of_lines_that_are_not_addresses_is_bounded() -> None:
    """`yes | oauthcli login` printed a notice per line (megabytes a second)
    and read its input for the whole wait."""
    from oauthcli.constants import RedirectSpec
    from oauthcli.loopback import LoopbackServer
    from oauthcli.paste import INPUT_LIMIT, NOTICE_LIMIT, start_paste_reader

    said: list[str] = []
    stop = threading.Event()
    read_end, write_end = os.pipe()
    spec = RedirectSpec(host="127.0.0.1", path="/callback", ports=())
    with LoopbackServer(spec) as server, os.fdopen(read_end) as stream:
        server.serve(lambda params: "never")
        reader = start_paste_reader(server, stream, said.append, stop)
        writer = threading.Thread(
            target=lambda: _write_quietly(write_end, b"y\n" * (INPUT_LIMIT // 2 + 10))
        )
        writer.start()
        reader.join(timeout=120)
        alive = reader.is_alive()
        stop.set()
        writer.join(timeout=10)  # what the reader left fits in the pipe
        os.close(write_end)

    assert not alive, "the reader still reads the flood"
    not_addresses = [line for line in said if "That is not the address" in line]
    assert len(not_addresses) == NOTICE_LIMIT
    assert "ignored quietly" in not_addresses[-1]
    assert "paste-back is off" in said[-1]


def _write_quietly(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the reader stopped, the pipe closed
        os.write(fd, data)


def test_the_end_of_the_stream_is_reported_once_to_on_end() -> None:
    from oauthcli.constants import RedirectSpec
    from oauthcli.loopback import LoopbackServer
    from oauthcli.paste import start_paste_reader

    ended: list[bool] = []
    said: list[str] = []
    read_end, write_end = os.pipe()
    spec = RedirectSpec(host="127.0.0.1", path="/callback", ports=())
    with LoopbackServer(spec) as server, os.fdopen(read_end) as stream:
        server.serve(lambda params: "never")
        reader = start_paste_reader(
            server,
            stream,
            said.append,
            threading.Event(),
            on_end=lambda: ended.append(True),
        )
        os.close(write_end)
        reader.join(timeout=10)

    assert ended == [True]
    assert "Standard input has ended" in said[-1]


def test_an_address_of_another_port_is_told_apart_from_a_wrong_state() -> None:
    # http://127.0.0.1:1/callback?code=a&state=b was blamed on its state.
    from oauthcli.constants import RedirectSpec
    from oauthcli.loopback import LoopbackServer
    from oauthcli.paste import start_paste_reader

    said: list[str] = []
    read_end, write_end = os.pipe()
    spec = RedirectSpec(host="127.0.0.1", path="/callback", ports=())
    with LoopbackServer(spec) as server, os.fdopen(read_end) as stream:
        server.serve(refuse_every_state)
        reader = start_paste_reader(server, stream, said.append, threading.Event())
        ours = server.redirect_uri
        pastes = [
            "http://127.0.0.1:1/callback?code=a&state=b",
            ours.replace("/callback", "/other") + "?code=a&state=b",
            ours + "?code=a&state=b",
        ]
        os.write(write_end, "".join(f"{paste}\n" for paste in pastes).encode())
        os.close(write_end)
        reader.join(timeout=10)

    assert [line.split(":")[0].split(" (")[0] for line in said[:3]] == [
        "That is not the address the browser ended on",
        "That is not the address the browser ended on",
        "That address does not belong to this login",
    ]


def refuse_every_state(params: object) -> str:
    from oauthcli.errors import CallbackRejected

    raise CallbackRejected("not this login's state", code="state_mismatch")
