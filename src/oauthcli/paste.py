"""Paste-back: finish a login by pasting the address the browser ended on.

When the browser runs on another machine (SSH, containers, WSL), its
redirect to ``http://127.0.0.1:PORT/callback`` cannot reach us, but the user
can copy the address the browser shows and paste it into the terminal.
While the loopback listener waits, a reader takes such lines from standard
input; whichever arrives first, the pasted address or the real redirect,
completes the login. A pasted address goes through exactly the checks of a
real callback (``iss``, ``state``, ``error``, ``code``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Protocol, TextIO
from urllib.parse import urlsplit

from .loopback import MAX_REQUEST_LINE, LoopbackServer

__all__ = ["Lines", "can_read_pastes", "start_paste_reader"]


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
        return True
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False


def _query_of(text: str) -> str | None:
    if text.startswith("?"):
        return text[1:]
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.query:
        return parts.query
    return None


def start_paste_reader(
    server: LoopbackServer, stream: Lines, notify: Callable[[str], None]
) -> threading.Thread:
    """Read pasted addresses from ``stream`` until one ends the login."""

    def read() -> None:
        for line in iter(stream.readline, ""):
            text = line.strip()
            if not text:
                continue
            query = _query_of(text) if len(text) <= MAX_REQUEST_LINE else None
            if query is None:
                notify(
                    "That is not the address the browser ended on: it starts with "
                    f"{server.redirect_uri} and contains ?code= or ?error=. "
                    "Still waiting."
                )
                continue
            if server.submit(query):
                return
            notify(
                "That address does not belong to this login (its state does not "
                "match). Still waiting."
            )

    thread = threading.Thread(target=read, name="oauthcli-paste", daemon=True)
    thread.start()
    return thread
