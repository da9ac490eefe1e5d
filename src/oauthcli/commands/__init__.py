"""The ``oauthcli`` subcommands, one module each, on click.

Each command parses, calls the library, and prints: results on stdout,
everything else on stderr. ``cli.main`` sends ``oauthcli token`` here only
when its fast path cannot answer. ``run`` turns every error into one line on
stderr and a named exit code; tracebacks only under ``--debug``.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from ..errors import OAuthCLIError
from ._common import (
    EXIT_CANCELLED,
    EXIT_CODES_HELP,
    EXIT_ERROR,
    EXIT_LOGIN_REQUIRED,
    EXIT_USAGE,
    debugging,
    output_options,
)

__all__ = ["main_group", "run", "run_docker_credential"]


def _version() -> str:
    from .. import __version__

    return f"oauthcli {__version__}"


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_version())
        ctx.exit(0)


class _InOrder(click.Group):
    """Commands listed in the order they were added: login first."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(
    name="oauthcli",
    cls=_InOrder,
    epilog=EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 88},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@output_options
def main_group() -> None:
    """Log in with OAuth 2.0 / OpenID Connect; hand out access tokens."""


def _register() -> None:
    from . import (
        completion,
        config,
        credential_helpers,
        exchange,
        exec,
        login,
        logout,
        profiles,
        status,
        token,
    )

    for module in (
        login,
        token,
        exec,
        exchange,
        status,
        logout,
        profiles,
        config,
        credential_helpers,
        completion,
    ):
        for command in module.COMMANDS:
            main_group.add_command(command)


_register()


def _exit_code(exc: OAuthCLIError) -> int:
    from ..errors import Cancelled, LoginRequired
    from ..store import StoreDamaged

    if isinstance(exc, Cancelled):
        return EXIT_CANCELLED
    if isinstance(exc, LoginRequired | StoreDamaged):
        return EXIT_LOGIN_REQUIRED
    if exc.code in ("invalid_argument", "invalid_config"):
        return EXIT_USAGE
    return EXIT_ERROR


def _fail(message: str, code: int) -> int:
    click.echo(f"oauthcli: {message}", err=True)
    return code


def _command_path(arguments: Sequence[str]) -> str:
    """``oauthcli token`` for ``token --format``: the command whose help to see.

    click raises some parse errors (an option without its value) before the
    subcommand's context exists, so the path is read off the arguments.
    """
    command: click.Command = main_group
    path = ["oauthcli"]
    for argument in arguments:
        if argument == "--" or not isinstance(command, click.Group):
            break
        if argument.startswith("-"):
            continue  # the groups take only flags (-v, --debug)
        found = command.commands.get(argument)
        if found is None:
            break
        path.append(argument)
        command = found
    return " ".join(path)


def run_docker_credential(arguments: Sequence[str]) -> int:
    """``docker-credential-oauthcli ARGS``: its help and errors say that name."""
    from .credential_helpers import docker_credential

    return run(
        arguments, command=docker_credential, prog_name="docker-credential-oauthcli"
    )


def run(
    arguments: Sequence[str],
    *,
    command: click.Command = main_group,
    prog_name: str = "oauthcli",
) -> int:
    """Parse ``arguments`` and run the command; return the exit code."""
    from .._hints import OAUTHCLI_LOGIN, commands

    with commands(login=OAUTHCLI_LOGIN, device=f"{OAUTHCLI_LOGIN} --device"):
        return _run(arguments, command, prog_name)


def _run(arguments: Sequence[str], command: click.Command, prog_name: str) -> int:
    from ..errors import sanitize

    try:
        status = command.main(
            list(arguments), prog_name=prog_name, standalone_mode=False
        )
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
        return EXIT_USAGE
    except click.UsageError as exc:
        if exc.ctx:
            where = exc.ctx.command_path
        elif command is main_group:
            where = _command_path(arguments)
        else:
            where = prog_name
        message = " ".join(exc.format_message().split())
        return _fail(f"{message} (see `{where} --help`)", EXIT_USAGE)
    except click.ClickException as exc:
        return _fail(exc.format_message(), exc.exit_code)
    except click.Abort:
        return _fail("cancelled", EXIT_CANCELLED)
    except OAuthCLIError as exc:
        if debugging():
            import traceback

            traceback.print_exc()
        return _fail(sanitize(exc.message, 1000), _exit_code(exc))
    except KeyboardInterrupt:
        return _fail("cancelled", EXIT_CANCELLED)
    return status if isinstance(status, int) else 0
