"""The loopback listener, driven over real sockets (RFC 8252 section 7.3)."""

from __future__ import annotations

import errno
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from oauthcli.authorization import AuthorizationRequest, validate_callback
from oauthcli.constants import RedirectSpec
from oauthcli.errors import AuthorizationError, LocalError
from oauthcli.loopback import LoopbackServer

STATE = "s" * 43
ISSUER = "http://127.0.0.1:1"


def spec(*ports: int, host: str = "127.0.0.1") -> RedirectSpec:
    return RedirectSpec(host=host, path="/callback", ports=tuple(ports))


def request_for(server: LoopbackServer) -> AuthorizationRequest:
    return AuthorizationRequest(
        issuer=ISSUER,
        iss_required=False,
        client_id="cli",
        redirect_uri=server.redirect_uri,
        state=STATE,
        nonce=None,
        code_verifier="v" * 43,
        url="http://127.0.0.1:1/authorize",
    )


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(spec()) as listener:
        request = request_for(listener)
        listener.serve(lambda params: validate_callback(params, request))
        yield listener


def raw(port: int, data: bytes, host: str = "127.0.0.1") -> bytes:
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def get(port: int, target: str, host_header: str | None = None) -> bytes:
    host_header = host_header or f"127.0.0.1:{port}"
    return raw(port, f"GET {target} HTTP/1.1\r\nHost: {host_header}\r\n\r\n".encode())


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_c07_lbk_01_it_listens_on_loopback_only(server: LoopbackServer) -> None:
    assert server.addresses == ["127.0.0.1"]
    assert server.redirect_uri == f"http://127.0.0.1:{server.port}/callback"


def test_ipv6_redirect_listens_on_ipv6_loopback_only() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        listener = LoopbackServer(spec(host="[::1]"))
        listener.bind()
    except OSError:
        pytest.skip("::1 is not configured on this machine")
    with listener:
        assert listener.addresses == ["::1"]
        assert listener.redirect_uri.startswith("http://[::1]:")


def test_the_genuine_callback_returns_the_code(server: LoopbackServer) -> None:
    response = get(server.port, f"/callback?code=abc&state={STATE}")
    assert status(response) == 200
    assert b"Login complete" in response
    assert server.wait(timeout=5) == "abc"


def test_other_paths_get_404_and_do_not_end_the_login(server: LoopbackServer) -> None:
    assert status(get(server.port, "/favicon.ico")) == 404
    assert status(get(server.port, "/")) == 404
    assert status(get(server.port, f"/callback?code=abc&state={STATE}")) == 200
    assert server.wait(timeout=5) == "abc"


def test_cb_10_forged_callbacks_get_400_and_the_login_keeps_waiting() -> None:
    warnings: list[str] = []
    with LoopbackServer(spec()) as listener:
        request = request_for(listener)
        listener.serve(
            lambda params: validate_callback(params, request),
            on_forged=lambda: warnings.append("forged"),
        )
        for _ in range(50):
            assert status(get(listener.port, "/callback?code=evil&state=wrong")) == 400
        assert status(get(listener.port, "/callback?code=evil")) == 400
        assert status(get(listener.port, f"/callback?code=good&state={STATE}")) == 200
        assert listener.wait(timeout=5) == "good"
    assert warnings == ["forged"]  # told once, not 51 times


def test_c08_access_denied_fails_at_once_and_the_page_escapes_provider_text(
    server: LoopbackServer,
) -> None:
    response = get(
        server.port,
        "/callback?error=access_denied&error_description=User+cancelled%3Cscript%3E"
        f"&state={STATE}",
    )
    assert status(response) == 400
    assert b"<script>" not in response
    assert b"&lt;script&gt;" in response
    with pytest.raises(AuthorizationError) as caught:
        server.wait(timeout=5)
    assert caught.value.error == "access_denied"


def test_csrf_02_a_replayed_callback_after_success_is_refused(
    server: LoopbackServer,
) -> None:
    target = f"/callback?code=abc&state={STATE}"
    assert status(get(server.port, target)) == 200
    assert status(get(server.port, target)) == 400
    assert server.wait(timeout=5) == "abc"


