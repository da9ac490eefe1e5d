"""``oauthcli exec -- CMD ARGS``: run a command with a valid token in its env."""

from __future__ import annotations

import os
import re
import sys

import click

from ..errors import LocalError
from ._common import (
    complete_command,
    effective_min_ttl,
    output_options,
    profile_name,
    profile_option,
)
from .token import DEFAULT_ENV_VAR, min_ttl_option

__all__ = ["COMMANDS"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_EXAMPLES = """\b
Examples:
  oauthcli exec -- sh -c 'curl -H "Authorization: Bearer $OAUTHCLI_ACCESS_TOKEN" URL'
  oauthcli exec --profile work --env-var GITHUB_TOKEN -- gh api user
"""


@click.command(
    "exec",
    epilog=_EXAMPLES,
    short_help="Run a command with a valid access token in its environment.",
    context_settings={"allow_interspersed_args": False},
)
@profile_option
@min_ttl_option
@click.option(
    "--env-var",
    metavar="NAME",
    help="The variable that holds the token (default: the profile's env_var, "
    f"else {DEFAULT_ENV_VAR}).",
)
@output_options
@click.argument(
    "command",
    nargs=-1,
    required=True,
    type=click.UNPROCESSED,
    shell_complete=complete_command,
)
def exec_command(
    profile: str | None,
    min_ttl: float | None,
    env_var: str | None,
    command: tuple[str, ...],
) -> int:
    """Run COMMAND with a valid access token in an environment variable.

    The token is refreshed first when it expires within --min-ttl seconds.
    The exit code is COMMAND's (127 when it cannot be found, 126 when it
    cannot be run).
    """
    from ..refresh import get_token_set
    from ._common import bearer_only, profile_settings

    name = profile_name(profile)
    settings = profile_settings(name)
    variable = env_var or str(settings.get("env_var") or DEFAULT_ENV_VAR)
    if not _NAME.match(variable):
        raise LocalError(
            f"--env-var {variable!r} is not a variable name", code="invalid_argument"
        )
    token_set = get_token_set(name, min_ttl=effective_min_ttl(min_ttl, settings))
    bearer_only(token_set.token_type, name, "a program run by `oauthcli exec`")
    environment = dict(os.environ)
    environment[variable] = token_set.access_token
    sys.stdout.flush()
    sys.stderr.flush()
    return _replace_process(list(command), environment)


def _replace_process(command: list[str], environment: dict[str, str]) -> int:
    """exec() the command on POSIX; elsewhere run it and pass its status on."""
    import shutil

    program = shutil.which(command[0], path=environment.get("PATH"))
    if program is None and os.sep not in command[0]:
        click.echo(f"oauthcli: {command[0]}: command not found", err=True)
        return 127
    program = program or command[0]
    if os.name == "posix":
        try:
            os.execve(program, command, environment)  # noqa: S606 - argv as given
        except FileNotFoundError:
            click.echo(f"oauthcli: {command[0]}: command not found", err=True)
            return 127
        except OSError as exc:
            click.echo(f"oauthcli: {command[0]}: {exc.strerror}", err=True)
            return 126
    import subprocess

    try:
        return subprocess.call([program, *command[1:]], env=environment)
    except OSError as exc:
        click.echo(f"oauthcli: {command[0]}: {exc.strerror}", err=True)
        return 126


COMMANDS = [exec_command]
