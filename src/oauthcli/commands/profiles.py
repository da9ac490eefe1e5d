"""``oauthcli profiles``: the profiles stored or configured, and their tables."""

from __future__ import annotations

from typing import Any

import click

from ..errors import LocalError
from ._common import EXIT_ERROR, EXIT_OK, complete_profiles, output_options, say

__all__ = ["COMMANDS"]


@click.group(invoke_without_command=True, short_help="List or edit the profiles.")
@output_options
@click.pass_context
def profiles(ctx: click.Context) -> int:
    """List the profiles (stored logins and config.toml tables).

    The default one is marked with '*'; a profile with a stored login says
    whether it is logged in.
    """
    if ctx.invoked_subcommand is None:
        return _list()
    return EXIT_OK


def _names() -> tuple[list[str], str]:
    from ..config import load_config, resolve_profile_name
    from ..store import list_profiles

    config = load_config()
    names = sorted(set(list_profiles()) | set(config.profiles))
    return names, resolve_profile_name(None, config=config)


def _login_state(name: str) -> str:
    """What the store holds for ``name``: nothing, a login, or its remains."""
    from ..store import StoreDamaged, read_entry
    from .status import usable_login

    try:
        entry = read_entry(name)
    except StoreDamaged:
        return "stored login damaged"
    if entry is None:
        return ""
    return "logged in" if usable_login(entry) else "login expired"


def _list() -> int:
    names, default = _names()
    width = max((len(name) for name in names), default=0)
    for name in names:
        line = (
            f"{'*' if name == default else ' '} {name:<{width}}  {_login_state(name)}"
        )
        click.echo(line.rstrip())
    if not names:
        say(
            "No profiles yet: log in with `oauthcli login`, or add one with "
            "`oauthcli profiles add`."
        )
    return EXIT_OK


@profiles.command(
    "list",
    epilog="""\b
Examples:
  oauthcli profiles list
  oauthcli profiles list | awk '$1 == "*" {print $2}'   # the default profile
""",
)
def profiles_list() -> int:
    """List the profiles; the default one is marked with '*'.

    A profile with a stored login says so: logged in, login expired (log in
    again) or stored login damaged.
    """
    return _list()


@profiles.command(
    "add",
    epilog="""\b
Examples:
  oauthcli profiles add work --preset entra --default \\
      --set tenant=8eaef023-2b34-4da1-9baa-8bc8c9d6a490 --set client_id=0b5e...
  oauthcli profiles add dev --set issuer=https://idp.example --set client_id=cli
""",
)
@click.argument("name")
@click.option("--preset", help="A provider preset (see `oauthcli config presets`).")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="A key of the profile (repeatable; see `oauthcli config keys`).",
)
@click.option("--default", "make_default", is_flag=True, help="Make it the default.")
def profiles_add(
    name: str, preset: str | None, settings: tuple[str, ...], make_default: bool
) -> int:
    """Add a profile NAME to the config file."""
    from ..config import load_config, set_values
    from ..presets import get_preset

    if preset is not None:
        get_preset(preset)  # a mistyped one gets a did-you-mean
    if name in load_config().profiles:
        raise LocalError(
            f"profile {name!r} is already in the config file; change it with "
            "`oauthcli config set --profile NAME KEY VALUE`",
            code="invalid_argument",
        )
    pairs: list[tuple[str, Any]] = [("preset", preset)] if preset else []
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise LocalError(
                f"--set {item!r} is not KEY=VALUE", code="invalid_argument"
            )
        pairs.append((key, value))
    if not pairs:
        raise LocalError(
            "give --preset or --set KEY=VALUE (a profile needs an issuer or a preset)",
            code="invalid_argument",
        )
    set_values(name, pairs, default=make_default)
    say(f"Added profile {name!r}; log in with `oauthcli login --profile {name}`.")
    return EXIT_OK


@profiles.command(
    "show",
    epilog="""\b
Examples:
  oauthcli profiles show work
  oauthcli profiles show "$(oauthcli profiles list | awk '$1 == "*" {print $2}')"
""",
)
@click.argument("name", shell_complete=complete_profiles)
def profiles_show(name: str) -> int:
    """Show NAME's options and where each one comes from.

    A profile that only a stored login knows shows that login's settings.
    """
    from ..config import load_config
    from ..store import read_entry
    from .config import show_resolved, show_stored

    config = load_config()
    if name in config.profiles:
        show_resolved(name, config)
        return EXIT_OK
    entry = read_entry(name)
    if entry is None:
        raise LocalError(f"there is no profile {name!r}", code="invalid_argument")
    show_stored(name, entry.get("settings") or {})
    return EXIT_OK


@profiles.command(
    "remove",
    epilog="""\b
Examples:
  oauthcli profiles remove old-work              # and log it out
  oauthcli profiles remove work --keep-login     # the stored login stays
""",
)
@click.argument("name", shell_complete=complete_profiles)
@click.option(
    "--keep-login",
    is_flag=True,
    help="Keep the stored login (by default it is logged out and revoked too).",
)
def profiles_remove(name: str, keep_login: bool) -> int:
    """Remove NAME from the config file and log it out."""
    from ..config import load_config, remove_profile, set_default_profile
    from ..revocation import logout

    config = load_config()
    removed = remove_profile(name)
    if config.default_profile == name:
        set_default_profile(None)
    status = EXIT_OK
    logged_out = False
    if not keep_login:
        result = logout(name)
        logged_out = result.deleted
        for problem in result.problems:
            say(f"oauthcli: {name}: {problem}")
            status = EXIT_ERROR
    if not removed and not logged_out:
        raise LocalError(f"there is no profile {name!r}", code="invalid_argument")
    done = " and logged it out" if logged_out else ""
    say(f"Removed profile {name!r}{done}.")
    return status


COMMANDS = [profiles]