def test_c09_timeout_is_a_clear_error_and_releases_the_port() -> None:
    listener = LoopbackServer(spec())
    with listener:
        port = listener.port
        request = request_for(listener)
        listener.serve(lambda params: validate_callback(params, request))
        started = time.monotonic()
        with pytest.raises(LocalError) as caught:
            listener.wait(timeout=0.5)
        assert 0.4 < time.monotonic() - started < 3
    assert caught.value.code == "timeout"
    assert "timed out" in caught.value.message
    with LoopbackServer(spec(port)) as again:  # the same port works at once
        assert again.port == port


def _seconds_to_close_after_the_callback() -> float:
    with LoopbackServer(spec()) as listener:
        port = listener.port
        request = request_for(listener)
        listener.serve(lambda params: validate_callback(params, request))
        assert status(get(port, f"/callback?code=abc&state={STATE}")) == 200
        assert listener.wait(timeout=5) == "abc"
        started = time.monotonic()
        listener.close()
        seconds = time.monotonic() - started
    with LoopbackServer(spec(port)) as again:  # the port is free
        assert again.port == port
    return seconds


def test_closing_after_the_callback_takes_no_poll_interval() -> None:
    """The code is redeemed once the port is free, so closing is on the
    login's path: it must not wait for a poll (it used to take ~100 ms)."""
    # The quickest of three: a loaded machine adds delays, never removes them.
    assert min(_seconds_to_close_after_the_callback() for _ in range(3)) < 0.05


def test_c01_a_port_held_on_the_wildcard_address_fails_before_anything_else() -> None:
    port = free_port()
    wildcard = "0.0.0.0"  # noqa: S104 - the test plays the other program
    other = http.server.HTTPServer((wildcard, port), http.server.BaseHTTPRequestHandler)
    try:
        started = time.monotonic()
        with pytest.raises(LocalError) as caught:
            LoopbackServer(spec(port)).bind()
        assert time.monotonic() - started < 2
    finally:
        other.server_close()
    assert caught.value.code == "port_in_use"
    assert str(port) in caught.value.message


def test_c01_a_port_held_on_loopback_fails_and_names_the_port() -> None:
    port = free_port()
    other = http.server.HTTPServer(
        ("127.0.0.1", port), http.server.BaseHTTPRequestHandler
    )
    try:
        with pytest.raises(LocalError) as caught:
            LoopbackServer(spec(port)).bind()
    finally:
        other.server_close()
    assert caught.value.code == "port_in_use"
    assert str(port) in caught.value.message


def test_c02_a_busy_port_in_the_list_is_skipped_for_the_next_one() -> None:
    first, second = free_port(), free_port()
    other = http.server.HTTPServer(
        ("127.0.0.1", first), http.server.BaseHTTPRequestHandler
    )
    try:
        with LoopbackServer(spec(first, second)) as listener:
            assert listener.port == second
    finally:
        other.server_close()


def test_c02_all_listed_ports_busy_lists_them_and_never_uses_another() -> None:
    holders = [
        http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
        for _ in range(2)
    ]
    ports = [int(h.server_address[1]) for h in holders]
    try:
        with pytest.raises(LocalError) as caught:
            LoopbackServer(spec(*ports)).bind()
    finally:
        for holder in holders:
            holder.server_close()
    assert caught.value.code == "no_free_port"
    for port in ports:
        assert str(port) in caught.value.message


