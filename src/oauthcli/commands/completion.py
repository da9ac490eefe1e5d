"""``oauthcli completion SHELL``: the completion script for bash, zsh or fish."""

from __future__ import annotations

import sys

import click

from ._common import EXIT_OK

__all__ = ["COMMANDS"]

_EXAMPLES = """\b
Examples:
  oauthcli completion bash > ~/.local/share/bash-completion/completions/oauthcli
  oauthcli completion zsh > "${fpath[1]}/_oauthcli"
  oauthcli completion fish > ~/.config/fish/completions/oauthcli.fish
"""


@click.command(epilog=_EXAMPLES)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> int:
    """Print the shell completion script for SHELL on stdout.

    It completes commands, options, choices and profile names.
    """
    from click.shell_completion import get_completion_class

    from . import main_group

    completer = get_completion_class(shell)
    assert completer is not None  # every choice above has one
    script = completer(main_group, {}, "oauthcli", "_OAUTHCLI_COMPLETE").source()
    sys.stdout.write(script if script.endswith("\n") else script + "\n")
    return EXIT_OK


COMMANDS = [completion]
