"""A local attacker for the login listener: idle sockets and a flood of bogus requests.

    python loopback_flood.py PORT [--idle N] [--requests N] [--seconds S]
                                  [--ready-after N]

Run as its own process against oauthcli's loopback listener on
127.0.0.1:PORT (never another address). It opens ``--idle`` connections that
never send a byte, then sends bogus requests from a few threads, each on a
new connection: forged callbacks, other paths and methods, a TLS hello,
request lines and headers of several KiB, requests cut off half-way and
connections reset at once. It stops after ``--requests`` requests or
``--seconds`` seconds, when the listener refuses a connection (the login is
over), or as soon as its stdin is closed, whichever comes first.

On stdout: ``ready`` once the idle sockets are open and ``--ready-after``
bogus requests have been sent, then one JSON line with what happened (counts
by outcome, bytes sent, the monotonic times of the first and last request
and of the first refused connection). Nothing it sends is a secret, and it
never learns one.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable

HOST = "127.0.0.1"  # the only address this script ever connects to
WORKERS = 6
IO_TIMEOUT = 3.0


def bogus_requests(port: int) -> list[tuple[str, str]]:
    """The kinds of request sent, in turn: (name, bytes on the wire)."""
    host = f"Host: {HOST}:{port}\r\n"
    padding = "p" * 15_000
    many_headers = "".join(f"X-Filler-{n}: {'v' * 900}\r\n" for n in range(60))
    return [
        ("forged", f"GET /callback?code=forged&state=wrong HTTP/1.1\r\n{host}\r\n"),
        ("no_state", f"GET /callback?code=forged HTTP/1.1\r\n{host}\r\n"),
        ("not_found", f"GET /favicon.ico HTTP/1.1\r\n{host}\r\n"),
        ("post", f"POST /callback HTTP/1.1\r\n{host}Content-Length: 4\r\n\r\nab=c"),
        ("foreign_host", "GET /callback?code=x HTTP/1.1\r\nHost: evil.test\r\n\r\n"),
        ("long_line", f"GET /callback?pad={padding} HTTP/1.1\r\n{host}\r\n"),
        ("many_headers", f"GET /callback?code=y HTTP/1.1\r\n{host}{many_headers}\r\n"),
        ("garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"),
        ("cut_off", "GET /callback?code=z&sta"),
        ("reset", ""),
    ]


class Flood:
    """The shared budget and tallies of the worker threads."""

    def __init__(
        self, port: int, budget: int, seconds: float, ready_after: int
    ) -> None:
        self.port = port
        self.budget = budget
        self.ready_after = ready_after
        self.deadline = time.monotonic() + seconds
        self.kinds = [
            (name, data.encode("latin-1")) for name, data in bogus_requests(port)
        ]
        self.lock = threading.Lock()
        self.sent = 0
        self.bytes_sent = 0
        self.outcomes: Counter[str] = Counter()
        self.first_at = 0.0
        self.last_at = 0.0
        self.refused_at = 0.0
        self.stop = threading.Event()
        self.ready = threading.Event()

    def take(self) -> tuple[str, bytes] | None:
        """The next request to send, or None once the budget is spent."""
        with self.lock:
            if self.stop.is_set() or self.sent >= self.budget:
                return None
            if time.monotonic() >= self.deadline:
                return None
            kind = self.kinds[self.sent % len(self.kinds)]
            self.sent += 1
            self.bytes_sent += len(kind[1])
            now = time.monotonic()
            self.first_at = self.first_at or now
            self.last_at = now
            if self.sent >= self.ready_after:
                self.ready.set()
            return kind

    def tally(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1

    def work(self) -> None:
        while (kind := self.take()) is not None:
            outcome = send(self.port, *kind)
            self.tally(outcome)
            if outcome == "refused":  # the listener is gone: the login is over
                with self.lock:
                    self.refused_at = self.refused_at or time.monotonic()
                self.stop.set()


def send(port: int, name: str, data: bytes) -> str:
    """Send one bogus request on a new connection; the answer's status or fate."""
    try:
        conn = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "connect_failed"
    with conn:
        if name == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            return "reset"
        try:
            conn.sendall(data)
            if name == "cut_off":
                return "cut_off"
            answer = conn.recv(64)
        except OSError:
            return "closed_early"
    parts = answer.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        return "no_answer"
    return parts[1].decode("ascii", "replace")


def open_idle(port: int, count: int) -> list[socket.socket]:
    idle = []
    for _ in range(count):
        conn = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
        idle.append(conn)
    return idle


def still_open(conn: socket.socket) -> bool:
    """Whether the listener has left this idle connection open."""
    conn.setblocking(False)
    try:
        return conn.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def watch_stdin(on_close: Callable[[], None]) -> None:
    def run() -> None:
        # os.read, not sys.stdin: a daemon thread blocked in a buffered read
        # makes the interpreter abort at exit.
        while os.read(0, 4096):
            pass
        on_close()

    threading.Thread(target=run, daemon=True).start()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--ready-after", type=int, default=200)
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536 or args.requests > 20_000 or args.seconds > 60:
        parser.error("port out of range, or a budget beyond this script's limits")

    flood = Flood(args.port, args.requests, args.seconds, args.ready_after)
    watch_stdin(flood.stop.set)
    idle = open_idle(args.port, args.idle)
    workers = [threading.Thread(target=flood.work) for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    while not flood.ready.wait(0.05):
        if not any(worker.is_alive() for worker in workers):
            break
    print("ready", flush=True)
    for worker in workers:
        worker.join()

    report = {
        "idle": len(idle),
        "idle_left_open": sum(still_open(conn) for conn in idle),
        "requests": flood.sent,
        "bytes_sent": flood.bytes_sent,
        "outcomes": dict(flood.outcomes),
        "first_at": flood.first_at,
        "last_at": flood.last_at,
        "refused_at": flood.refused_at,
    }
    for conn in idle:
        conn.close()
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
