"""A fork server for the crash tests (tests/test_store_crash.py).

    OAUTHCLI_HOME=DIR python crashworker.py

It imports oauthcli once and then, for each JSON line on stdin, forks a child
that does one thing while the parent kills it with SIGKILL after
``kill_after`` seconds (never, when null). A fork costs about 2 ms where a
new interpreter costs 100, so a thousand kills take seconds.

Requests, one per line::

    {"op": "write", "profile": P, "generation": N, "kill_after": S}
        store the token pair of generation N (``at-N``, ``rt-N``) with
        ``write_entry``, as a login does;
    {"op": "refresh", "profile": P, "kill_after": S}
        a real refresh through ``get_token_set``, the stored access token
        counting as refused by a resource server.

Each answer is one JSON line: ``killed`` (the child died of the SIGKILL),
``exit`` (its status otherwise: 0 done, 1 an oauthcli error, whose code is
in ``error``), ``trace`` and ``seconds`` (from the fork to the reaping).
``trace`` is how far the child got, one letter per step, kept in memory
shared with the parent so that it survives the kill: ``s`` started, ``h`` an
HTTP answer came in, ``w`` a store write began, ``W`` it ended (the file
replaced, the directory fsynced), ``d`` done.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import mmap
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

import oauthcli.transport
from oauthcli import store
from oauthcli.errors import OAuthCLIError
from oauthcli.refresh import get_token_set

# What a refresh imports on first use, loaded once here instead of in every
# child.
_WARM = ("tempfile", "filelock", "jwt", "jwt.algorithms", "certifi", "encodings.idna")
_OURS = ("idtoken", "oauth2", "keychain", "dpop", "client_credentials")
for _module in (*_WARM, *(f"oauthcli.{name}" for name in _OURS)):
    with contextlib.suppress(ImportError):
        importlib.import_module(_module)
httpx.Client(trust_env=False).close()  # loads httpcore and its backends

TRACE = mmap.mmap(-1, 256)  # MAP_SHARED | MAP_ANONYMOUS: the children write here
_steps = 0


def step(letter: str) -> None:
    """Note a step in the shared trace (in the child)."""
    global _steps
    if _steps < len(TRACE):
        TRACE[_steps] = ord(letter)
        _steps += 1


def trace() -> str:
    """The steps the last child noted (in the parent)."""
    return TRACE[:].split(b"\0", 1)[0].decode("ascii")


def traced(function: Callable[..., Any], before: str, after: str) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before:
            step(before)
        result = function(*args, **kwargs)
        if after:
            step(after)
        return result

    return wrapper


# Every store write goes through replace_private_file, and every HTTP
# exchange through HTTP.request.
store.replace_private_file = traced(store.replace_private_file, "w", "W")
oauthcli.transport.HTTP.request = traced(  # type: ignore[method-assign]
    oauthcli.transport.HTTP.request, "", "h"
)


def write(profile: str, generation: int) -> None:
    store.write_entry(
        profile,
        {
            "settings": {"issuer": "https://idp.test", "client_id": "cli"},
            "tokens": {
                "access_token": f"at-{generation}",
                "refresh_token": f"rt-{generation}",
                "generation": generation,
            },
        },
    )


def refresh(profile: str) -> None:
    entry = store.read_entry(profile)
    assert entry is not None
    get_token_set(profile, rejected=entry["tokens"]["access_token"])


def child(request: dict[str, Any]) -> int:
    step("s")
    try:
        if request["op"] == "write":
            write(request["profile"], request["generation"])
        else:
            refresh(request["profile"])
    except OAuthCLIError as exc:
        print(exc.code, file=sys.stderr)
        return 1
    step("d")
    return 0


def run(request: dict[str, Any]) -> dict[str, Any]:
    TRACE[:] = bytes(len(TRACE))
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 2  # anything but an oauthcli error is a bug of the test
        try:
            code = child(request)
        finally:
            os._exit(code)
    if request.get("kill_after") is not None:
        # Wait for the child's end or the moment of the kill, whichever is
        # first; a child that has already exited is a zombie, unharmed.
        pidfd = os.pidfd_open(pid)
        try:
            select.select([pidfd], [], [], request["kill_after"])
        finally:
            os.close(pidfd)
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return {
        "killed": killed,
        "exit": None if killed else os.waitstatus_to_exitcode(status),
        "trace": trace(),
        "seconds": time.monotonic() - started,
    }


def main() -> int:
    print("ready", flush=True)
    for line in sys.stdin:
        print(json.dumps(run(json.loads(line))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
