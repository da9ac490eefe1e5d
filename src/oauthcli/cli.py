"""The ``oauthcli`` command: parse, call the library, print.

Results go to stdout (the token); messages, prompts and errors go to stderr.
Exit codes: 0 success, 1 failure, 2 usage error, 3 login required,
130 cancelled (Ctrl-C).

``oauthcli token`` is called by other programs again and again, so while the
stored token is fresh it runs on a fast path that imports only ``os``,
``json`` and the store; anything unusual (help, bad options, a refresh) goes
through click and the library as usual.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_ERROR",
    "EXIT_LOGIN_REQUIRED",
    "EXIT_OK",
    "EXIT_USAGE",
    "docker_credential_main",
    "main",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_LOGIN_REQUIRED = 3
EXIT_CANCELLED = 130


def _fresh_access_token(
    profile: str, min_ttl: float, expected: dict[str, Any]
) -> str | None:
    """The stored access token if it has more than ``min_ttl`` s left and
    its login is for the issuer and client_id ``expected`` names (if any)."""
    from .store import fresh_access_token, read_entry

    entry = read_entry(profile)
    if entry is None:
        return None
    stored = entry.get("settings") or {}
    for key, value in expected.items():
        login = stored.get(key)
        if value is None or login is None:
            continue
        if key == "issuer":
            value, login = str(value).rstrip("/"), str(login).rstrip("/")
        if value != login:
            return None  # the full path says what changed
    return fresh_access_token(entry, min_ttl)


# The variables the fast path reads; any other OAUTHCLI_* one sends `token`
# through the full path, which checks every value as login would.
_FAST_PATH_VARIABLES = frozenset(
    ("OAUTHCLI_HOME", "OAUTHCLI_PROFILE", "OAUTHCLI_ISSUER", "OAUTHCLI_CLIENT_ID")
)


def _config_summary() -> dict[str, Any] | None:
    """config.toml as the full path last read it: its ``default_profile`` and
    the profiles' ``min_ttl``, ``issuer`` and ``client_id`` ({} when there is
    no file); None when the full path must decide.

    That is, whenever the file is not exactly the one the full path checked
    and recorded (an edit since, say, or a file it would refuse): only the
    full path parses TOML, so the two can never read the file differently.
    """
    from .store import config_checked, config_file

    try:
        fd = os.open(config_file(), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return {}
    except OSError:
        return None
    try:
        import stat

        info = os.fstat(fd)
    finally:
        os.close(fd)
    if (
        not stat.S_ISREG(info.st_mode)
        or info.st_mode & 0o022  # the full path refuses such a file
        or (hasattr(os, "getuid") and info.st_uid not in (os.getuid(), 0))
    ):
        return None
    return config_checked(info)


def _token_fast_path(options: list[str]) -> int | None:
    """``oauthcli token [--profile P] [--min-ttl S] [--format raw]`` while fresh.

    Returns None whenever the full path must decide (any other option, a
    missing or stale token, a store problem to report, a config.toml the
    full path has not checked as it is now, an ``OAUTHCLI_*`` variable it
    does not read, a login for another issuer or client than configured).
    """
    values = {"--profile": "", "--min-ttl": "", "--format": "raw"}
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
    environ = os.environ
    if any(
        value and name.startswith("OAUTHCLI_") and name not in _FAST_PATH_VARIABLES
        for name, value in environ.items()
    ):
        return None
    try:
        config = _config_summary()
        if config is None:
            return None
        profile = (
            values["--profile"]
            or environ.get("OAUTHCLI_PROFILE")
            or config.get("default_profile")
            or "default"
        )
        configured = config.get("profiles", {}).get(profile, {})
        if configured.get("unusable"):
            return None
        min_ttl = float(values["--min-ttl"] or configured.get("min_ttl", 60))
        if not 0 <= min_ttl < float("inf"):  # NaN fails this too
            return None
        expected = {
            "issuer": environ.get("OAUTHCLI_ISSUER") or configured.get("issuer"),
            "client_id": environ.get("OAUTHCLI_CLIENT_ID")
            or configured.get("client_id"),
        }
        token = _fresh_access_token(profile, min_ttl, expected)
    except Exception:  # the full path reports it properly
        return None
    if token is None:
        return None
    sys.stdout.write(f"{token}\n")
    return EXIT_OK


def _defer_httpx_command_line() -> None:
    """Keep ``import httpx`` from loading httpx's own command-line client.

    httpx imports ``httpx._main`` (click, rich, pygments: ~60 ms) whenever
    those are installed, and oauthcli installs click and rich. In the
    ``oauthcli`` process nothing calls ``httpx.main``, so a stand-in that
    loads the real one on first use takes its place. The library never does
    this: an embedding program's httpx stays as it is.
    """
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    import types

    def main(*args: object, **kwargs: object) -> object:
        del sys.modules["httpx._main"]
        from httpx._main import main as real_main

        return real_main(*args, **kwargs)

    stand_in = types.ModuleType("httpx._main", "stand-in; see oauthcli.cli")
    stand_in.main = main  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = stand_in


def _leave_objects_to_the_os_at_exit() -> None:
    """Skip the collection of every object when the process exits.

    After a login the interpreter's teardown would walk and free everything
    httpx, cryptography and click loaded: some 50 ms of pure CPU once the
    work is done. Frozen objects are simply left to the operating system.
    Files, sockets and locks are closed by then, atexit handlers still run
    and the streams are still flushed. Registered in the ``oauthcli``
    process only (a program that imports the library keeps its teardown),
    and it takes effect only at exit.
    """
    import atexit
    import gc

    atexit.unregister(gc.freeze)  # once, however often main() runs
    atexit.register(gc.freeze)


def docker_credential_main() -> int:
    """The ``docker-credential-oauthcli`` console script."""
    return main(sys.argv[1:], docker_credential=True)


def main(argv: Sequence[str] | None = None, *, docker_credential: bool = False) -> int:
    """The ``oauthcli`` console script; ``docker_credential``: the
    ``docker-credential-oauthcli`` one, ``argv`` its arguments."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        if arguments[:1] == ["token"] and not docker_credential:
            status = _token_fast_path(arguments[1:])
            if status is not None:
                sys.stdout.flush()
                return status
        _defer_httpx_command_line()
        _leave_objects_to_the_os_at_exit()
        from .commands import run, run_docker_credential

        if docker_credential:
            status = run_docker_credential(arguments)
        else:
            status = run(arguments)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # The reader went away (`oauthcli token | head -c 10`): say nothing,
        # and keep Python from complaining again when it flushes at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
