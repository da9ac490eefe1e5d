"""Fuzz target: the bytes a local process sends to the loopback listener.

Run ``python fuzz/fuzz_callback.py CORPUS_DIR -max_total_time=60`` (atheris),
or ``make fuzz``. ``TestOneInput`` is also called directly, without atheris,
by tests/test_fuzz_smoke.py.

An input is either a whole request (request line, headers, perhaps more
requests pipelined after it), handled by the listener's real request handler
(``oauthcli.loopback._Handler``) reading from memory instead of a socket; or,
when it starts with ``?``, a bare query handed to ``parse_callback_query``
and ``validate_callback``, as a pasted redirect URL is.

Checked for every input: nothing but oauthcli's typed errors escapes; the
answer is exactly one well-formed HTTP response (or none, for an empty
connection) with an expected status and no control characters; a login ends
only on a GET of the callback path with our ``Host``, this login's ``state``
and a head without control or non-ASCII bytes, and a 200 carries the query's
own code; the handler never reads past the first request.

Not reachable from here (the raw-socket tests cover them): accepting
connections, the per-connection deadline and worker-slot eviction, and the
answer's delivery to a slow or vanished peer.
"""

from __future__ import annotations

import io
import unicodedata

from fuzzing import fuzz  # fuzz/ is on sys.path: the script's own directory

from oauthcli.authorization import (
    AuthorizationRequest,
    parse_callback_query,
    validate_callback,
)
from oauthcli.constants import RedirectSpec
from oauthcli.errors import OAuthCLIError
from oauthcli.loopback import CallbackOutcome, _Handler, _Shared

__all__ = ["SEEDS", "TestOneInput", "answer", "main"]

PORT = 48213
HOST = f"127.0.0.1:{PORT}"
STATE = "fuzz-state-0123456789abcdefghijklmnopqrstu"
ISSUER = "http://127.0.0.1:9/issuer"
SPEC = RedirectSpec(host="127.0.0.1", path="/callback", ports=(PORT,))
EXPECTED_STATUS = frozenset({200, 400, 404, 405, 414, 431, 501, 505})
LOGIN = AuthorizationRequest(
    issuer=ISSUER,
    iss_required=True,
    client_id="fuzz-cli",
    redirect_uri=SPEC.uri(PORT),
    state=STATE,
    nonce=None,
    code_verifier="v" * 43,
    url="http://127.0.0.1:9/authorize",
)


def _request(target: str, *headers: str, method: str = "GET") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {HOST}", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


_GOOD = f"/callback?code=c0de&state={STATE}&iss=http%3A%2F%2F127.0.0.1%3A9%2Fissuer"
SEEDS: list[bytes] = [
    _request(_GOOD),
    _request(f"/callback?error=access_denied&state={STATE}&iss={ISSUER}"),
    _request("/callback?code=evil&state=wrong"),
    _request("/callback?code=a&code=b&state=s"),
    _request("/favicon.ico"),
    _request(_GOOD, method="HEAD"),
    _request(_GOOD, "Content-Length: 5", method="POST") + b"hello",
    _request(_GOOD, "Transfer-Encoding: chunked") + b"0\r\n\r\n",
    _request("/callback?code=evil&state=x") + _request(_GOOD),
    f"GET {_GOOD}\r\n\r\n".encode(),
    b"GET http://evil.example/callback?code=x HTTP/1.1\r\nHost: evil\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"\r\n",
    b"",
    b"GET /callback?code=\xff\x1b[31m HTTP/1.1\r\n\r\n",
    _request(_GOOD, "X-Bad: a\rb"),
    _request(_GOOD).replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\r\r\n", 1),
    f"?code=c0de&state={STATE}&iss={ISSUER}".encode(),
    b"?code=%ff&state=%zz&&==&iss",
]


class _Server:
    """The one attribute of the listener's server that its handler reads."""

    def __init__(self, shared: _Shared) -> None:
        self.shared = shared


def _validator(params: dict[str, str]) -> str:
    return validate_callback(params, LOGIN)


