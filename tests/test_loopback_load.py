"""The login listener under attack from another local process (issue 8).

A real login against the local provider, during which a separate process
(tests/loopback_flood.py) holds 200 idle connections to the listener and
floods it with thousands of bogus requests. The scripted user does the
provider part (tests/browsers/http_user.py, told to hand back the address it
ends on), and the test delivers that callback itself, so that it knows the
moment the genuine callback arrived. All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from localprovider import HTTP_USER, TESTS_DIR, LocalProvider
from oauthcli import OAuth2Constants
from oauthcli.session import login

FLOOD: Path = TESTS_DIR / "loopback_flood.py"
IDLE = 200
FLOOD_REQUESTS = 6000  # the most the flood may send
FLOOD_SECONDS = 12.0  # and for how long at most
FLOOD_BEFORE_CALLBACK = 3000  # bogus requests sent before the callback
CALLBACK_TO_DONE = 1.0  # seconds from the callback to the login's return

# Every handler reads through an 8 KiB buffer, so keeping anything of each
# request (a handler, a thread, its buffer) costs at least that much per
# request: the 3000 requests before the callback would add 23 MiB at the very
# least (a listener patched to keep its handlers grew by 44 MiB). Measured
# here: 5-10 MiB, the threads' stacks and malloc arenas, the same after 2000
# requests as after 3000.
READ_BUFFER = 8 * 1024
FLOOD_GROWTH_LIMIT = 16 << 20  # peak RSS growth until the callback
LOGIN_GROWTH_LIMIT = 32 << 20  # and until the login's end (token exchange)


def rss(field_name: str = "VmRSS") -> int:
    """This process's resident memory (or its peak, VmHWM) in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field_name} in /proc/self/status")


def reset_peak_rss() -> None:
    """Make VmHWM start again from the current RSS (Linux 4.0 and later)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
        clear_refs.write("5")


def http_get(url: str) -> tuple[int, float]:
    """GET ``url`` on a fresh connection, as a browser would; status and time."""
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1"
    request = (
        f"GET {parts.path}?{parts.query} HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", parts.port or 80), timeout=5) as conn:
        conn.sendall(request.encode("ascii"))
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), time.monotonic()


@dataclass
class Attack:
    """The browser for ``login``: starts the flood, then brings the callback."""

    workdir: Path
    flood: subprocess.Popen[str] | None = None
    rss_before: int = 0
    rss_at_callback: int = 0
    callback_at: float = 0.0
    answered_at: float = 0.0
    status: int = 0
    errors: list[BaseException] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def __call__(self, url: str) -> bool:
        try:
            self.attack(url)
        except BaseException as exc:
            self.errors.append(exc)
            raise
        finally:
            self.done.set()
        return True

    def attack(self, url: str) -> None:
        redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        port = urlsplit(redirect_uri).port
        assert port is not None

        reset_peak_rss()
        self.rss_before = rss()
        self.flood = subprocess.Popen(
            [
                sys.executable,
                str(FLOOD),
                str(port),
                f"--idle={IDLE}",
                f"--requests={FLOOD_REQUESTS}",
                f"--seconds={FLOOD_SECONDS}",
                f"--ready-after={FLOOD_BEFORE_CALLBACK}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

        # Meanwhile the user signs in at the provider; the address it ends
        # on comes back in a file instead of being requested.
        ended_on = self.workdir / "ended-on"
        env = {**os.environ, "OAUTHCLI_TEST_REMOTE": str(ended_on)}
        subprocess.run(
            [sys.executable, str(HTTP_USER), url], env=env, check=True, timeout=30
        )

        assert self.flood.stdout is not None
        assert self.flood.stdout.readline() == "ready\n"
        assert self.flood.poll() is None, "the flood ended before the callback"
        self.rss_at_callback = rss("VmHWM")
        self.callback_at = time.monotonic()
        self.status, self.answered_at = http_get(ended_on.read_text())

    def stop_flood(self) -> dict[str, Any]:
        """End the flood (it stops when its stdin closes); its report."""
        assert self.flood is not None
        assert self.flood.stdin is not None
        assert self.flood.stdout is not None
        self.flood.stdin.close()
        with self.flood.stdout:
            out = self.flood.stdout.read()
        assert self.flood.wait(timeout=30) == 0
        report: dict[str, Any] = json.loads(out)
        return report


def test_a_flood_from_another_process_delays_the_login_by_less_than_a_second(
    provider: LocalProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    constants = OAuth2Constants(
        client_id="cli-app", authz_server_host=provider.issuer, login_timeout=60
    )
    # A first login loads everything a login needs (httpx, jwt, filelock),
    # so that the memory measured below is the listener's alone.
    login(constants, opener=run_user, notify=lambda _: None)

    attack = Attack(tmp_path)
    try:
        result = login(constants, opener=attack, notify=lambda _: None)
        done_at = time.monotonic()
    finally:
        report = attack.stop_flood() if attack.flood is not None else {}
    assert not attack.errors
    flood_growth = attack.rss_at_callback - attack.rss_before
    rss_growth = rss("VmHWM") - attack.rss_before

    assert result.account.sub == "alice"
    assert attack.status == 200
    took = done_at - attack.callback_at
    assert took < CALLBACK_TO_DONE, f"the login ended {took:.3f} s after the callback"

    # The callback came in the middle of the flood, and the flood was real.
    assert report["idle"] == IDLE
    assert report["first_at"] < attack.callback_at < report["last_at"]
    assert report["requests"] >= FLOOD_BEFORE_CALLBACK
    assert report["requests"] <= FLOOD_REQUESTS
    outcomes = report["outcomes"]
    refused = outcomes.pop("refused", 0)
    assert set(outcomes) <= {"400", "404", "405", "cut_off", "reset", "closed_early"}
    assert refused == 0 or report["refused_at"] > attack.callback_at
    assert sum(outcomes.values()) + refused == report["requests"]

    # Memory: bounded, far below what keeping one read buffer per request
    # would cost.
    assert FLOOD_BEFORE_CALLBACK * READ_BUFFER > FLOOD_GROWTH_LIMIT
    assert flood_growth < FLOOD_GROWTH_LIMIT, f"RSS grew by {flood_growth >> 20} MiB"
    assert rss_growth < LOGIN_GROWTH_LIMIT, f"RSS grew by {rss_growth >> 20} MiB"
    print(
        f"\nflood: {report['requests']} requests ({report['bytes_sent'] >> 20} MiB) "
        f"and {IDLE} idle sockets; callback answered in "
        f"{attack.answered_at - attack.callback_at:.3f} s, login done "
        f"{took:.3f} s after the callback; peak RSS growth "
        f"{flood_growth / (1 << 20):.1f} MiB until the callback, "
        f"{rss_growth / (1 << 20):.1f} MiB in all; outcomes {outcomes}"
    )


def run_user(url: str) -> bool:
    done = subprocess.run([sys.executable, str(HTTP_USER), url], check=False)
    return done.returncode == 0
