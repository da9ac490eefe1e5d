"""What every subcommand shares: exit codes, options, the profile, output."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..cli import (
    EXIT_CANCELLED,
    EXIT_ERROR,
    EXIT_LOGIN_REQUIRED,
    EXIT_OK,
    EXIT_USAGE,
)
from ..errors import LocalError

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_CODES_HELP",
    "EXIT_ERROR",
    "EXIT_LOGIN_REQUIRED",
    "EXIT_OK",
    "EXIT_USAGE",
    "bearer_only",
    "complete_command",
    "complete_presets",
    "complete_profiles",
    "debugging",
    "effective_min_ttl",
    "output_options",
    "profile_name",
    "profile_option",
    "profile_settings",
    "rfc3339",
    "say",
]

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES_HELP = (
    "Exit codes: 0 success, 1 failure, 2 usage error, 3 login required, "
    "130 cancelled. OAUTHCLI_HOME moves all files; OAUTHCLI_PROFILE picks the "
    "default profile."
)

_output = {"level": 0}


def bearer_only(token_type: str, profile: str, consumer: str) -> None:
    """Refuse to hand a DPoP-bound token to a program that sends ``Bearer``.

    A resource server refuses such a token without its proof (RFC 9449
    section 7.2), so it would only fail later and less clearly.
    """
    if token_type == "DPoP":
        raise LocalError(
            f"profile {profile!r} holds a DPoP-bound token, which {consumer} "
            "cannot use: it sends tokens as Bearer, without a DPoP proof. Use "
            "`oauthcli token --format header --url URL`, or a profile without dpop",
            code="dpop_bound",
        )


def debugging() -> bool:
    return _output["level"] >= 2


def _set_output(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value:
        return
    level = 2 if param.name == "debug" else 1
    if level <= _output["level"]:
        return
    _output["level"] = level
    import logging

    logger = logging.getLogger("oauthcli")
    if not any(h.get_name() == "oauthcli-cli" for h in logger.handlers):
        handler = logging.StreamHandler(_StderrLike())
        handler.set_name("oauthcli-cli")
        handler.setFormatter(logging.Formatter("oauthcli: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if level == 2 else logging.INFO)


class _StderrLike:
    """Whatever ``sys.stderr`` is when a line is logged: a live status line
    (``progress``) swaps it for a writer that prints above the status."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def output_options(function: F) -> F:
    """-v and --debug, accepted before or after the command name."""
    function = click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=_set_output,
        help="Show HTTP exchanges (secrets redacted) and tracebacks.",
    )(function)
    function = click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=_set_output,
        help="Show the steps.",
    )(function)
    return function


def complete_profiles(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[str]:
    """The stored and configured profile names that start with ``incomplete``."""
    from ..store import list_profiles

    names = set(list_profiles())
    try:
        from ..config import load_config

        names.update(load_config().profiles)
    except Exception:  # noqa: S110 - completion must never fail loudly
        pass
    return sorted(name for name in names if name.startswith(incomplete))


def complete_presets(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[str]:
    """The provider preset names that start with ``incomplete``."""
    from ..presets import PRESETS

    return sorted(name for name in PRESETS if name.startswith(incomplete))


def complete_command(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    """A program on PATH for the first word, then the shell's file names."""
    import os

    from click.shell_completion import CompletionItem

    if ctx.params.get(param.name or "") or os.sep in incomplete:
        return [CompletionItem(incomplete, type="file")]
    names: set[str] = set()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        try:
            entries = os.scandir(directory or ".")
        except OSError:
            continue
        with entries:
            for entry in entries:
                if entry.name.startswith(incomplete) and os.access(entry.path, os.X_OK):
                    names.add(entry.name)
    return [CompletionItem(name) for name in sorted(names)]


def profile_option(function: F) -> F:
    return click.option(
        "--profile",
        default=None,
        metavar="NAME",
        shell_complete=complete_profiles,
        help="The profile (default: OAUTHCLI_PROFILE, the config's "
        "default_profile, else 'default').",
    )(function)


def profile_name(explicit: str | None) -> str:
    """--profile, else OAUTHCLI_PROFILE, else the config's, else 'default'."""
    if explicit == "":
        raise LocalError("--profile must not be empty", code="invalid_argument")
    from ..config import resolve_profile_name

    return resolve_profile_name(explicit)


def say(message: str) -> None:
    """A line for the user, on stderr."""
    click.echo(message, err=True)


def rfc3339(timestamp: float | None) -> str | None:
    """``2026-12-03T19:35:15Z``; None for None or a time no calendar holds."""
    if timestamp is None:
        return None
    from datetime import UTC, datetime

    try:
        moment = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return moment.isoformat().replace("+00:00", "Z")


def profile_settings(name: str) -> dict[str, Any]:
    """The profile's output options (min_ttl, env_var, hosts, username), for
    a command about to hand out its stored tokens.

    Raises LoginRequired when the options now name another issuer or client
    than the stored login (an edited config.toml, an ``OAUTHCLI_CLIENT_ID``
    set for another client): its tokens are not the ones asked for.
    """
    from ..config import login_conflicts, login_hint, output_settings
    from ..errors import LoginRequired
    from ..store import StoreDamaged, read_entry

    settings = output_settings(name)
    try:
        entry = read_entry(name)
    except StoreDamaged:
        return settings  # reading the tokens reports it
    if entry is not None:
        conflicts = login_conflicts(name, entry.get("settings") or {})
        if conflicts:
            raise LoginRequired(
                f"{'; '.join(conflicts)}; log in again: {login_hint(name)}"
            )
    return settings


def effective_min_ttl(explicit: float | None, settings: dict[str, Any]) -> float:
    """--min-ttl, else the profile's min_ttl, else 60 seconds."""
    if explicit is not None:
        return explicit
    value = settings.get("min_ttl")
    return float(value) if isinstance(value, int | float) else 60.0
