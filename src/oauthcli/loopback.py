"""The loopback listener that receives the redirect back (RFC 8252 section 7.3).

It binds loopback addresses only, never a wildcard: 127.0.0.1 for a
``127.0.0.1`` redirect, ::1 for ``[::1]``, and both on the same port for
``localhost`` (a browser may try either, and a port left free on the other
family could be taken by another local user to receive the code). It is
listening before any browser opens. An ephemeral port is the default; fixed
ports are tried in order, and a port some other process answers on is
skipped, so a server holding the wildcard address cannot receive our
callback (issue C01).

Each connection has its own thread and must deliver its request within
``REQUEST_DEADLINE`` seconds in all; when every slot is taken, the oldest
connection that has not sent its request yet is dropped, so idle or
trickling sockets cannot lock the real callback out. Only
``GET <redirect path>`` with the right ``Host`` is a callback. A callback
without this login's ``state`` is answered 400 and ignored: the login keeps
waiting, so that a local process cannot end it. Nothing the listener
receives is logged.
"""

from __future__ import annotations

import contextlib
import errno
import html
import http.server
import queue
import selectors
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._log import log
from .authorization import parse_callback_query
from .constants import RedirectSpec
from .errors import (
    CallbackRejected,
    Cancelled,
    LocalError,
    OAuthCLIError,
    ProviderError,
    sanitize,
)

__all__ = ["CallbackOutcome", "LoopbackServer"]


MAX_CONNECTIONS = 64
# Connections the kernel holds until they are accepted. When this queue is
# full, Linux drops new SYNs and the client retries a second later, so a
# burst of a few hundred sockets from another local process would delay the
# real callback by a second or more; queued, it waits its turn (a few
# hundred connections take a fraction of a second).
ACCEPT_BACKLOG = 1024
CONNECTION_TIMEOUT = 10.0  # per read
REQUEST_DEADLINE = 10.0  # for the whole request line and headers
MAX_REQUEST_LINE = 16 * 1024

Validator = Callable[[dict[str, str]], str]


@dataclass(frozen=True)
class CallbackOutcome:
    """The end of a login's wait: a code, or the error that ended it."""

    code: str | None = field(default=None, repr=False)
    error: OAuthCLIError | None = None


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; margin: 4rem auto; max-width: 36rem;
       padding: 0 1rem; color: #1f2328; }}