def test_c02_a_port_bound_but_not_listening_is_skipped_for_the_next_one() -> None:
    """Nobody answers on such a port, so only the bind itself can fail: its
    OSError must reach the port loop (it was lost to an AttributeError)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    busy, free = holder.getsockname()[1], free_port()
    try:
        with LoopbackServer(spec(busy, free)) as listener:
            assert listener.port == free
    finally:
        holder.close()


def test_c01_a_single_port_bound_but_not_listening_is_port_in_use() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    busy = holder.getsockname()[1]
    try:
        with pytest.raises(LocalError) as caught:
            LoopbackServer(spec(busy)).bind()
    finally:
        holder.close()
    assert caught.value.code == "port_in_use"
    assert str(busy) in caught.value.message


def test_cb_06_idle_connections_do_not_block_the_callback(
    server: LoopbackServer,
) -> None:
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(6)]
    try:
        started = time.monotonic()
        assert status(get(server.port, f"/callback?code=abc&state={STATE}")) == 200
        assert server.wait(timeout=5) == "abc"
        assert time.monotonic() - started < 1.0
    finally:
        for conn in idle:
            conn.close()


@pytest.mark.parametrize("method", ["HEAD", "POST", "PUT", "DELETE", "OPTIONS"])
def test_cb_12_other_methods_get_405_and_do_not_consume_the_code(
    server: LoopbackServer, method: str
) -> None:
    response = raw(
        server.port,
        f"{method} /callback?code=abc&state={STATE} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\nContent-Length: 0\r\n\r\n".encode(),
    )
    assert status(response) == 405
    assert status(get(server.port, f"/callback?code=real&state={STATE}")) == 200
    assert server.wait(timeout=5) == "real"


def test_cb_13_absolute_form_and_foreign_host_are_refused(
    server: LoopbackServer,
) -> None:
    target = f"/callback?code=abc&state={STATE}"
    absolute = f"http://evil.example{target}"
    assert status(get(server.port, absolute)) == 400
    assert status(get(server.port, target, host_header="attacker.example")) == 400
    assert status(get(server.port, f"/callback?code=ok&state={STATE}")) == 200
    assert server.wait(timeout=5) == "ok"


def test_cb_01_malformed_request_lines_get_400(server: LoopbackServer) -> None:
    for line in (b"GARBAGE\r\n\r\n", b"GET /callback HTTP/9.9\r\n\r\n"):
        assert status(raw(server.port, line)) in (400, 505)
    assert status(get(server.port, f"/callback?code=ok&state={STATE}")) == 200
    assert server.wait(timeout=5) == "ok"


def test_cb_03_an_oversized_request_line_gets_414(server: LoopbackServer) -> None:
    response = get(server.port, "/callback?code=" + "a" * 20000 + f"&state={STATE}")
    assert status(response) == 414


def test_cb_18_non_ascii_bytes_in_the_request_line_get_400(
    server: LoopbackServer,
) -> None:
    line = b"GET /callback?code=\xff\x1b[31m&state=" + STATE.encode() + b" HTTP/1.1\r\n"
    response = raw(
        server.port, line + f"Host: 127.0.0.1:{server.port}\r\n\r\n".encode()
    )
    assert status(response) == 400


def test_ctrl_c_while_waiting_is_a_clean_cancel_and_releases_the_port() -> None:
    from oauthcli.errors import Cancelled

    with LoopbackServer(spec()) as listener:
        port = listener.port
        request = request_for(listener)
        listener.serve(lambda params: validate_callback(params, request))
        timer = threading.Timer(0.2, lambda: _interrupt_main())
        timer.start()
        with pytest.raises(Cancelled):
            listener.wait(timeout=10)
    with LoopbackServer(spec(port)) as again:
        assert again.port == port


def _interrupt_main() -> None:
    import _thread

    _thread.interrupt_main()


def send_and_close(port: int, target: str) -> None:
    """Send a request and abort the connection at once (RST), unread."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    conn.setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
    )
    conn.close()


def test_a_browser_that_disconnects_early_does_not_lose_the_code() -> None:
    forged: list[str] = []
    with LoopbackServer(spec()) as listener:
        request = request_for(listener)
        listener.serve(
            lambda params: validate_callback(params, request),
            on_forged=lambda: forged.append("forged"),
        )
        send_and_close(listener.port, "/callback?code=evil&state=wrong")
        deadline = time.monotonic() + 5
        while not forged and time.monotonic() < deadline:
            time.sleep(0.01)
        send_and_close(listener.port, f"/callback?code=abc&state={STATE}")
        assert listener.wait(timeout=5) == "abc"
    assert forged == ["forged"]


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_localhost_listens_on_both_loopbacks_so_no_one_can_take_the_other() -> None:
    if not ipv6_loopback():
        pytest.skip("::1 is not configured on this machine")
    with LoopbackServer(spec(host="localhost")) as listener:
        assert sorted(listener.addresses) == ["127.0.0.1", "::1"]
        with (
            socket.socket(socket.AF_INET6) as attacker,
            pytest.raises(OSError, match="in use"),
        ):
            attacker.bind(("::1", listener.port))
        request = request_for(listener)
        listener.serve(lambda params: validate_callback(params, request))
        response = raw(
            listener.port,
            f"GET /callback?code=v6&state={STATE} HTTP/1.1\r\n"
            f"Host: localhost:{listener.port}\r\n\r\n".encode(),
            host="::1",
        )
        assert status(response) == 200
        assert listener.wait(timeout=5) == "v6"


