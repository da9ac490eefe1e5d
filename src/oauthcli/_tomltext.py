"""Where things are in the text of a TOML document, for messages and edits.

``tomllib`` parses but forgets positions, and tomlkit keeps layout but not
line numbers. This scanner walks a document that ``tomllib`` has already
accepted and records, for every table header and every ``key = value``
statement, its full key path, its line and its span in the text. The config
module uses the lines in its messages and the spans for small edits that
leave every other byte of the file as the user wrote it.

It relies on the document being valid (TOML 1.0, as ``tomllib`` reads it):
on anything it does not expect it stops, and callers then have fewer lines,
never wrong ones.
"""

from __future__ import annotations

import bisect
import tomllib
from dataclasses import dataclass

__all__ = ["Header", "Layout", "Statement", "dotted", "remove_key", "scan", "set_key"]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_VALUE_END = frozenset(",]}#\r\n")


@dataclass(frozen=True)
class Header:
    """A ``[table]`` or ``[[array]]`` line; ``end`` is after its newline."""

    path: tuple[str, ...]
    line: int
    start: int
    end: int


@dataclass(frozen=True)
class Statement:
    """``key = value``: ``path`` includes the table it is in.

    ``start`` is the start of its first line, ``end`` after the newline that
    ends it (or the end of the text); ``value_start`` and ``value_end`` span
    the value alone. ``table`` is the header it sits under (``()`` for the
    top level).
    """

    path: tuple[str, ...]
    table: tuple[str, ...]
    line: int
    start: int
    end: int
    value_start: int
    value_end: int


@dataclass(frozen=True)
class Layout:
    source: str
    headers: tuple[Header, ...]
    statements: tuple[Statement, ...]
    lines: dict[tuple[str, ...], int]  # a key path, first seen on this line
    complete: bool  # False if the scan stopped early

    def line_of(self, path: tuple[str, ...]) -> int | None:
        return self.lines.get(path)


