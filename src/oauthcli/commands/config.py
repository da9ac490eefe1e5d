"""``oauthcli config``: read and edit config.toml, list the presets."""

from __future__ import annotations

import sys

import click

from ..errors import LocalError
from ._common import EXIT_OK, output_options, profile_name, profile_option, say

__all__ = ["COMMANDS", "show_resolved"]

_EXAMPLES = """\b
Examples:
  oauthcli config set --profile work preset entra
  oauthcli config set --profile work tenant 8eaef023-2b34-4da1-9baa-8bc8c9d6a490
  oauthcli config set --profile work client_id 0b5e...
  printf %s "$SECRET" | oauthcli config set --profile work client_secret -
  oauthcli config show --profile work
  oauthcli config keys
"""


def _complete_keys(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[str]:
    from ..config import KEYS

    return [name for name in KEYS if name.startswith(incomplete)]


@click.group(epilog=_EXAMPLES)
def config() -> None:
    """Read and edit the config file (config.toml).

    Each [profiles.NAME] table holds login options named like the flags with
    underscores, so that `oauthcli login --profile NAME` needs no flags.
    Flags win over OAUTHCLI_* variables, which win over the file, which wins
    over the profile's preset.
    """


@config.command("path")
def config_path() -> int:
    """Print where the config file is (it may not exist yet)."""
    from ..config import config_path as path

    click.echo(str(path()))
    return EXIT_OK


def show_resolved(name: str) -> None:
    """Every option of ``name`` with its value and where it came from."""
    from ..config import resolve_login_options
    from ..errors import sanitize

    resolved = resolve_login_options(name, {})
    if not resolved.values:
        say(f"Profile {name!r} sets nothing in {resolved.config_path}.")
        return
    keys = sorted(resolved.values)
    width = max(len(key) for key in keys)
    for key in keys:
        value = sanitize(resolved.shown(key))
        origin = sanitize(str(resolved.origins.get(key, "")))
        click.echo(f"{key:<{width}} = {value}    # {origin}")


@config.command("show")
@profile_option
@output_options
def config_show(profile: str | None) -> int:
    """Show the profile's options, each with where it came from.

    Secrets are shown as [redacted].
    """
    show_resolved(profile_name(profile))
    return EXIT_OK


@config.command("get")
@profile_option
@click.argument("key", shell_complete=_complete_keys)
def config_get(profile: str | None, key: str) -> int:
    """Print the value KEY resolves to (exit 1 when nothing sets it)."""
    from ..config import KEYS, resolve_login_options

    name = profile_name(profile)
    spec = KEYS.get(key)
    if spec is None:
        raise LocalError(f"{key!r} is not a config key", code="invalid_argument")
    if spec.secret:
        raise LocalError(
            f"{key} is not printed; `oauthcli config show` says whether it is set",
            code="invalid_argument",
        )
    resolved = resolve_login_options(name, {})
    if key not in resolved:
        return 1
    click.echo(resolved.shown(key))
    return EXIT_OK


@config.command("set")
@profile_option
@click.argument("key", shell_complete=_complete_keys)
@click.argument("value")
def config_set(profile: str | None, key: str, value: str) -> int:
    """Set KEY of the profile to VALUE in the config file.

    VALUE "-" reads it from stdin (for a client secret, which then stays off
    the command line). param.NAME sets one authorization parameter.
    """
    from ..config import set_value

    name = profile_name(profile)
    if value == "-":
        value = sys.stdin.readline().rstrip("\r\n")
    set_value(name, key, value)
    say(f"Set {key} of profile {name!r}.")
    return EXIT_OK


@config.command("unset")
@profile_option
@click.argument("key", shell_complete=_complete_keys)
def config_unset(profile: str | None, key: str) -> int:
    """Remove KEY from the profile in the config file."""
    from ..config import unset_value

    name = profile_name(profile)
    if unset_value(name, key):
        say(f"Removed {key} from profile {name!r}.")
    else:
        say(f"Profile {name!r} does not set {key}.")
    return EXIT_OK


@config.command("keys")
def config_keys() -> int:
    """List every key a profile may set, with its type and meaning."""
    from ..config import KEYS

    width = max(len(name) for name in KEYS)
    for spec in KEYS.values():
        kind = "|".join(spec.choices) if spec.choices else spec.kind
        click.echo(f"{spec.name:<{width}}  {kind}: {spec.help}")
    return EXIT_OK


@config.command("presets")
def config_presets() -> int:
    """List the provider presets and what each one sets."""
    from ..presets import list_presets

    for preset in list_presets():
        needs = ", ".join(preset.parameters) or "nothing"
        click.echo(f"{preset.name}: {preset.summary} (needs {needs})")
        for line in preset.help.strip().splitlines():
            click.echo(f"    {line.strip()}")
        click.echo("")
    return EXIT_OK


COMMANDS = [config]
