"""``oauthcli config``: read and edit config.toml, list the presets."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from ..errors import LocalError
from ._common import EXIT_OK, output_options, profile_name, profile_option, say

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["COMMANDS", "show_resolved", "show_stored"]

_VALUE_COLUMN = 40  # longer values push their comment out; shorter ones line up

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


@config.command(
    "path",
    epilog="""\b
Examples:
  oauthcli config path
  "${EDITOR:-vi}" "$(oauthcli config path)"
""",
)
def config_path() -> int:
    """Print where the config file is (it may not exist yet)."""
    from ..config import config_path as path

    click.echo(str(path()))
    return EXIT_OK


def show_resolved(name: str, config: Config | None = None) -> None:
    """Every option of ``name`` with its value and where it came from."""
    from ..config import load_config, resolve_login_options
    from ..errors import sanitize

    resolved = resolve_login_options(name, {}, config=config)
    if not resolved.values:
        from ..store import read_entry

        entry = read_entry(name)
        if entry is not None:
            in_file = name in (config or load_config()).profiles
            show_stored(name, entry.get("settings") or {}, in_file=in_file)
            return
        say(f"Profile {sanitize(repr(name))} sets nothing in {resolved.config_path}.")
        return
    _echo_rows(
        [
            (
                key,
                sanitize(resolved.shown(key)),
                sanitize(str(resolved.origins.get(key, ""))),
            )
            for key in sorted(resolved.values)
        ]
    )


def show_stored(name: str, settings: dict[str, Any], *, in_file: bool = False) -> None:
    """A stored login's settings, under the config.toml keys that set them,
    for a profile whose config.toml table sets nothing."""
    from ..config import KEYS
    from ..errors import sanitize

    where = "sets nothing in config.toml" if in_file else "is not in config.toml"
    say(f"Profile {sanitize(repr(name))} {where}; its stored login has:")
    rows = []
    for key, value in sorted(_as_config_keys(settings).items()):
        if key not in KEYS or value is None:
            continue
        if KEYS[key].secret:
            shown = "[redacted]"
        elif isinstance(value, bool):
            shown = "true" if value else "false"  # as config.toml writes it
        elif key == "port" and isinstance(value, list | tuple):
            shown = ",".join(str(port) for port in value)
        elif isinstance(value, dict):
            shown = " ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            shown = " ".join(str(item) for item in value)
        else:
            shown = str(value)
        rows.append((key, sanitize(shown), "stored login"))
    _echo_rows(rows)


def _as_config_keys(settings: dict[str, Any]) -> dict[str, Any]:
    """Stored login settings renamed as the config.toml keys that set them
    (the store keeps ``params``, ``redirect_ports`` and ``redirect_url``)."""
    from urllib.parse import urlsplit

    keys = dict(settings)
    keys["param"] = keys.pop("params", None)
    keys["port"] = keys.pop("redirect_ports", None)
    url = keys.pop("redirect_url", None)
    if isinstance(url, str):
        parts = urlsplit(url)
        host, _, port = parts.netloc.rpartition(":")
        # "127.0.0.1:8080" and "[::1]:8080" lose their port; "[::1]" has none.
        keys["redirect_host"] = host if port.isdigit() else parts.netloc
        keys["redirect_path"] = parts.path or "/"
    return keys


def _echo_rows(rows: list[tuple[str, str, str]]) -> None:
    """``KEY = VALUE  # WHERE`` lines, with keys and comments in columns."""
    if not rows:
        return
    key_width = max(len(key) for key, _, _ in rows)
    value_width = min(max(len(value) for _, value, _ in rows), _VALUE_COLUMN)
    for key, value, origin in rows:
        click.echo(f"{key:<{key_width}} = {value:<{value_width}}  # {origin}")


@config.command(
    "show",
    epilog="""\b
Examples:
  oauthcli config show
  oauthcli config show --profile work
""",
)
@profile_option
@output_options
def config_show(profile: str | None) -> int:
    """Show the profile's options, each with where it came from.

    Secrets are shown as [redacted].
    """
    from ..config import load_config, resolve_profile_name

    config = load_config()  # once, so that a warning about it is said once
    show_resolved(resolve_profile_name(profile, config=config), config)
    return EXIT_OK