def test_localhost_with_a_fixed_port_taken_on_ipv6_fails_at_once() -> None:
    if not ipv6_loopback():
        pytest.skip("::1 is not configured on this machine")
    with socket.socket(socket.AF_INET6) as other:
        other.bind(("::1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(LocalError) as caught:
            LoopbackServer(spec(port, host="localhost")).bind()
    assert caught.value.code == "port_in_use"


@pytest.fixture
def no_ipv6_in_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel booted with ipv6.disable=1: no AF_INET6 socket at all.

    Stands in for a kernel this machine does not run; every IPv4 socket is
    real.
    """
    real = socket.socket

    def make(family: int = -1, *args: Any, **kwargs: Any) -> socket.socket:
        if family == socket.AF_INET6:
            raise OSError(errno.EAFNOSUPPORT, "Address family not supported")
        return real(family, *args, **kwargs)

    monkeypatch.setattr(socket, "socket", make)


@pytest.mark.parametrize("fixed_port", [False, True])
def test_localhost_listens_on_127_0_0_1_alone_without_ipv6_in_the_kernel(
    no_ipv6_in_the_kernel: None, fixed_port: bool
) -> None:
    ports: tuple[int, ...] = (free_port(),) if fixed_port else ()
    with LoopbackServer(spec(*ports, host="localhost")) as listener:
        request = request_for(listener)
        listener.serve(lambda params: validate_callback(params, request))
        assert listener.addresses == ["127.0.0.1"]
        if fixed_port:
            assert listener.port == ports[0]
        response = get(
            listener.port,
            f"/callback?code=v4&state={STATE}",
            host_header=f"localhost:{listener.port}",
        )
        assert status(response) == 200
        assert listener.wait(timeout=5) == "v4"


def test_trickling_connections_cannot_lock_out_the_callback() -> None:
    from oauthcli import loopback

    with LoopbackServer(spec()) as listener:
        request = request_for(listener)
        listener.serve(lambda params: validate_callback(params, request))
        trickling = []
        for _ in range(loopback.MAX_CONNECTIONS + 4):
            conn = socket.create_connection(("127.0.0.1", listener.port))
            conn.sendall(b"G")  # a request line that never finishes
            trickling.append(conn)
        try:
            time.sleep(0.3)  # let the listener accept them all
            started = time.monotonic()
            response = get(listener.port, f"/callback?code=abc&state={STATE}")
            assert status(response) == 200
            assert listener.wait(timeout=5) == "abc"
            assert time.monotonic() - started < 3
        finally:
            for conn in trickling:
                conn.close()


def test_a_connection_that_never_finishes_its_request_is_cut_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from oauthcli import loopback

    monkeypatch.setattr(loopback, "REQUEST_DEADLINE", 0.5)
    with LoopbackServer(spec()) as listener:
        request = request_for(listener)
        listener.serve(lambda params: validate_callback(params, request))
        with socket.create_connection(("127.0.0.1", listener.port)) as conn:
            conn.settimeout(5)
            started = time.monotonic()
            for _ in range(20):  # one byte every 0.1 s: each read is quick
                try:
                    conn.sendall(b"G")
                except OSError:
                    break
                time.sleep(0.1)
            conn.recv(100)
            assert time.monotonic() - started < 1.9


def test_an_outcome_repr_never_shows_the_code() -> None:
    from oauthcli.loopback import CallbackOutcome

    assert "SECRET-CODE" not in repr(CallbackOutcome(code="SECRET-CODE"))


def test_cb_04_oversized_and_too_many_headers_get_431(server: LoopbackServer) -> None:
    head = f"GET /callback?code=x&state=y HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
    huge_line = head + "X-Big: " + "a" * 100_000 + "\r\n\r\n"
    many_lines = head + "".join(f"X-{n}: v\r\n" for n in range(10_000)) + "\r\n"
    for request in (huge_line, many_lines):
        assert status(raw(server.port, request.encode())) == 431
    assert status(get(server.port, f"/callback?code=ok&state={STATE}")) == 200
    assert server.wait(timeout=5) == "ok"


def test_cb_07_connections_reset_right_away_leave_the_listener_alive(
    server: LoopbackServer,
) -> None:
    for _ in range(20):
        conn = socket.create_connection(("127.0.0.1", server.port))
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
        conn.close()  # RST, as a browser abandoning a speculative connection
    assert status(get(server.port, f"/callback?code=ok&state={STATE}")) == 200
    assert server.wait(timeout=5) == "ok"


def test_cb_09_hundreds_of_open_connections_cannot_starve_the_callback(
    server: LoopbackServer,
) -> None:
    flood = []
    try:
        for _ in range(300):
            flood.append(socket.create_connection(("127.0.0.1", server.port)))
        started = time.monotonic()
        assert status(get(server.port, f"/callback?code=ok&state={STATE}")) == 200
        assert server.wait(timeout=5) == "ok"
        assert time.monotonic() - started < 5
    finally:
        for conn in flood:
            conn.close()


def test_cb_09_a_burst_of_300_connections_waits_in_the_backlog() -> None:
    """Not dropped: a full accept queue drops SYNs, retried only after 1 s."""
    with LoopbackServer(spec()) as listener:  # listening, not accepting yet
        burst = []
        try:
            for _ in range(300):
                address = ("127.0.0.1", listener.port)
                burst.append(socket.create_connection(address, timeout=0.5))
            request = request_for(listener)
            listener.serve(lambda params: validate_callback(params, request))
            started = time.monotonic()
            assert status(get(listener.port, f"/callback?code=ok&state={STATE}")) == 200
            assert listener.wait(timeout=5) == "ok"
            assert time.monotonic() - started < 1
        finally:
            for conn in burst:
                conn.close()


@pytest.mark.parametrize(
    "extra",
    [
        "Content-Length: 5\r\n\r\nhello",
        "Content-Length: 999999999\r\n\r\n",
        "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "Expect: 100-continue\r\nContent-Length: 10\r\n\r\n",
    ],
)
def test_cb_22_a_body_on_the_callback_is_ignored_and_not_waited_for(
    server: LoopbackServer, extra: str
) -> None:
    request = (
        f"GET /callback?code=ok&state={STATE} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n{extra}"
    )
    started = time.monotonic()
    assert status(raw(server.port, request.encode())) == 200
    assert time.monotonic() - started < 2  # answered without reading a body
    assert server.wait(timeout=5) == "ok"


def test_cb_24_a_handler_that_raises_costs_one_request_not_the_listener() -> None:
    calls = []

    def fragile(params: dict[str, str]) -> str:
        calls.append(params)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return params["code"]

    with LoopbackServer(spec()) as listener:
        listener.serve(fragile)
        assert status(get(listener.port, "/callback?code=first")) == 500
        assert status(get(listener.port, "/callback?code=second")) == 200
        assert listener.wait(timeout=5) == "second"


def test_cb_27_the_answer_is_complete_even_if_read_after_the_listener_closed() -> None:
    with LoopbackServer(spec()) as listener:
        request = request_for(listener)
        listener.serve(lambda params: validate_callback(params, request))
        conn = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
        conn.sendall(
            f"GET /callback?code=ok&state={STATE} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{listener.port}\r\n\r\n".encode()
        )
        assert listener.wait(timeout=5) == "ok"
    with conn:  # the listener is closed now; the browser reads slowly
        received = b""
        while chunk := conn.recv(16):
            received += chunk
    assert status(received) == 200
    assert received.rstrip().endswith(b"</html>")


# Section 3 rows again, each over raw sockets: what a local process can send.


def wait_briefly(listener: LoopbackServer) -> None:
    """The login is still waiting: nothing ended it."""
    with pytest.raises(LocalError) as caught:
        listener.wait(timeout=0.2)
    assert caught.value.code == "timeout"


def finish(listener: LoopbackServer, code: str = "real") -> None:
    """The genuine callback still completes the login."""
    assert status(get(listener.port, f"/callback?code={code}&state={STATE}")) == 200
    assert listener.wait(timeout=5) == code


def callback_request(port: int, query: str, *headers: bytes) -> bytes:
    head = f"GET /callback?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
    return head + b"".join(line + b"\r\n" for line in headers) + b"\r\n"


@pytest.mark.parametrize(
    "line",
    [
        b"GET /callback?code=ok&state=STATE HTTP/0.9",
        b"GET /callback?code=ok&state=STATE HTTP/2.0",
        b"GET /callback?code=ok&state=STATE HTTP/1.2",
        b"GET /callback?code=ok&state=STATE http/1.1",
        b"GET /callback?code=ok&state=STATE",
        b"GET",
        b"",
    ],
)
def test_cb_01_http_0_9_and_unknown_versions_get_a_status_line_and_no_login(
    server: LoopbackServer, line: bytes
) -> None:
    # Regression: "GET /callback?... HTTP/0.9" was answered the HTTP/0.9 way
    # (a bare page: no status line, no Cache-Control, no CSP) and ended the
    # login with the code.
    request = line.replace(b"STATE", STATE.encode()) + b"\r\n"
    response = raw(
        server.port, request + f"Host: 127.0.0.1:{server.port}\r\n\r\n".encode()
    )
    assert response.startswith(b"HTTP/1.1 ")
    assert status(response) in (400, 505)
    wait_briefly(server)
    finish(server)


@pytest.mark.parametrize(
    "header",
    [
        b"X-Note: \xff\xfe",
        b"X-Note: \x1b[31mred",
        b"X-Note: a\x00b",
        b"X-Note: a\rX-Other: b",
        b"X-Note: a\rb",
        b"X-Note: a\x7f",
        b"X-Note: a\r\n folded",
        b"\x1b[2J: x",
    ],
)
def test_cb_18_control_or_non_ascii_bytes_in_a_header_get_400(
    server: LoopbackServer, header: bytes
) -> None:
    # Regression: only the request line was checked; a header with such bytes
    # (a bare CR even split one header into two unseen) still ended the login.
    request = callback_request(server.port, f"code=ok&state={STATE}", header)
    assert status(raw(server.port, request)) == 400
    wait_briefly(server)
    finish(server)


def test_cb_18_a_bare_cr_cannot_hide_a_second_host_header(
    server: LoopbackServer,
) -> None:
    request = (
        f"GET /callback?code=ok&state={STATE} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\rHost: attacker.example\r\n\r\n"
    ).encode()
    assert status(raw(server.port, request)) == 400
    wait_briefly(server)
    finish(server)


@pytest.mark.parametrize(
    "ending", [b"\r\r\n", b"\r" * 21 + b"\n"], ids=["2 CRs", "21 CRs"]
)
def test_cb_18_bare_crs_at_the_end_of_the_request_line_get_400(
    server: LoopbackServer, ending: bytes
) -> None:
    # Regression (found by make fuzz): rstrip(b"\r\n") took every CR off the
    # end of the request line, so "... HTTP/1.1\r\r\n" still ended the login.
    line = f"GET /callback?code=ok&state={STATE} HTTP/1.1".encode() + ending
    request = line + f"Host: 127.0.0.1:{server.port}\r\n\r\n".encode()
    assert status(raw(server.port, request)) == 400
    wait_briefly(server)
    finish(server)


@pytest.mark.parametrize("size", [8 * 1024, 64 * 1024, 1024 * 1024])
def test_cb_03_request_lines_of_8k_64k_and_1m(
    server: LoopbackServer, size: int
) -> None:
    padding = "p=" + "x" * (size - 60 - len(STATE)) + "&"
    query = f"{padding}code=ok&state={STATE}"
    request = callback_request(server.port, query)
    try:
        response = raw(server.port, request)
    except ConnectionResetError:  # the unread rest of 1 MiB resets the socket
        response = b"HTTP/1.1 414 reset before read"
    if size <= 16 * 1024:  # within the cap: a long code still logs in
        assert status(response) == 200
        assert server.wait(timeout=5) == "ok"
        return
    assert status(response) == 414
    wait_briefly(server)
    finish(server)


@pytest.mark.parametrize(
    "query",
    [
        f"code=a&code=b&state={STATE}",
        f"code=a&state={STATE}&state={STATE}",
        f"code=a&state={STATE}&state=other",
        f"code=a&state={STATE}&iss=x&iss=y",
    ],
)
def test_cb_15_repeated_parameters_over_the_socket_get_400_and_the_login_waits(
    server: LoopbackServer, query: str
) -> None:
    assert status(raw(server.port, callback_request(server.port, query))) == 400
    wait_briefly(server)
    finish(server)


def test_cb_16_an_empty_state_is_no_state_and_the_login_waits(
    server: LoopbackServer,
) -> None:
    request = callback_request(server.port, "code=evil&state=")
    assert status(raw(server.port, request)) == 400
    wait_briefly(server)
    finish(server)


def test_cb_16_an_empty_code_with_the_right_state_fails_the_login(
    server: LoopbackServer,
) -> None:
    from oauthcli.errors import ValidationError

    request = callback_request(server.port, f"code=&state={STATE}")
    assert status(raw(server.port, request)) == 400
    with pytest.raises(ValidationError) as caught:
        server.wait(timeout=5)
    assert caught.value.code == "invalid_callback"


def test_cb_19_too_many_parameters_or_a_too_long_value_get_400(
    server: LoopbackServer,
) -> None:
    many = "&".join(f"p{n}=v" for n in range(40)) + f"&code=ok&state={STATE}"
    too_long = f"code={'c' * 9000}&state={STATE}"  # within the line cap
    for query in (many, too_long):
        assert status(raw(server.port, callback_request(server.port, query))) == 400
    fifty_kb = f"code={'c' * 50_000}&state={STATE}"  # beyond it
    assert status(raw(server.port, callback_request(server.port, fifty_kb))) == 414
    wait_briefly(server)
    finish(server)


def answers(data: bytes) -> list[int]:
    """The status of every response in ``data``."""
    return [
        int(line.split(b" ", 2)[1])
        for line in data.split(b"\r\n")
        if line.startswith(b"HTTP/1.1 ")
    ]


def test_cb_21_a_forged_callback_pipelined_before_the_genuine_one_ends_nothing(
    server: LoopbackServer,
) -> None:
    forged = callback_request(server.port, "code=evil&state=wrong")
    genuine = callback_request(server.port, f"code=real&state={STATE}")
    response = raw(server.port, forged + genuine)  # one packet
    # Answered in order: the first, then the connection is closed; the
    # unanswered request is the client's to retry (RFC 9112 section 9.3.2).
    assert answers(response) == [400]
    wait_briefly(server)
    assert answers(raw(server.port, genuine)) == [200]
    assert server.wait(timeout=5) == "real"


def test_cb_21_a_forged_callback_pipelined_after_the_genuine_one_is_never_read(
    server: LoopbackServer,
) -> None:
    genuine = callback_request(server.port, f"code=real&state={STATE}")
    forged = callback_request(server.port, f"error=access_denied&state={STATE}")
    assert answers(raw(server.port, genuine + forged)) == [200]
    assert server.wait(timeout=5) == "real"


def test_cb_21_a_request_smuggled_in_a_body_is_never_parsed(
    server: LoopbackServer,
) -> None:
    smuggled = callback_request(server.port, f"error=access_denied&state={STATE}")
    carrier = callback_request(
        server.port,
        "code=evil&state=wrong",
        f"Content-Length: {len(smuggled)}".encode(),
    )
    assert answers(raw(server.port, carrier + smuggled)) == [400]
    wait_briefly(server)
    finish(server)


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PATCH"])
def test_cb_12_trace_connect_and_patch_get_405(
    server: LoopbackServer, method: str
) -> None:
    target = f"/callback?code=ok&state={STATE}"
    request = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n"
    assert status(raw(server.port, request.encode())) == 405
    wait_briefly(server)
    finish(server)


def test_cb_12_a_form_post_carrying_the_code_is_refused_unread(
    server: LoopbackServer,
) -> None:
    body = f"code=ok&state={STATE}".encode()
    request = (
        f"POST /callback HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body) + 1_000_000}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    assert status(raw(server.port, request + body)) == 405
    assert time.monotonic() - started < 2  # the promised megabyte is not awaited
    wait_briefly(server)
    finish(server)


def test_closing_the_listener_cuts_off_connections_still_open() -> None:
    """An idle connection and one halfway through its request line are
    ended when the login ends, not served until REQUEST_DEADLINE."""
    with LoopbackServer(spec()) as listener:
        request = request_for(listener)
        listener.serve(lambda params: validate_callback(params, request))
        idle = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
        half = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
        half.sendall(b"GET /callback?state=")
        time.sleep(0.3)  # both accepted and waiting for their requests
    try:
        for conn in (idle, half):
            conn.settimeout(2.0)
            started = time.monotonic()
            assert conn.recv(1024) == b""
            assert time.monotonic() - started < 2.0
    finally:
        idle.close()
        half.close()
