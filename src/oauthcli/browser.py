"""Opening the authorization URL in the user's browser, without blocking.

``webbrowser.open`` can block (a ``BROWSER`` command runs until it exits), so
it runs in a daemon thread while the loopback listener serves. It is only
tried where a browser can plausibly open: with ``BROWSER`` set, or on a
desktop session; on Linux without ``DISPLAY``/``WAYLAND_DISPLAY`` or over SSH
it is skipped, so that a text-mode browser never takes over the terminal.
The URL goes to the launcher as a single argument, never through a shell.

A ``BROWSER`` command that exits non-zero may still have shown the page (a
wrapper that reports its own trouble, a browser that was already running):
the failure says the command's status, not that no browser opened.
"""

from __future__ import annotations

import os
import subprocess
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

NOT_OPENED = "Could not open a browser; open the URL above yourself."


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


def _run_command(name: str, args: list[str], url: str) -> int | None:
    """Run one ``BROWSER`` command line as ``webbrowser`` would (``%s`` is the
    URL, no shell) and wait for it; its exit status, or None if it cannot run."""
    sys.audit("webbrowser.open", url)
    try:
        return subprocess.call([name, *(arg.replace("%s", url) for arg in args)])
    except OSError as exc:
        log.debug("the browser command could not run: %s", type(exc).__name__)
        return None


def _exit_failure(status: int) -> str:
    how = (
        f"was stopped by signal {-status}"
        if status < 0
        else f"exited with status {status}"
    )
    return (
        f"The browser command {how}; if no login page appeared, open the URL "
        "above yourself."
    )


def _default_launch(url: str) -> str | None:
    """Open ``url`` like ``webbrowser.open``; None, or what to tell the user.

    The ``BROWSER`` entries come first, and those that are command lines are
    run here rather than by ``webbrowser``, which keeps only "exited 0 or
    not". When one ran and failed, the platform's browsers are not tried
    after them: it may have shown the page already.
    """
    import webbrowser

    status = None
    for entry in os.environ.get("BROWSER", "").split(os.pathsep):
        if not entry:
            continue
        try:
            controller = webbrowser.get(entry)
        except webbrowser.Error:
            continue
        if type(controller) is webbrowser.GenericBrowser:
            ran = _run_command(controller.name, controller.args, url)
            if ran == 0:
                return None
            status = status if ran is None else ran
        elif controller.open(url, new=1, autoraise=True):
            return None
    if status is not None:
        return _exit_failure(status)
    return None if webbrowser.open(url, new=1, autoraise=True) else NOT_OPENED


def _launcher(opener: Opener) -> Callable[[str], str | None]:
    """A caller's opener, whose False says no more than "not opened"."""
    return lambda url: None if opener(url) else NOT_OPENED


class BrowserLaunch:
    """A browser being opened in the background.

    ``failure`` is None, or the line to tell the user when it failed: only
    what is known (a ``BROWSER`` command's exit status, say).
    """

    def __init__(
        self,
        url: str,
        launcher: Callable[[str], str | None],
        on_result: Callable[[bool], None] | None,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.result: bool | None = None
        self.failure: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(url, launcher, on_result, on_failure),
            name="oauthcli-browser",
            daemon=True,
        )
        self._thread.start()

    def _run(
        self,
        url: str,
        launcher: Callable[[str], str | None],
        on_result: Callable[[bool], None] | None,
        on_failure: Callable[[str], None] | None,
    ) -> None:
        try:
            failure = launcher(url)
        except Exception as exc:  # any launcher failure means "not opened"
            log.debug("opening the browser failed: %s", type(exc).__name__)
            failure = NOT_OPENED
        self.failure = failure
        self.result = failure is None
        self._done.set()
        if on_result is not None:
            on_result(self.result)
        if failure is not None and on_failure is not None:
            on_failure(failure)

    def wait(self, timeout: float | None = None) -> bool | None:
        """The launcher's answer, or None if it has not answered yet."""
        self._done.wait(timeout)
        return self.result


def open_browser(
    url: str,
    *,
    opener: Opener | None = None,
    on_result: Callable[[bool], None] | None = None,
    on_failure: Callable[[str], None] | None = None,
) -> BrowserLaunch:
    """Start opening ``url``; from the thread, ``on_result(opened)``, then
    ``on_failure(line)`` with what to tell the user when it failed."""
    launcher = _default_launch if opener is None else _launcher(opener)
    return BrowserLaunch(url, launcher, on_result, on_failure)
