"""The live status while a login waits, on real pseudo-terminals.

Each child gets a pty of its own as its controlling terminal (so paste-back
sees a foreground terminal, as in a shell); the tests read the raw bytes the
terminal would receive.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import re
import select
import struct
import subprocess
import sys
import termios
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from clirun import cli_env, login_args, oauthcli, stored
from localprovider import LocalProvider
from oauthcli import PKCE, CSRFState, OAuth2, OAuth2Constants
from oauthcli.progress import clock, waiting
from test_login import run_http_user
from test_paste import browse_elsewhere

# Run ARGV[2:] with the pty ARGV[1] as stdin, stdout, stderr and controlling tty.
ATTACH = (
    "import os, sys; os.setsid(); fd = os.open(sys.argv[1], os.O_RDWR); "
    "[os.dup2(fd, n) for n in (0, 1, 2)]; os.close(fd); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])"
)
SGR = re.compile(rb"\x1b\[([0-9;]*)m")
COLOUR_PARAMS = re.compile(r"^(3[0-9]|4[0-9]|9[0-7]|10[0-7])$")
HIDE_CURSOR, SHOW_CURSOR = b"\x1b[?25l", b"\x1b[?25h"
SCRIPT = textwrap.dedent(
    """
    import sys, termios, threading
    from oauthcli.progress import waiting

    ways = ["Ctrl-C to cancel", "paste the address here"]
    try:
        with waiting("Waiting for the browser", ways, keyboard=sys.stdin) as status:
            notice = threading.Timer(
                0.3, status.notify, ("Ignored a callback with a wrong state",)
            )
            notice.start()
            line = status.lines.readline()
            notice.join()
    except KeyboardInterrupt:
        flags = termios.tcgetattr(0)[3]
        restored = bool(flags & termios.ICANON) and bool(flags & termios.ECHO)
        print(f"interrupted; terminal mode restored: {restored}")
        sys.exit(130)
    print(f"got {line!r}")
    """
)


def terminal_env(**extra: str) -> dict[str, str]:
    dropped = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    env["TERM"] = "xterm-256color"
    env["LANG"] = env["LC_ALL"] = "C.UTF-8"
    env.update(extra)
    return env


class Terminal:
    """A program running on a fresh pseudo-terminal, as a user would see it."""

    def __init__(self, args: Sequence[str], env: dict[str, str]) -> None:
        self.master, self._slave = os.openpty()
        fcntl.ioctl(self._slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-c", ATTACH, os.ttyname(self._slave), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.output = b""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        exited = False
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                if exited:
                    return
                # The program may write its last bytes and exit between the
                # select and the poll: once it has exited, look once more.
                exited = self.process.poll() is not None
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            with self._lock:
                self.output += data

    def expect(self, wanted: bytes, timeout: float = 30) -> bytes:
        """Wait until ``wanted`` was shown; return everything shown so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if wanted in self.output:
                    return self.output
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(f"{wanted!r} never appeared in {self.output!r}")

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def finish(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self._slave)
        os.close(self.master)


@pytest.fixture
def script(tmp_path: Path) -> str:
    path = tmp_path / "wait.py"
    path.write_text(SCRIPT)
    return str(path)


@pytest.fixture
def on_terminal() -> Iterator[list[Terminal]]:
    started: list[Terminal] = []
    yield started
    for terminal in started:
        terminal.close()


def start(
    started: list[Terminal], args: Sequence[str], env: dict[str, str]
) -> Terminal:
    started.append(Terminal(args, env))
    return started[-1]


def colour_codes(output: bytes) -> list[str]:
    return [
        param
        for match in SGR.finditer(output)
        for param in match.group(1).decode().split(";")
        if COLOUR_PARAMS.match(param)
    ]


def frames(output: bytes) -> list[bytes]:
    """The redraws of the live status: rich starts each with CR + erase line."""
    return output.split(b"\r\x1b[2K")


def test_the_clock_reads_minutes_and_seconds() -> None:
    assert clock(0) == "0:00"
    assert clock(9.9) == "0:09"
    assert clock(61) == "1:01"
    assert clock(3600) == "60:00"


def test_on_a_terminal_the_elapsed_time_advances_with_the_ways_out_shown(
    script: str, on_terminal: list[Terminal]
) -> None:
    terminal = start(on_terminal, [script], terminal_env())
    terminal.expect(b"0:01")
    shown = terminal.expect(b"0:02", timeout=5)
    terminal.type(b"\r")

    assert terminal.finish() == 0
    assert shown.index(b"0:00") < shown.index(b"0:01") < shown.index(b"0:02")
    assert b"Waiting for the browser" in shown
    assert "Ctrl-C to cancel · paste the address here".encode() in shown
    assert colour_codes(shown)  # colours by default, so NO_COLOR below means it
    assert terminal.output.count(HIDE_CURSOR) == 1
    assert terminal.output.rindex(SHOW_CURSOR) > terminal.output.rindex(b"0:02")


