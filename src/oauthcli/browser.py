"""Opening the authorization URL in the user's browser, without blocking.

``webbrowser.open`` can block (a ``BROWSER`` command runs until it exits), so
it runs in a daemon thread while the loopback listener serves. It is only
tried where a browser can plausibly open: with ``BROWSER`` set, or on a
desktop session; on Linux without ``DISPLAY``/``WAYLAND_DISPLAY`` or over SSH
it is skipped, so that a text-mode browser never takes over the terminal.
The URL goes to the launcher as a single argument, never through a shell.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping

from ._log import log

__all__ = [
    "BrowserLaunch",
    "browser_unavailable_reason",
    "in_container",
    "is_wsl",
    "open_browser",
]


Opener = Callable[[str], bool]


def is_wsl(env: Mapping[str, str] | None = None) -> bool:
    """Windows Subsystem for Linux: the browser runs on Windows, outside the VM."""
    env = os.environ if env is None else env
    if env.get("WSL_DISTRO_NAME") or env.get("WSL_INTEROP"):
        return True
    try:
        with open("/proc/sys/kernel/osrelease", encoding="ascii") as release:
            return "microsoft" in release.read().lower()
    except OSError:
        return False


def in_container() -> bool:
    return os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv")


def browser_unavailable_reason(env: Mapping[str, str] | None = None) -> str | None:
    """Why no browser should be opened here, or None if one can be."""
    env = os.environ if env is None else env
    if env.get("BROWSER"):
        return None
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return "this is an SSH session"
    if in_container() and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return "this runs in a container without a display"
    if sys.platform.startswith("linux") and not (
        env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")
    ):
        return "no graphical display (DISPLAY and WAYLAND_DISPLAY are unset)"
    return None


def _default_opener(url: str) -> bool:
    import webbrowser

    return webbrowser.open(url, new=1, autoraise=True)


class BrowserLaunch:
    """A browser being opened in the background."""

    def __init__(
        self, url: str, opener: Opener, on_result: Callable[[bool], None] | None
    ) -> None:
        self.result: bool | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(url, opener, on_result),
            name="oauthcli-browser",
            daemon=True,
        )
        self._thread.start()

    def _run(
        self, url: str, opener: Opener, on_result: Callable[[bool], None] | None
    ) -> None:
        try:
            ok = bool(opener(url))
        except Exception as exc:  # any launcher failure means "not opened"
            log.debug("opening the browser failed: %s", type(exc).__name__)
            ok = False
        self.result = ok
        self._done.set()
        if on_result is not None:
            on_result(ok)

    def wait(self, timeout: float | None = None) -> bool | None:
        """The launcher's answer, or None if it has not answered yet."""
        self._done.wait(timeout)
        return self.result


def open_browser(
    url: str,
    *,
    opener: Opener | None = None,
    on_result: Callable[[bool], None] | None = None,
) -> BrowserLaunch:
    """Start opening ``url``; ``on_result(opened)`` is called from the thread."""
    return BrowserLaunch(url, opener or _default_opener, on_result)