class _Stop(Exception):
    """The text is not what a valid document looks like here."""


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.newlines = [i for i, ch in enumerate(text) if ch == "\n"]
        self.lines: dict[tuple[str, ...], int] = {}

    def line(self, pos: int | None = None) -> int:
        return bisect.bisect_left(self.newlines, self.pos if pos is None else pos) + 1

    def char(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def startswith(self, prefix: str) -> bool:
        return self.text.startswith(prefix, self.pos)

    def spaces(self) -> None:
        while self.char() in (" ", "\t"):
            self.pos += 1

    def blank(self) -> None:
        """Spaces, newlines and comments."""
        while True:
            self.spaces()
            if self.char() == "#":
                self.to_line_end()
            elif self.char() in ("\r", "\n"):
                self.pos += 1
            else:
                return

    def to_line_end(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end

    def rest_of_line(self) -> None:
        """Spaces and a comment, then past the newline (or to the end)."""
        self.spaces()
        if self.char() == "#":
            self.to_line_end()
        if self.char() == "\r":
            self.pos += 1
        if self.char() == "\n":
            self.pos += 1
        elif self.char():
            raise _Stop

    def expect(self, token: str) -> None:
        if not self.startswith(token):
            raise _Stop
        self.pos += len(token)

    def simple_key(self) -> str:
        start = self.pos
        if self.char() in ('"', "'"):
            self.string()
            raw = self.text[start : self.pos]
            return str(tomllib.loads(f"k = {raw}")["k"])
        while self.char() in _BARE:
            self.pos += 1
        if self.pos == start:
            raise _Stop
        return self.text[start : self.pos]

    def key(self) -> tuple[str, ...]:
        parts = [self.simple_key()]
        while True:
            self.spaces()
            if self.char() != ".":
                return tuple(parts)
            self.pos += 1
            self.spaces()
            parts.append(self.simple_key())

    def string(self) -> None:
        quote = self.char()
        triple = quote * 3
        if self.startswith(triple):
            self.pos += 3
            while True:
                if self.char() == "":
                    raise _Stop
                if quote == '"' and self.char() == "\\":
                    self.pos += 2
                elif self.startswith(triple):
                    run = 0
                    while self.char(run) == quote and run < 5:
                        run += 1
                    self.pos += run
                    return
                else:
                    self.pos += 1
        self.pos += 1
        while True:
            ch = self.char()
            if ch in ("", "\n"):
                raise _Stop
            if quote == '"' and ch == "\\":
                self.pos += 2
                continue
            self.pos += 1
            if ch == quote:
                return

    def value(self, path: tuple[str, ...] | None, line: int) -> None:
        ch = self.char()
        if ch in ('"', "'"):
            self.string()
        elif ch == "[":
            self.pos += 1
            while True:
                self.blank()
                if self.char() == "]":
                    self.pos += 1
                    return
                self.value(None, line)
                self.blank()
                if self.char() == ",":
                    self.pos += 1
                elif self.char() != "]":
                    raise _Stop
        elif ch == "{":
            self.pos += 1
            self.spaces()
            if self.char() == "}":
                self.pos += 1
                return
            while True:
                self.spaces()
                key = self.key()
                self.spaces()
                self.expect("=")
                self.spaces()
                inner = None if path is None else path + key
                if inner is not None:
                    self.record(inner, line)
                self.value(inner, line)
                self.spaces()
                if self.char() == "}":
                    self.pos += 1
                    return
                self.expect(",")
        else:  # a number, a boolean or a date: letters, digits, +-.:_ and spaces
            start = self.pos
            if ch not in _BARE and ch != "+":
                raise _Stop
            while self.char() and self.char() not in _VALUE_END:
                self.pos += 1
            while self.pos > start and self.text[self.pos - 1] in " \t":
                self.pos -= 1
            if self.pos == start:
                raise _Stop

    def record(self, path: tuple[str, ...], line: int) -> None:
        """``path`` is on ``line``; so are its parents not seen before."""
        for size in range(1, len(path) + 1):
            self.lines.setdefault(path[:size], line)


def scan(text: str) -> Layout:
    """The headers and statements of ``text``, a document tomllib accepts."""
    scanner = _Scanner(text)
    headers: list[Header] = []
    statements: list[Statement] = []
    table: tuple[str, ...] = ()
    complete = True
    try:
        while True:
            scanner.blank()
            if not scanner.char():
                break
            start = scanner.text.rfind("\n", 0, scanner.pos) + 1
            line = scanner.line()
            if scanner.char() == "[":
                array = scanner.startswith("[[")
                scanner.pos += 2 if array else 1
                scanner.spaces()
                table = scanner.key()
                scanner.spaces()
                scanner.expect("]]" if array else "]")
                scanner.rest_of_line()
                scanner.record(table, line)
                headers.append(Header(table, line, start, scanner.pos))
                continue
            key = scanner.key()
            scanner.spaces()
            scanner.expect("=")
            scanner.spaces()
            path = table + key
            scanner.record(path, line)
            value_start = scanner.pos
            scanner.value(path, line)
            value_end = scanner.pos
            scanner.rest_of_line()
            statements.append(
                Statement(path, table, line, start, scanner.pos, value_start, value_end)
            )
    except (_Stop, tomllib.TOMLDecodeError, IndexError):
        complete = False
    return Layout(text, tuple(headers), tuple(statements), scanner.lines, complete)


def _key_text(part: str) -> str:
    if part and all(ch in _BARE for ch in part):
        return part
    return '"' + "".join(_key_char(ch) for ch in part) + '"'


def _key_char(ch: str) -> str:
    """``ch`` inside a basic string; controls, bidi overrides and unassigned
    code points escaped, so that a key in a message cannot act on a terminal."""
    import unicodedata

    if ch in '"\\':
        return "\\" + ch
    if unicodedata.category(ch)[0] == "C":
        return f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}"
    return ch


def dotted(path: tuple[str, ...]) -> str:
    """``path`` as it would be written in TOML: ``profiles."my.home".scope``."""
    return ".".join(_key_text(part) for part in path)


def _section_end(layout: Layout, header: Header) -> int:
    """Where the last statement under ``header`` ends (its own line if none)."""
    following = [other.start for other in layout.headers if other.start > header.start]
    limit = min(following, default=len(layout.source))
    ends = [
        statement.end
        for statement in layout.statements
        if header.end <= statement.start < limit
    ]
    return max(ends, default=header.end)


def _comment_block_start(text: str, start: int) -> int:
    """The start of the comment lines right above ``start`` (no blank between)."""
    while start > 0:
        previous = text.rfind("\n", 0, start - 1) + 1
        if not text[previous:start].lstrip().startswith("#"):
            break
        start = previous
    return start


def set_key(text: str, path: tuple[str, ...], rendered: str) -> str | None:
    """``text`` with ``path = rendered``, or None if this layout is not handled.

    An existing value is replaced in place. A new key goes after the last
    statement of the deepest table header above it; a new table is appended
    at the end. Keys inside inline tables and arrays are left to the caller.
    """
    layout = scan(text)
    if not layout.complete:
        return None
    newline = "\r\n" if "\r\n" in text else "\n"
    for statement in layout.statements:
        if statement.path == path:
            return (
                text[: statement.value_start] + rendered + text[statement.value_end :]
            )
        if path[: len(statement.path)] == statement.path:
            return None

    parents = [h for h in layout.headers if path[: len(h.path)] == h.path != path]
    if parents:
        header = max(parents, key=lambda h: (len(h.path), -h.start))
        at = _section_end(layout, header)
        line = f"{dotted(path[len(header.path) :])} = {rendered}{newline}"
        if at and text[at - 1] != "\n":
            line = newline + line
        return text[:at] + line + text[at:]

    if len(path) > 1:
        table = f"[{dotted(path[:-1])}]{newline}{dotted(path[-1:])} = {rendered}"
        body = text.rstrip("\r\n \t")
        separator = newline * 2 if body else ""
        return f"{body}{separator}{table}{newline}"

    line = f"{dotted(path)} = {rendered}{newline}"
    top = [s.end for s in layout.statements if not s.table]
    if top:
        at = max(top)
        return text[:at] + line + text[at:]
    if layout.headers:
        at = _comment_block_start(text, layout.headers[0].start)
        return text[:at] + line + newline + text[at:]
    body = text.rstrip("\r\n \t")
    return f"{body}{newline * 2 if body else ''}{line}"


def remove_key(text: str, path: tuple[str, ...]) -> str | None:
    """``text`` without ``path`` (a key or a whole table), or None if not handled.

    Statements and table sections under ``path`` are cut out; comments after
    a removed section's last statement stay (they are usually about what
    follows). Returns ``text`` itself when ``path`` is not there.
    """
    layout = scan(text)
    if not layout.complete:
        return None
    spans: list[tuple[int, int]] = []
    for statement in layout.statements:
        if statement.path[: len(path)] == path:
            spans.append((statement.start, statement.end))
        elif path[: len(statement.path)] == statement.path:
            return None
    for header in layout.headers:
        if header.path[: len(path)] != path:
            continue
        start, end = header.start, _section_end(layout, header)
        while start > 0:
            previous = text.rfind("\n", 0, start - 1) + 1
            if text[previous:start].strip():
                break
            start = previous
        spans.append((start, end))

    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        if start == 0:  # no blank lines left at the top of the file
            while end < len(text) and text[end] in "\r\n":
                end += 1
        text = text[:start] + text[end:]
    return text
