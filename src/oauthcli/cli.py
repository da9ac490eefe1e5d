"""The ``oauthcli`` command: parse, call the library, print.

Results go to stdout (the token); messages, prompts and errors go to stderr.
Exit codes: 0 success, 1 failure, 2 usage error, 3 login required,
130 cancelled (Ctrl-C).

``oauthcli token`` is called by other programs again and again, so while the
stored token is fresh it runs on a fast path that imports only ``os``,
``json`` and the store; anything unusual (help, bad options, a refresh) goes
through ``argparse`` and the library as usual.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["EXIT_CANCELLED", "EXIT_ERROR", "EXIT_LOGIN_REQUIRED", "EXIT_OK", "main"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_LOGIN_REQUIRED = 3
EXIT_CANCELLED = 130


def _fresh_access_token(profile: str, min_ttl: float) -> str | None:
    """The stored access token if it has more than ``min_ttl`` s left."""
    from .store import fresh_access_token, read_entry

    return fresh_access_token(read_entry(profile), min_ttl)


def _token_fast_path(options: list[str]) -> int | None:
    """``oauthcli token [--profile P] [--min-ttl S] [--format raw]`` while fresh.

    Returns None whenever the full path must decide (any other option, a
    missing or stale token, a store problem to report).
    """
    values = {"--profile": "", "--min-ttl": "60", "--format": "raw"}
    rest = iter(options)
    for option in rest:
        name, equals, value = option.partition("=")
        if name not in values:
            return None
        if not equals:
            value = next(rest, "")
        if not value or value.startswith("-"):
            return None
        values[name] = value
    if values["--format"] != "raw":
        return None
    try:
        min_ttl = float(values["--min-ttl"])
        if not 0 <= min_ttl < float("inf"):  # NaN fails this too
            return None
        from .store import default_profile

        token = _fresh_access_token(values["--profile"] or default_profile(), min_ttl)
    except Exception:  # the full path reports it properly
        return None
    if token is None:
        return None
    sys.stdout.write(f"{token}\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """The ``oauthcli`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        if arguments[:1] == ["token"]:
            status = _token_fast_path(arguments[1:])
            if status is not None:
                sys.stdout.flush()
                return status
        from .commands import run

        status = run(arguments)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # The reader went away (`oauthcli token | head -c 10`): say nothing,
        # and keep Python from complaining again when it flushes at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
