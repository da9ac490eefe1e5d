"""What the terminal shows while a login waits for the browser or an approval.

``waiting()`` wraps the wait. When its stream (stderr) is a terminal whose
``TERM`` is not ``dumb``, it keeps a live status below the output so far: a
spinner, the message, the elapsed time (m:ss) and the ways out (Ctrl-C,
paste-back, ``--device``), redrawn by ``rich`` four times a second and erased
when the wait ends. Anywhere else, and whenever the caller brings its own
``notify``, it prints one plain line and nothing more. ``rich`` is imported
only for the live status, so ``oauthcli token`` never loads it; its console
honours ``NO_COLOR`` (any non-empty value: no colours; bold and dim stay).

Lines the flow emits during the wait go through ``Waiting.notify``, which
prints them above the live status instead of through it.

Paste-back reads the same terminal while the status is redrawn. In the
terminal's usual (canonical) mode the kernel echoes typed characters at the
cursor, which sits in the status, so each redraw would erase the user's text
and a long paste would wrap and throw the redraw off by a line. Instead,
while the status is live, the keyboard is read here key by key with echo
off (``ICANON`` and ``ECHO`` cleared, ``ISIG`` kept so Ctrl-C still
interrupts), and the text typed so far is drawn by the status itself on its
own last line. Every byte on the screen then comes from one writer, and
what the user types is part of every redraw rather than erased by it.
Enter hands the line to the paste reader (``Waiting.lines``). The terminal
mode is restored when the wait ends, by Ctrl-C too. Where the keyboard
cannot be read that way (Windows) and pastes are expected, the wait falls
back to the plain line.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.live import Live

    from .paste import Lines

__all__ = ["Waiting", "clock", "is_live_terminal", "waiting"]

REFRESH_PER_SECOND = 4
MAX_TYPED = 64 * 1024  # a pasted address is far shorter; the rest is dropped
_DOTS = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_LINE = "-\\|/"


def clock(seconds: float) -> str:
    """Elapsed time as m:ss (minutes keep counting past 59)."""
    minutes, rest = divmod(int(max(seconds, 0)), 60)
    return f"{minutes}:{rest:02d}"


def is_live_terminal(stream: TextIO) -> bool:
    """Whether a live status can be drawn on ``stream``."""
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False


def _keyboard_fd(keyboard: TextIO | None) -> int | None:
    """The file descriptor of ``keyboard`` when it is a terminal."""
    if keyboard is None:
        return None
    try:
        fd = keyboard.fileno()
    except (OSError, ValueError):
        return None
    return fd if os.isatty(fd) else None


class Waiting:
    """One wait as the flow sees it: where its lines go, where pastes come from."""

    def __init__(
        self,
        notify: Callable[[str], None],
        lines: Lines | None,
        *,
        live: bool,
        status: _LiveStatus | None = None,
    ) -> None:
        self._notify = notify
        self.lines = lines
        self.live = live
        self._status = status

    def notify(self, message: str) -> None:
        """Show ``message`` to the user (above the live status, if there is one)."""
        self._notify(message)

    def input_ended(self) -> None:
        """Nothing more can be pasted: the live status stops offering it."""
        if self._status is not None:
            self._status.drop_ways("paste")


@contextlib.contextmanager
def waiting(
    message: str,
    ways_out: Sequence[str],
    *,
    plain: str | None = None,
    stream: TextIO | None = None,
    notify: Callable[[str], None] | None = None,
    keyboard: TextIO | None = None,
) -> Iterator[Waiting]:
    """Show that a login waits, for as long as the ``with`` block runs.

    ``stream`` defaults to ``sys.stderr``. ``plain`` is the line printed
    instead of the live status (default: the message and the ways out);
    with ``notify`` it goes there, and there is never a live status.
    ``keyboard`` is where the user may paste (e.g. ``sys.stdin``); read
    pastes from the yielded ``Waiting.lines``, not from it.
    """
    stream = sys.stderr if stream is None else stream
    fd = _keyboard_fd(keyboard)
    status = None
    if notify is None and is_live_terminal(stream) and _can_read_keys(fd):
        status = _LiveStatus(message, ways_out, stream)
        if not status.console.is_interactive:  # e.g. TTY_INTERACTIVE=0
            status = None
    if status is None:
        say = notify or (lambda line: print(line, file=stream, flush=True))
        say(plain or f"{message} ({', '.join(ways_out)})...")
        yield Waiting(say, keyboard, live=False)
        return

    if fd is None:
        with status:
            yield Waiting(status.print, keyboard, live=True, status=status)
        return
    typed = _Keyboard(fd, status.refresh)
    status.keyboard = typed
    # Keys are read one by one before the status is drawn: a key typed as
    # soon as it shows (Ctrl-D) must not go to the kernel's line editing.
    with typed, status:
        yield Waiting(status.print, typed, live=True, status=status)


def _can_read_keys(fd: int | None) -> bool:
    """Whether the keyboard, if it is a terminal, can be read key by key."""
    if fd is None:
        return True
    try:
        import termios  # not on Windows
    except ImportError:
        return False
    try:
        termios.tcgetattr(fd)
    except termios.error:
        return False
    return True


class _LiveStatus:
    """The rich ``Live`` display of one wait (see the module docstring)."""

    def __init__(self, message: str, ways_out: Sequence[str], stream: TextIO) -> None:
        from rich.console import Console

        self.message = message
        self.ways_out = list(ways_out)
        self.keyboard: _Keyboard | None = None
        self.console: Console = Console(file=stream, highlight=False, emoji=False)
        unicode = self.console.encoding.lower().startswith("utf")
        self._frames = _DOTS if unicode else _LINE
        self._dot = " · " if unicode else " - "
        self._more = "…" if unicode else "..."
        self._started = time.monotonic()
        self._live: Live | None = None

    def __enter__(self) -> _LiveStatus:
        from rich.live import Live

        self._live = Live(
            self,
            console=self.console,
            refresh_per_second=REFRESH_PER_SECOND,
            transient=True,
            redirect_stdout=False,
            # Stray writes to sys.stderr (warnings) print above the status.
            redirect_stderr=self.console.file is sys.stderr,
        )
        try:
            self._live.start(refresh=True)
        except BaseException:  # Ctrl-C as it starts: no __exit__ follows
            self._live.stop()
            self._live = None
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()  # erases the status and shows the cursor again

    def refresh(self) -> None:
        live = self._live
        if live is not None:
            live.refresh()

    def print(self, message: str) -> None:
        self.console.print(message, markup=False, soft_wrap=True)

    def drop_ways(self, word: str) -> None:
        """Stop showing the ways out that mention ``word``."""
        self.ways_out = [way for way in self.ways_out if word not in way]
        self.refresh()

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> RenderResult:
        from rich.text import Text

        width = options.max_width
        elapsed = time.monotonic() - self._started
        frame = self._frames[int(elapsed * REFRESH_PER_SECOND) % len(self._frames)]
        spent = clock(elapsed)

        head = Text(self.message, no_wrap=True, overflow="ellipsis")
        head.truncate(max(width - len(spent) - 4, 1), overflow="ellipsis")
        yield Text.assemble((frame, "cyan"), " ", head, "  ", (spent, "bold"))

        yield Text("  " + self._dot.join(self.ways_out), style="dim")

        if self.keyboard is not None and self.keyboard.open:
            prompt = "  > "
            room = max(width - len(prompt) - 2, 1)
            text = self.keyboard.text
            if len(text) > room:  # the end of a long paste, where typing goes on
                text = self._more + text[-max(room - len(self._more), 1) :]
            yield Text.assemble((prompt, "bold"), text, (" ", "reverse"))


class _Keyboard:
    """The terminal read key by key while the status is live; Enter ends a line."""

    def __init__(self, fd: int, on_change: Callable[[], None]) -> None:
        import queue

        self.text = ""
        self.open = True  # until the terminal hangs up or the user types Ctrl-D
        self._fd = fd
        self._on_change = on_change
        self._lines: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._saved: list[Any] | None = None
        self._escape = ""  # an escape sequence (arrow key, paste bracket) in progress
        self._thread = threading.Thread(
            target=self._run, name="oauthcli-keyboard", daemon=True
        )

    def __enter__(self) -> _Keyboard:
        import termios

        self._saved = termios.tcgetattr(self._fd)
        cc = self._saved[6]
        self._erase = _control(cc[termios.VERASE], "\x7f")
        self._kill = _control(cc[termios.VKILL], "\x15")
        self._word_erase = _control(cc[termios.VWERASE], "\x17")
        self._eof = _control(cc[termios.VEOF], "\x04")
        try:
            self._key_by_key()
            self._thread.start()
        except BaseException:  # Ctrl-C as it starts: no __exit__ follows
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        import termios

        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=1.0)
        if self._saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self._fd, termios.TCSANOW, self._saved)
        self._lines.put("")  # the paste reader sees the end of its input

    def _key_by_key(self) -> None:
        """Turn off the kernel's line editing and echo; keep Ctrl-C."""
        import termios

        mode = termios.tcgetattr(self._fd)
        if mode[3] & (termios.ICANON | termios.ECHO):
            mode[3] &= ~(termios.ICANON | termios.ECHO)
            mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
            termios.tcsetattr(self._fd, termios.TCSANOW, mode)

    def readline(self) -> str:
        """The next line typed (with its newline), or "" once the wait is over."""
        return self._lines.get()

    def _run(self) -> None:
        import codecs
        import select
        import termios

        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._fd], [], [], 0.1)
                data = os.read(self._fd, 4096) if ready else None
            except OSError:
                data = b""
            if data is None:
                # A shell may have reset the mode after Ctrl-Z and fg.
                with contextlib.suppress(OSError, termios.error):
                    if os.tcgetpgrp(self._fd) == os.getpgrp():
                        self._key_by_key()
                continue
            if not data or not all(map(self._key, decoder.decode(data))):
                self._close()  # the terminal hung up, or Ctrl-D on an empty line
                return
            self._on_change()

    def _close(self) -> None:
        self.open = False
        self.text = ""
        self._lines.put("")
        self._on_change()

    def _key(self, char: str) -> bool:
        """Apply one key to the line being typed; False at end of input."""
        if self._escape:
            self._escape += char
            if _escape_ended(self._escape):
                self._escape = ""
        elif char == "\x1b":
            self._escape = char
        elif char in "\r\n":
            line, self.text = self.text, ""
            self._lines.put(line + "\n")
        elif char in (self._erase, "\x7f", "\b"):
            self.text = self.text[:-1]
        elif char == self._kill:
            self.text = ""
        elif char == self._word_erase:
            self.text = self.text.rstrip()
            self.text = self.text[: self.text.rfind(" ") + 1]
        elif char == self._eof:
            if not self.text:
                return False
            line, self.text = self.text, ""
            self._lines.put(line + "\n")
        elif char.isprintable() and len(self.text) < MAX_TYPED:
            self.text += char
        return True


def _escape_ended(sequence: str) -> bool:
    """Whether an escape sequence (ESC x, ESC O x, or CSI ... final) is complete."""
    if len(sequence) == 2:
        return sequence[1] not in "[O"
    if sequence[1] == "O":
        return True
    return "@" <= sequence[-1] <= "~"


def _control(value: object, default: str) -> str:
    """A terminal's special character from termios, as text."""
    if isinstance(value, bytes) and value not in (b"", b"\x00"):
        return value.decode("latin-1")
    return default