@config.command(
    "get",
    epilog="""\b
Examples:
  oauthcli config get --profile work issuer
  ISSUER=$(oauthcli config get issuer) || echo "issuer not set"
""",
)
@profile_option
@click.argument("key", shell_complete=_complete_keys)
def config_get(profile: str | None, key: str) -> int:
    """Print the value KEY resolves to (exit 1 when nothing sets it)."""
    from ..config import key_spec, resolve_login_options

    name = profile_name(profile)
    spec = key_spec(key)
    if spec.secret:
        raise LocalError(
            f"{key} is not printed; `oauthcli config show` says whether it is set",
            code="invalid_argument",
        )
    resolved = resolve_login_options(name, {})
    if key not in resolved:
        from ..config import load_config
        from ..errors import sanitize
        from ..store import profile_path, read_entry

        profile_path(name)  # a name no profile can have: invalid_argument
        entry = read_entry(name)
        shown = sanitize(name)
        if name not in load_config().profiles and entry is None and not resolved.values:
            say(
                f"oauthcli: there is no profile {shown} (config.toml has no "
                f"[profiles.{shown}] and no login is stored under it); "
                "`oauthcli profiles list` shows them"
            )
            return 1
        stored = _as_config_keys((entry or {}).get("settings") or {})
        if stored.get(key) is not None:
            say(
                f"oauthcli: {key} is not set in profile {shown}; its stored login "
                f"has one (`oauthcli config show --profile {shown}`)"
            )
            return 1
        say(f"oauthcli: {key} is not set in profile {shown}")
        return 1  # like `git config`: unset is 1, not an error message's 2
    click.echo(resolved.shown(key))
    return EXIT_OK


@config.command(
    "set",
    epilog="""\b
Examples:
  oauthcli config set --profile work issuer https://login.example.com
  oauthcli config set --profile work hosts '["git.example.com", "registry.example.com"]'
  oauthcli config set --profile work hosts git.example.com,registry.example.com
  printf %s "$SECRET" | oauthcli config set --profile work client_secret -
""",
)
@profile_option
@click.argument("key", shell_complete=_complete_keys)
@click.argument("value")
def config_set(profile: str | None, key: str, value: str) -> int:
    """Set KEY of the profile to VALUE in the config file.

    VALUE "-" reads it from stdin (for a client secret, which then stays off
    the command line). param.NAME sets one authorization parameter. A list
    key (hosts, require_scope, ...) takes words separated by commas or
    spaces, or a TOML array: '["git.example.com", "registry.example.com"]'.
    A profile the file does not have yet is created.
    """
    from ..config import load_config, set_value

    name = profile_name(profile)
    if value == "-":
        value = sys.stdin.readline().rstrip("\r\n")
    config = load_config()
    set_value(name, key, value)
    if name not in config.profiles:
        say(f"Created profile {name!r} in {config.path}.")
    say(f"Set {key} of profile {name!r}.")
    return EXIT_OK


@config.command(
    "unset",
    epilog="""\b
Examples:
  oauthcli config unset --profile work scope
  oauthcli config unset --profile work param.prompt
""",
)
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


@config.command(
    "keys",
    epilog="""\b
Examples:
  oauthcli config keys
  oauthcli config keys | grep -i scope
""",
)
def config_keys() -> int:
    """List every key a profile may set, with its type and meaning."""
    from ..config import KEYS

    width = max(len(name) for name in KEYS)
    for spec in KEYS.values():
        kind = (
            "one of " + ", ".join(json.dumps(choice) for choice in spec.choices)
            if spec.choices
            else spec.kind
        )
        click.echo(f"{spec.name:<{width}}  {kind}: {spec.help}")
    return EXIT_OK


@config.command(
    "presets",
    epilog="""\b
Examples:
  oauthcli config presets
  oauthcli login --preset github --client-id Iv1.0123456789abcdef
""",
)
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
