"""Paste-back: finish a login by pasting the address the browser ended on.

When the browser runs on another machine (SSH, containers, WSL), its
redirect to ``http://127.0.0.1:PORT/callback`` cannot reach us, but the user
can copy the address the browser shows and paste it into the terminal.
While the loopback listener waits, a reader takes such lines from standard
input; whichever arrives first, the pasted address or the real redirect,
completes the login. A pasted address goes through exactly the checks of a
real callback (``iss``, ``state``, ``error``, ``code``).

When the wait ends the reader stops reading: the stream is usually the host
program's own standard input, and its next line is not ours. So a stream
with a file descriptor is read only once ``select`` says input is there,
never by a blocking ``readline`` that would outlive the login, and one byte
at a time, so that nothing past the line that ends the login is taken.
On Windows, where ``select`` takes sockets only, the stream's own
``readline`` is used: there the reader may take one more line after the
login, and a program that reads its standard input afterwards should not
pass it as ``paste_input``.
"""

from __future__ import annotations

import codecs
import os
import select
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Protocol, TextIO
from urllib.parse import urlsplit

from .loopback import MAX_REQUEST_LINE, LoopbackServer

__all__ = ["Lines", "can_read_pastes", "start_paste_reader"]

POLL_INTERVAL = 0.1  # how soon the reader notices that the wait ended
# Bounds on what a stream that is not a person pasting (`yes |`, a binary
# file) costs: so many bytes read in all, so many notices about lines that
# are not addresses.
INPUT_LIMIT = 1 << 16  # four addresses of the longest kind
NOTICE_LIMIT = 3


class Lines(Protocol):
    """Where pastes are read: a text stream, or the keyboard of a live status."""

    def readline(self) -> str: ...


def can_read_pastes(stream: TextIO | None) -> bool:
    """Whether reading ``stream`` is possible and will not stop the process.

    A background job that reads its terminal would be stopped (SIGTTIN), so
    a terminal is read only by the foreground process group.
    """
    if stream is None or stream.closed:
        return False
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return True  # an in-memory stream (tests, embedding programs)
    if not os.isatty(fd):
        # /dev/null (cron, CI, `ssh -n`): no character device but a terminal
        # can bring a paste.
        return not stat.S_ISCHR(os.fstat(fd).st_mode)
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False


def _query_of(text: str, redirect_uri: str) -> str | None:
    """The query of a pasted address that is ``redirect_uri``'s (or a bare
    ``?query``); None for anything else, such as another port's address."""
    if text.startswith("?"):
        return text[1:]
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    ours = urlsplit(redirect_uri)
    same = (parts.netloc.lower(), parts.path) == (ours.netloc.lower(), ours.path)
    if parts.scheme == "http" and same and parts.query:
        return parts.query
    return None


def _descriptor(stream: Lines) -> int | None:
    """The file descriptor ``select`` can wait on, if ``stream`` has one."""
    if sys.platform == "win32":  # select() takes sockets only there
        return None
    fileno = getattr(stream, "fileno", None)  # not on a live status's keyboard
    if fileno is None:
        return None
    try:
        return int(fileno())
    except (OSError, ValueError):  # an in-memory stream
        return None


def _lines_until(fd: int, encoding: str, stop: threading.Event) -> Iterator[str]:
    """The lines arriving on ``fd``, read only while ``stop`` is not set.

    Bytes are read one at a time: a pipe may already hold the host
    program's next lines behind the pasted one, and they must stay there.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    pending = ""
    while not stop.is_set():
        try:
            ready, _, _ = select.select([fd], [], [], POLL_INTERVAL)
            if stop.is_set():
                return
            data = os.read(fd, 1) if ready else None
        except OSError:
            return
        if data is None:
            continue
        if not data:  # end of input: its last line may lack a newline
            if pending:
                yield pending
            return
        pending += decoder.decode(data)
        if pending.endswith("\n") or len(pending) > MAX_REQUEST_LINE:
            line, pending = pending, ""  # an overlong line comes in pieces
            yield line


def start_paste_reader(
    server: LoopbackServer,
    stream: Lines,
    notify: Callable[[str], None],
    stop: threading.Event,
    on_end: Callable[[], None] | None = None,
) -> threading.Thread:
    """Read pasted addresses from ``stream`` until one ends the login.

    Set ``stop`` when the wait ends: from then on nothing more is read from
    a stream with a file descriptor. One without (a live status's keyboard,
    an in-memory stream) must end its input itself; its lines that come
    after ``stop`` are ignored. ``on_end`` is called when the stream ends
    (or is given up on) while the wait goes on.
    """
    redirect_uri = server.redirect_uri  # the listener is closed after the wait
    fd = _descriptor(stream)
    if fd is None:
        lines: Iterator[str] = iter(stream.readline, "")
    else:
        encoding = getattr(stream, "encoding", None) or "utf-8"
        lines = _lines_until(fd, encoding, stop)

    def read() -> None:
        taken = notices = 0
        for line in lines:
            if stop.is_set():
                return
            taken += len(line)
            if taken > INPUT_LIMIT:
                notify(
                    "That is more input than any address; paste-back is off. "
                    "Still waiting for the browser's redirect (Ctrl-C to stop)."
                )
                if on_end is not None:
                    on_end()
                return
            text = line.strip()
            if not text:
                continue
            query = (
                _query_of(text, redirect_uri) if len(text) <= MAX_REQUEST_LINE else None
            )
            if query is None:
                notices += 1
                if notices <= NOTICE_LIMIT:
                    more = (
                        " (other such lines are ignored quietly)"
                        if notices == NOTICE_LIMIT
                        else ""
                    )
                    notify(
                        "That is not the address the browser ended on: it starts "
                        f"with {redirect_uri} and contains ?code= or ?error=. "
                        f"Still waiting{more}."
                    )
                continue
            if server.submit(query):
                return
            notify(
                "That address does not belong to this login (its state does not "
                "match). Still waiting."
            )
        if not stop.is_set():
            notify(
                "Standard input has ended, so nothing more can be pasted; still "
                "waiting for the browser's redirect (Ctrl-C to stop)."
            )
            if on_end is not None:
                on_end()

    thread = threading.Thread(target=read, name="oauthcli-paste", daemon=True)
    thread.start()
    return thread