def test_a_line_emitted_while_waiting_prints_above_the_status_in_one_piece(
    script: str, on_terminal: list[Terminal]
) -> None:
    terminal = start(on_terminal, [script], terminal_env())
    shown = terminal.expect(b"wrong state\r\n")
    terminal.type(b"\r")

    assert terminal.finish() == 0
    assert b"\x1b[2KIgnored a callback with a wrong state\r\n" in shown
    after = shown.split(b"wrong state\r\n", 1)[1]
    assert b"Waiting for the browser" in after  # the status is drawn again below


def test_typed_text_survives_every_redraw_and_enter_hands_the_line_over(
    script: str, on_terminal: list[Terminal]
) -> None:
    typed = b"http://127.0.0.1:8080/callback?code=abx"
    terminal = start(on_terminal, [script], terminal_env())
    terminal.expect(b"Waiting for the browser")
    terminal.type(typed)
    before_enter = terminal.expect(typed)
    while len(frames(before_enter[before_enter.index(typed) :])) < 4:
        time.sleep(0.1)  # a few redraws at four a second
        before_enter = terminal.expect(typed)
    terminal.type(b"\x7fc\x1b[D\r")  # backspace, c, an arrow key (ignored), Enter

    assert terminal.finish() == 0
    assert b"got 'http://127.0.0.1:8080/callback?code=abc\\n'" in terminal.output
    redraws = frames(before_enter[before_enter.index(typed) :])
    drawn = [frame for frame in redraws if b"Waiting for the browser" in frame]
    assert len(drawn) >= 3
    assert all(typed in frame for frame in drawn)


def test_a_paste_in_bracketed_paste_mode_is_one_clean_line(
    script: str, on_terminal: list[Terminal]
) -> None:
    terminal = start(on_terminal, [script], terminal_env())
    terminal.expect(b"Waiting for the browser")
    terminal.type(b"\x1b[200~http://127.0.0.1/callback?code=x\x1b[201~\r")

    assert terminal.finish() == 0
    assert b"got 'http://127.0.0.1/callback?code=x\\n'" in terminal.output


def test_ctrl_d_on_an_empty_line_ends_the_pastes(
    script: str, on_terminal: list[Terminal]
) -> None:
    terminal = start(on_terminal, [script], terminal_env())
    terminal.expect(b"Waiting for the browser")
    terminal.type(b"\x04")

    assert terminal.finish() == 0
    assert b"got ''" in terminal.output