def answer(data: bytes) -> tuple[bytes, CallbackOutcome | None, _Handler]:
    """What the listener writes back to ``data``, and how the login ends."""
    shared = _Shared(SPEC)
    shared.port = PORT
    shared.validator = _validator
    handler = _Handler.__new__(_Handler)
    handler.server = _Server(shared)  # type: ignore[assignment]
    handler.request = handler.connection = object()
    handler.client_address = ("127.0.0.1", 50000)
    handler.rfile = io.BytesIO(data)
    handler.wfile = io.BytesIO()
    # BaseHTTPRequestHandler.handle(), without the socket's deadline timer.
    handler.close_connection = True
    handler.handle_one_request()
    rounds = 1
    while not handler.close_connection:
        rounds += 1
        assert rounds <= 1000, "the handler never closes the connection"
        handler.handle_one_request()
    outcome = None if shared.outcomes.empty() else shared.outcomes.get_nowait()
    assert shared.outcomes.empty(), "one request ended the login twice"
    return handler.wfile.getvalue(), outcome, handler


def _split_response(raw: bytes, head_only: bool) -> tuple[int, bytes]:
    """Status and whatever follows the first response (must be nothing)."""
    head, separator, rest = raw.partition(b"\r\n\r\n")
    assert separator, f"no end of headers in {raw[:200]!r}"
    lines = head.split(b"\r\n")
    version, status, _ = (lines[0] + b"  ").split(b" ", 2)
    assert version in (b"HTTP/1.0", b"HTTP/1.1"), lines[0]
    length = 0
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        assert colon, f"a malformed header line {line!r}"
        if name.strip().lower() == b"content-length":
            length = int(value)
    return int(status), rest[0 if head_only else length :]


def _printable(raw: bytes) -> bool:
    text = raw.decode("utf-8")
    return all(ch in "\r\n\t" or unicodedata.category(ch)[0] != "C" for ch in text)


def _clean_head(data: bytes) -> bool:
    """Whether each line up to the blank one is visible ASCII (tabs allowed)."""
    for line in io.BytesIO(data):  # split at LF, as the handler reads lines
        text = line.removesuffix(b"\n").removesuffix(b"\r")
        if not text:
            return True
        if not all(0x20 <= byte < 0x7F or byte == 0x09 for byte in text):
            return False
    return True


def check_request(data: bytes) -> None:
    raw, outcome, handler = answer(data)
    if not raw:
        assert outcome is None
        return
    status, trailing = _split_response(raw, head_only=handler.command == "HEAD")
    assert trailing == b"", "more than one response on one connection"
    assert status in EXPECTED_STATUS, f"HTTP {status}"
    assert _printable(raw), "control characters in the answer"
    assert (status == 200) == (outcome is not None and outcome.code is not None)
    if outcome is not None:
        # Only a GET of the callback path with our Host and state ends a login.
        assert handler.command == "GET"
        assert _clean_head(data), "a callback with control bytes in its head"
        path, _, query = handler.path.partition("?")
        assert path == SPEC.path
        assert handler.headers.get("Host", "").strip().lower() == HOST
        params = parse_callback_query(query)
        assert params.get("state") == STATE
        if outcome.code is not None:
            assert params.get("code") == outcome.code
            assert params.get("iss") == ISSUER


def check_query(query: str) -> None:
    try:
        params = parse_callback_query(query)
    except OAuthCLIError:
        return
    assert all(value for value in params.values()), "an empty value survived"
    try:
        code = validate_callback(params, LOGIN)
    except OAuthCLIError:
        return
    assert params["state"] == STATE
    assert params["iss"] == ISSUER
    assert code == params["code"]


def TestOneInput(data: bytes) -> None:  # the name atheris calls
    if data.startswith(b"?"):
        check_query(data[1:].decode("latin-1"))
    else:
        check_request(data)


def main() -> None:
    fuzz(TestOneInput)


if __name__ == "__main__":
    main()
