"""``oauthcli logout``: revoke at the provider, then forget here."""

from __future__ import annotations

import click

from ._common import (
    EXIT_ERROR,
    EXIT_OK,
    output_options,
    profile_name,
    profile_option,
    say,
)

__all__ = ["COMMANDS"]


@click.command(
    epilog="""\b
Examples:
  oauthcli logout
  oauthcli logout --profile work --no-revoke   # forget here only
  oauthcli logout --all
"""
)
@profile_option
@click.option("--all", "every", is_flag=True, help="Log out of every profile.")
@click.option("--no-revoke", is_flag=True, help="Only delete the local entry.")
@output_options
def logout(profile: str | None, every: bool, no_revoke: bool) -> int:
    """Revoke the tokens at the provider and forget them here.

    The refresh and access tokens are revoked at the provider's revocation
    endpoint (RFC 7009), then the local entry is deleted. A failed
    revocation is reported (exit 1), but the entry is deleted all the same.
    """
    from ..errors import LocalError
    from ..revocation import logout as run_logout
    from ..store import list_profiles

    if every and profile is not None:
        raise LocalError(
            "--all and --profile cannot be used together", code="invalid_argument"
        )
    profiles = list_profiles() if every else [profile_name(profile)]
    status = EXIT_OK
    for name in profiles:
        result = run_logout(name, revoke_tokens=not no_revoke)
        for problem in result.problems:
            say(f"oauthcli: {name}: {problem}")
            status = EXIT_ERROR
        if result.deleted:
            done = " and revoked its tokens" if result.revoked else ""
            say(f"Logged out of profile {name!r}{done}.")
        elif not every:
            say(f"Profile {name!r} was not logged in.")
    return status


COMMANDS = [logout]