ENDED_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from oauthcli.progress import waiting

    ways = ["Ctrl-C to cancel", "paste the address here"]
    with waiting("Waiting for the browser", ways, keyboard=sys.stdin) as status:
        line = status.lines.readline()
        status.input_ended()
        time.sleep(1.0)  # a few redraws
    print(f"got {line!r}")
    """
)


def test_once_input_ends_the_status_stops_offering_a_paste(
    tmp_path: Path, on_terminal: list[Terminal]
) -> None:
    # It said nothing more could be pasted and went on offering it.
    path = tmp_path / "ended.py"
    path.write_text(ENDED_SCRIPT)
    terminal = start(on_terminal, [str(path)], terminal_env())
    terminal.expect(b"paste the address here")
    terminal.type(b"\x04")

    assert terminal.finish() == 0
    drawn = [f for f in frames(terminal.output) if b"Waiting for the browser" in f]
    assert drawn
    assert b"Ctrl-C to cancel" in drawn[-1]
    assert b"paste the address here" not in drawn[-1]


def test_ctrl_c_restores_the_terminal_mode_and_shows_the_cursor(
    script: str, on_terminal: list[Terminal]
) -> None:
    terminal = start(on_terminal, [script], terminal_env())
    terminal.expect(b"Waiting for the browser")
    terminal.type(b"http")
    terminal.expect(b"http")
    terminal.type(b"\x03")

    assert terminal.finish() == 130
    output = terminal.output
    assert b"interrupted; terminal mode restored: True" in output
    assert output.rindex(SHOW_CURSOR) > output.rindex(HIDE_CURSOR)


def test_no_color_leaves_out_colour_codes_even_on_a_terminal(
    script: str, on_terminal: list[Terminal]
) -> None:
    terminal = start(on_terminal, [script], terminal_env(NO_COLOR="1"))
    terminal.expect(b"wrong state\r\n")
    terminal.type(b"\r")

    assert terminal.finish() == 0
    assert b"Waiting for the browser" in terminal.output
    assert colour_codes(terminal.output) == []


def test_a_dumb_terminal_gets_one_plain_line(
    script: str, on_terminal: list[Terminal]
) -> None:
    terminal = start(on_terminal, [script], terminal_env(TERM="dumb"))
    terminal.expect(b"(Ctrl-C to cancel, paste the address here)...")
    terminal.type(b"pasted\r")

    assert terminal.finish() == 0
    assert b"\x1b" not in terminal.output
    assert b"got 'pasted\\n'" in terminal.output


def test_without_a_terminal_there_is_one_plain_line_and_no_escape_codes(
    script: str,
) -> None:
    result = subprocess.run(
        [sys.executable, script],
        env=terminal_env(),
        input="http://127.0.0.1/callback?code=x\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "Waiting for the browser (Ctrl-C to cancel, paste the address here)...\n"
        "Ignored a callback with a wrong state\n"
    )
    assert "\x1b" not in result.stdout + result.stderr
    assert "got 'http://127.0.0.1/callback?code=x\\n'" in result.stdout


def test_a_callers_notify_gets_the_plain_line_even_on_a_terminal() -> None:
    master, slave = os.openpty()
    lines: list[str] = []
    with (
        open(slave, "w", encoding="utf-8") as tty,
        waiting("Waiting", ["Ctrl-C to cancel"], stream=tty, notify=lines.append) as w,
    ):
        w.notify("a line")
    os.close(master)
    assert lines == ["Waiting (Ctrl-C to cancel)...", "a line"]
    assert w.live is False


def test_the_plain_line_can_be_given_and_the_keyboard_is_read_as_it_is() -> None:
    out, keyboard = io.StringIO(), io.StringIO("typed\n")
    with waiting(
        "Waiting", ["a", "b"], plain="Waiting (a)...", stream=out, keyboard=keyboard
    ) as status:
        assert status.lines is keyboard
    assert out.getvalue() == "Waiting (a)...\n"


def test_rich_is_imported_only_for_a_live_status() -> None:
    code = (
        "import io, sys; import oauthcli.cli, oauthcli.oauth2, oauthcli.session; "
        "from oauthcli.progress import waiting\n"
        "with waiting('Waiting', ['Ctrl-C to cancel'], stream=io.StringIO()): pass\n"
        "print('rich' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_a_login_without_a_terminal_says_it_waits_once_in_plain_text(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    result = oauthcli(
        *login_args(provider, "cli-app"), env=cli_env(oauthcli_home, http_browser)
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Waiting for the browser to return to") == 1
    assert "(Ctrl-C to cancel)...\n" in result.stderr
    assert "\x1b" not in result.stderr


def test_the_library_still_hands_every_line_to_its_notify(
    provider: LocalProvider,
) -> None:
    constants = OAuth2Constants(client_id="cli-app", authz_server_host=provider.issuer)
    notices: list[str] = []
    with PKCE() as pkce, CSRFState() as csrf_state:
        flow = OAuth2(
            pkce, csrf_state, constants, opener=run_http_user, notify=notices.append
        )
        flow.access_token_request(flow.authorization_request())
    waits = [line for line in notices if line.startswith("Waiting for the browser")]
    redirect_uri = flow.redirect_uri
    assert waits == [
        f"Waiting for the browser to return to {redirect_uri} (Ctrl-C to cancel)..."
    ]


def ssh_terminal_env(home: Path) -> dict[str, str]:
    env = cli_env(home, None, SSH_CONNECTION="10.0.0.1 5555 10.0.0.2 22")
    env.pop("BROWSER", None)
    return {**terminal_env(), **env, "TERM": "xterm-256color"}


def test_a_login_on_a_terminal_shows_the_status_and_takes_a_pasted_address(
    provider: LocalProvider,
    oauthcli_home: Path,
    tmp_path: Path,
    on_terminal: list[Terminal],
) -> None:
    args = ["-m", "oauthcli", *login_args(provider, "cli-app")]
    terminal = start(on_terminal, args, ssh_terminal_env(oauthcli_home))
    shown = terminal.expect(b"paste the address here")
    url = re.search(rb"    (http://\S+/auth\?\S+)\r\n", shown)
    assert url is not None, shown

    ended_on = browse_elsewhere(url.group(1).decode(), tmp_path)
    terminal.type(ended_on.encode() + b"\r")
    shown = terminal.expect(b"Logged in to")

    assert terminal.finish() == 0
    assert b"Ctrl-C to cancel" in shown
    assert b"paste the address here" in shown
    assert b"`oauthcli login --device` instead" in shown
    assert shown.rindex(SHOW_CURSOR) > shown.rindex(HIDE_CURSOR)
    assert stored(oauthcli_home) is not None


def test_ctrl_c_ends_a_terminal_login_with_130_and_a_clean_terminal(
    provider: LocalProvider, oauthcli_home: Path, on_terminal: list[Terminal]
) -> None:
    args = ["-m", "oauthcli", *login_args(provider, "cli-app")]
    terminal = start(on_terminal, args, ssh_terminal_env(oauthcli_home))
    terminal.expect(b"0:00")
    terminal.type(b"\x03")

    assert terminal.finish() == 130
    output = terminal.output
    assert b"cancelled" in output
    assert output.rindex(SHOW_CURSOR) > output.rindex(HIDE_CURSOR)


def test_a_device_login_on_a_terminal_counts_the_wait_for_approval(
    provider: LocalProvider, oauthcli_home: Path, on_terminal: list[Terminal]
) -> None:
    args = ["-m", "oauthcli", *login_args(provider, "cli-app", "--device")]
    terminal = start(on_terminal, args, ssh_terminal_env(oauthcli_home))
    shown = terminal.expect(b"0:00")
    terminal.type(b"\x03")

    assert terminal.finish() == 130
    assert b"enter the code" in shown
    assert b"Waiting for the login to be approved" in shown
    assert b"  Ctrl-C to cancel" in shown
    assert b"(Ctrl-C to cancel)..." not in shown  # the live status, not the line
    assert terminal.output.rindex(SHOW_CURSOR) > terminal.output.rindex(HIDE_CURSOR)


def test_debug_lines_during_the_wait_print_above_the_status_in_one_piece(
    provider: LocalProvider, oauthcli_home: Path, on_terminal: list[Terminal]
) -> None:
    """They used to go to the stderr of before the status and cut through it."""
    import urllib.error
    import urllib.parse
    import urllib.request

    args = ["-m", "oauthcli", "--debug", *login_args(provider, "cli-app")]
    terminal = start(on_terminal, args, ssh_terminal_env(oauthcli_home))
    shown = terminal.expect(b"0:00")
    found = re.search(rb"redirect_uri=([^&\s]+)", shown)
    assert found is not None, shown
    callback = urllib.parse.unquote(found.group(1).decode())
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(f"{callback}?state=forged&code=x", timeout=5)
    terminal.expect(b"ignored a callback: ")
    time.sleep(0.5)  # the rest of the line, and a redraw or two
    terminal.type(b"\x03")
    assert terminal.finish() == 130

    output = terminal.output
    line = output[output.rindex(b"oauthcli: ignored a callback: ") :]
    line = line.split(b"\r\n")[0].split(b"\n")[0]
    assert re.fullmatch(rb"oauthcli: ignored a callback: [a-z_]+", line), line
    # Printed through the status: it erased itself first (ERASE_LINE), instead
    # of the line landing at the end of the status, to be drawn over.
    at = output.rindex(b"oauthcli: ignored a callback: ")
    assert output[:at].endswith(b"\x1b[2K"), output[at - 80 : at]


def test_ctrl_c_while_the_status_starts_still_shows_the_cursor_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C landing inside the status's first draw left the cursor hidden:
    the ``with`` statement had not entered, so nothing stopped the display.
    (A signal at that instant cannot be timed from outside; the first draw
    raises it here.)"""
    from rich.live import Live

    first_draw = Live.refresh

    def interrupted(self: Live) -> None:
        monkeypatch.setattr(Live, "refresh", first_draw)
        raise KeyboardInterrupt

    monkeypatch.setattr(Live, "refresh", interrupted)
    master, slave = os.openpty()
    for name, value in terminal_env().items():
        monkeypatch.setenv(name, value)
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    with (
        open(slave, "w", encoding="utf-8") as tty,
        pytest.raises(KeyboardInterrupt),
        waiting("Waiting", ["Ctrl-C to cancel"], stream=tty),
    ):
        pass
    shown = b""
    with contextlib.suppress(OSError):  # EIO once drained: the slave is closed
        while select.select([master], [], [], 0.2)[0]:
            shown += os.read(master, 65536)
    os.close(master)
    assert HIDE_CURSOR in shown
    assert shown.rindex(SHOW_CURSOR) > shown.rindex(HIDE_CURSOR)