h1 {{ font-size: 1.4rem; }} code {{ background: #f3f3f3; padding: 0 .3em; }}
</style></head>
<body><h1>{title}</h1><p>{body}</p></body></html>
"""


def _page(title: str, body: str) -> bytes:
    return _PAGE.format(title=html.escape(title), body=body).encode("utf-8")


def _failure_body(error: OAuthCLIError) -> str:
    if isinstance(error, ProviderError):
        code = html.escape(sanitize(error.error, 64))
        text = f"The provider answered <code>{code}</code>"
        if error.error_description:
            text += f": {html.escape(sanitize(error.error_description))}"
        return text + ". Return to the terminal for details."
    return html.escape(error.message) + ". Return to the terminal for details."


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = CONNECTION_TIMEOUT
    default_request_version = "HTTP/1.0"  # error responses always have a status line
    server_version = "oauthcli"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Never log requests: their query strings carry codes."""

    def handle(self) -> None:
        shared = self.server.shared
        shared.waiting(self.connection)
        deadline = threading.Timer(REQUEST_DEADLINE, _drop, (self.connection,))
        deadline.daemon = True
        deadline.start()
        try:
            super().handle()
        finally:
            deadline.cancel()
            shared.done(self.connection)

    def _respond(self, status: int, title: str, body: str) -> None:
        content = _page(title, body)
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header(
            "Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"
        )
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)
        self.wfile.flush()
        self.close_connection = True

    def _host_is_ours(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        shared = self.server.shared
        return host == f"{shared.spec.host}:{shared.port}".lower()

    def handle_expect_100(self) -> bool:
        """Never invite a body: a callback has none, and none is read."""
        return True

    def do_GET(self) -> None:
        target = self.path
        if not target.startswith("/") or target.startswith("//"):
            self._respond(400, "Bad request", "Only origin-form request targets.")
            return
        if not self._host_is_ours():
            self._respond(400, "Bad request", "Unexpected Host header.")
            return
        path, _, query = target.partition("?")
        if path != self.server.shared.spec.path:
            self._respond(404, "Not found", "This is oauthcli's login listener.")
            return
        try:
            self.server.shared.handle_callback(self, query)
        except Exception:  # a bug must cost this request only, not the listener
            log.debug("the callback handler failed", exc_info=False)
            self._respond(500, "Internal error", "oauthcli could not handle this.")

    def do_HEAD(self) -> None:
        self._method_not_allowed()

    def do_POST(self) -> None:
        self._method_not_allowed()

    do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_TRACE = do_CONNECT = do_POST

    def _method_not_allowed(self) -> None:
        self.send_response(405)
        self.send_header("Allow", "GET")
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def parse_request(self) -> bool:
        # Set before any early error: send_error() reads them.
        self.command = ""
        self.request_version = self.default_request_version
        self.requestline = ""
        self.close_connection = True
        line: bytes = getattr(self, "raw_requestline", b"")
        if len(line) > MAX_REQUEST_LINE:
            self.send_error(414)
            return False
        # One CRLF or LF off, no more: rstrip() would drop bare CRs before it.
        text = line.removesuffix(b"\n").removesuffix(b"\r")
        if not text.isascii() or any(byte < 0x20 or byte == 0x7F for byte in text):
            self.send_error(400)
            return False
        if len(text.split()) != 3:  # no HTTP/0.9 "GET /path"
            self.send_error(400)
            return False
        version = text.split()[2]
        if version not in (b"HTTP/1.0", b"HTTP/1.1"):  # HTTP/0.9 gets no headers
            self.send_error(505 if version.startswith(b"HTTP/") else 400)
            return False
        rfile, head = self.rfile, _HeadLines(self.rfile)
        self.rfile = head  # type: ignore[assignment]
        try:
            if not super().parse_request():
                return False
        finally:
            self.rfile = rfile
        if self.headers.defects or not all(map(_clean_line, head.lines)):
            self.send_error(400)  # a bare CR, a control or non-ASCII byte, a fold
            return False
        self.server.shared.started(self.connection)
        return True


class _HeadLines:
    """The header lines exactly as read: the parsed headers hide bare CRs."""

    def __init__(self, rfile: Any) -> None:
        self.rfile = rfile
        self.lines: list[bytes] = []

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self.rfile.readline(limit)
        self.lines.append(line)
        return line


def _clean_line(line: bytes) -> bool:
    text = line.removesuffix(b"\n").removesuffix(b"\r")
    return not text.startswith((b" ", b"\t")) and all(
        0x20 <= byte < 0x7F or byte == 0x09 for byte in text
    )


def _drop(connection: socket.socket) -> None:
    """Cut a connection off; its handler thread then ends."""
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class _Shared:
    """What the listener's sockets (one per address family) have in common."""

    def __init__(self, spec: RedirectSpec) -> None:
        self.spec = spec
        self.port = 0
        self.validator: Validator | None = None
        self.outcomes: queue.Queue[CallbackOutcome] = queue.Queue()
        self.finished = False
        self.forged = 0
        self.on_forged: Callable[[], None] | None = None
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._pending: dict[socket.socket, float] = {}  # no request line yet
        self._open: set[socket.socket] = set()  # every connection being served
        self._closed = False
        self._pending_lock = threading.Lock()

    def waiting(self, connection: socket.socket) -> None:
        with self._pending_lock:
            if self._closed:  # accepted just before the listener closed
                _drop(connection)
                return
            self._pending[connection] = time.monotonic()
            self._open.add(connection)

    def started(self, connection: socket.socket) -> None:
        with self._pending_lock:
            self._pending.pop(connection, None)

    def done(self, connection: socket.socket) -> None:
        with self._pending_lock:
            self._pending.pop(connection, None)
            self._open.discard(connection)

    def drop_all(self) -> None:
        """Cut off every connection still open (the listener is closing)."""
        with self._pending_lock:
            self._closed = True
            connections = list(self._open)
        for connection in connections:
            _drop(connection)

    def take_slot(self) -> bool:
        """A worker slot; when all are busy, drop the oldest idle connection."""
        if self.slots.acquire(blocking=False):
            return True
        with self._pending_lock:
            oldest = min(self._pending, key=self._pending.__getitem__, default=None)
        if oldest is not None:
            _drop(oldest)
        return self.slots.acquire(timeout=1.0)

    def judge(self, query: str) -> tuple[int, str, str, CallbackOutcome | None, bool]:
        """The verdict on one callback query, taken under the lock.

        Returns the HTTP status, page title and body, the outcome that ends
        the login (if any), and whether this is the first forged callback.
        """
        with self.lock:
            if self.finished:
                return (
                    400,
                    "Login already finished",
                    "This login has ended.",
                    None,
                    False,
                )
            try:
                if self.validator is None:
                    raise CallbackRejected("the login is not ready for a callback")
                code = self.validator(parse_callback_query(query))
            except CallbackRejected as exc:
                self.forged += 1
                log.debug("ignored a callback: %s", exc.code)
                body = "This request does not belong to the login in progress."
                return 400, "Not this login's callback", body, None, self.forged == 1
            except OAuthCLIError as exc:
                self.finished = True
                outcome = CallbackOutcome(error=exc)
                return 400, "Login failed", _failure_body(exc), outcome, False
            self.finished = True
            body = (
                "You are logged in. You can close this tab and return to the terminal."
            )
            return 200, "Login complete", body, CallbackOutcome(code=code), False

    def handle_callback(self, handler: _Handler, query: str) -> None:
        """Judge one callback, answer it, then end the wait if it was final.

        The answer is written outside the lock (a slow reader cannot stall
        other callbacks), and a browser that disconnects early never loses
        the outcome.
        """
        status, title, body, outcome, first_forgery = self.judge(query)
        try:
            handler._respond(status, title, body)
        except OSError:
            log.debug("the browser closed the connection before the answer was sent")
        if outcome is not None:
            self.outcomes.put(outcome)
        if first_forgery and self.on_forged is not None:
            self.on_forged()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = ACCEPT_BACKLOG  # capped by the system's somaxconn
    # SO_REUSEADDR on Linux only lets us rebind over TIME_WAIT; a live
    # listener on the port (wildcard or not) still makes bind fail. On BSD and
    # macOS it would let us share a port with a wildcard listener, and on
    # Windows it allows outright port theft, so there it stays off.
    allow_reuse_address = sys.platform.startswith("linux")

    def __init__(self, shared: _Shared, address: str, port: int) -> None:
        self.shared = shared
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        # Before the bind: a bind that fails calls server_close(), which
        # closes the pair, and the OSError must reach _bind_all unchanged.
        self._stopping = False
        self._wake, self._waker = socket.socketpair()
        try:
            super().__init__((address, port), _Handler)
        except BaseException:
            # socket() itself failed (no IPv6 in the kernel): no server_close.
            self._wake.close()
            self._waker.close()
            raise

    def serve_until_stopped(self) -> None:
        """Accept connections until ``stop()``.

        ``serve_forever`` would notice a shutdown only at its next poll (up
        to a poll interval after the callback); this loop also waits on a
        socket pair that ``stop()`` writes to, so it ends at once.
        """
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake, selectors.EVENT_READ)
            while not self._stopping:
                ready = selector.select()
                if self._stopping:
                    break
                if any(key.fileobj is self.socket for key, _ in ready):
                    # What serve_forever calls on a ready socket (not typed).
                    self._handle_request_noblock()  # type: ignore[attr-defined]

    def stop(self) -> None:
        """End ``serve_until_stopped`` (from another thread)."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self._waker.send(b"\0")

    def server_close(self) -> None:
        super().server_close()
        self._wake.close()
        self._waker.close()

    def server_bind(self) -> None:
        if sys.platform == "win32":  # pragma: no cover - Windows only
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined]
        super().server_bind()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.shared.take_slot():
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.shared.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.shared.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("loopback listener: a connection failed", exc_info=False)


def _someone_answers(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        probe = socket.socket(family, socket.SOCK_STREAM)
    except OSError:  # a kernel without IPv6: nobody can listen there
        return False
    with probe:
        probe.settimeout(0.3)
        try:
            probe.connect((address, port))
        except OSError:
            return False
    return True


# The second address of ``localhost`` (::1) may not exist: no IPv6 on the
# loopback interface, or none in the kernel. Nobody else can take it then.
_NO_SUCH_ADDRESS = (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT)


class _Busy(Exception):
    """Some address of the redirect host is taken on this port."""


class LoopbackServer:
    """One login's listener. Use as a context manager; it always releases the port.

    >>> with LoopbackServer(spec) as server:
    ...     server.redirect_uri          # the exact string to send
    ...     server.serve(validate)       # validate(params) -> code, or raises
    ...     code = server.wait(timeout=300)
    """

    def __init__(self, spec: RedirectSpec) -> None:
        self.spec = spec
        self._shared = _Shared(spec)
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> LoopbackServer:
        if not self._servers:
            self.bind()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _bind_all(self, port: int) -> list[_Server]:
        """Bind every address of the redirect host on ``port`` (0: any)."""
        servers: list[_Server] = []
        try:
            for address in self.spec.bind_addresses:
                try:
                    servers.append(_Server(self._shared, address, port))
                except OSError as exc:
                    if exc.errno == errno.EADDRINUSE:
                        raise _Busy from exc
                    if servers and exc.errno in _NO_SUCH_ADDRESS:
                        continue  # no ::1 here: nobody else can take it either
                    raise LocalError(
                        f"cannot listen on {address} port {port}: {exc.strerror}",
                        code="port_in_use",
                    ) from exc
                port = servers[0].port
        except BaseException:
            for server in servers:
                server.server_close()
            raise
        return servers

    def bind(self) -> None:
        """Start listening, or raise LocalError naming the busy port(s)."""
        if not self.spec.ports:
            for _ in range(5):  # the OS's port may be taken on the other family
                try:
                    self._servers = self._bind_all(0)
                    break
                except _Busy:
                    continue
            else:
                raise LocalError("no free loopback port found", code="no_free_port")
            self._shared.port = self._servers[0].port
            return
        busy: list[int] = []
        for port in self.spec.ports:
            if any(_someone_answers(a, port) for a in self.spec.bind_addresses):
                busy.append(port)
                continue
            try:
                self._servers = self._bind_all(port)
            except _Busy:
                busy.append(port)
                continue
            self._shared.port = port
            return
        if len(busy) == 1:
            raise LocalError(
                f"port {busy[0]} is already in use on {self.spec.host}; stop what "
                "listens there or choose another --port",
                code="port_in_use",
            )
        raise LocalError(
            "every allowed port is in use: "
            + ", ".join(str(p) for p in busy)
            + "; free one of them",
            code="no_free_port",
        )

    @property
    def port(self) -> int:
        if not self._servers:
            raise RuntimeError("the listener is not bound")
        return self._shared.port

    @property
    def addresses(self) -> list[str]:
        """The addresses actually listened on (for tests and -v)."""
        return [str(server.socket.getsockname()[0]) for server in self._servers]

    @property
    def redirect_uri(self) -> str:
        return self.spec.uri(self.port)

    def serve(
        self, validator: Validator, on_forged: Callable[[], None] | None = None
    ) -> None:
        """Accept callbacks, each checked by ``validator`` (params -> code)."""
        if not self._servers:
            self.bind()
        self._shared.validator = validator
        self._shared.on_forged = on_forged
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_until_stopped,
                name="oauthcli-loopback",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def deliver(self, outcome: CallbackOutcome) -> None:
        """End the wait from elsewhere (a test)."""
        self._shared.outcomes.put(outcome)

    def submit(self, query: str) -> bool:
        """Judge a redirect that arrived another way (a pasted URL).

        Exactly the checks of a real callback apply. Returns False when the
        query does not belong to this login (the wait goes on).
        """
        _, _, _, outcome, _ = self._shared.judge(query)
        if outcome is not None:
            self._shared.outcomes.put(outcome)
        return outcome is not None

    def wait(self, timeout: float) -> str:
        """Block until a callback ends the login; return the code or raise."""
        if not self._servers:
            raise RuntimeError("the listener is not bound")
        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LocalError(
                        f"timed out after {timeout:g} s waiting for the browser to "
                        "come back to oauthcli",
                        code="timeout",
                    )
                try:
                    outcome = self._shared.outcomes.get(timeout=min(remaining, 0.2))
                except queue.Empty:
                    continue
                if outcome.error is not None:
                    raise outcome.error
                assert outcome.code is not None
                return outcome.code
        except KeyboardInterrupt:
            raise Cancelled("login cancelled") from None

    def close(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        servers, self._servers = self._servers, []
        threads, self._threads = self._threads, []
        for server in servers:
            server.stop()
        for thread in threads:
            thread.join(timeout=2)
        for server in servers:
            server.server_close()
        # An idle or half-sent connection would otherwise keep its thread
        # serving until REQUEST_DEADLINE, after the login has ended.
        self._shared.drop_all()
