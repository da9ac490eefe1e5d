"""``oauthcli login``: a browser (or device) login stored under a profile."""

from __future__ import annotations

import sys
from typing import Any

import click

from ._common import (
    EXIT_OK,
    complete_presets,
    output_options,
    profile_name,
    profile_option,
    say,
)

__all__ = ["COMMANDS"]

_EXAMPLES = """\b
Examples:
  oauthcli login --issuer https://tenant.example.com --client-id my-cli
  oauthcli login --preset entra --tenant TENANT-GUID --client-id ID
  oauthcli login --issuer https://idp.example --client-id app --port 8020-8040
  oauthcli login --profile work          # the profile's settings from config.toml
  oauthcli login --device                # enter a code on another device
  oauthcli login --profile ci            # a client credentials profile: no browser
"""


@click.command(epilog=_EXAMPLES)
@click.option("--issuer", help="The provider's issuer URL (discovery is used).")
@click.option("--client-id", help="The client ID registered at the provider.")
@click.option(
    "--client-secret",
    help="Client secret, for confidential clients only (or OAUTHCLI_CLIENT_SECRET).",
)
@click.option(
    "--scope", help='Space-separated scopes (default "openid profile email").'
)
@click.option(
    "--preset",
    shell_complete=complete_presets,
    help="Provider defaults: auth0, okta, entra, google, keycloak, github "
    "(see `oauthcli config presets`).",
)
@click.option("--tenant", help="Entra ID tenant (with --preset entra).")
@click.option("--domain", help="Auth0 / Okta domain (with --preset auth0|okta).")
@click.option("--realm", help="Keycloak realm (with --preset keycloak).")
@click.option("--base-url", help="Keycloak server URL (with --preset keycloak).")
@click.option(
    "--token-endpoint-auth-method",
    type=click.Choice(
        ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]
    ),
    help="How the client authenticates (default: none, or client_secret_basic "
    "with a secret).",
)
@click.option(
    "--grant-type",
    type=click.Choice(["authorization_code", "client_credentials"]),
    help="client_credentials: the client's own token, no user or browser (CI).",
)
@click.option(
    "--client-assertion-key",
    metavar="PATH",
    help="PEM private key for private_key_jwt (client credentials).",
)
@click.option("--audience", help="The audience parameter (Auth0 APIs).")
@click.option("--connection", help="The Auth0 connection parameter.")
@click.option("--organization", help="The Auth0 organization parameter.")
@click.option(
    "--param",
    multiple=True,
    metavar="KEY=VALUE",
    help="An extra authorization request parameter (repeatable).",
)
@click.option(
    "--require-scope",
    multiple=True,
    metavar="SCOPE",
    help="Fail unless the provider grants SCOPE (repeatable).",
)
@click.option(
    "--port", help="Fixed callback port N, or a range A-B (default: any free port)."
)
@click.option(
    "--redirect-host",
    type=click.Choice(["127.0.0.1", "localhost", "[::1]", "::1"]),
    help="Host in the redirect URI (default 127.0.0.1).",
)
@click.option("--redirect-path", help="Path in the redirect URI (default /callback).")
@click.option(
    "--no-browser",
    is_flag=True,
    default=None,
    help="Only print the URL; do not open a browser.",
)
@click.option(
    "--device/--no-device",
    default=None,
    help="Log in by entering a code on another device (RFC 8628 device flow); "
    "remembered by the profile; OAUTHCLI_DEVICE=1 makes it the default.",
)
@click.option(
    "--timeout",
    type=float,
    metavar="SECONDS",
    help="Seconds to wait for the browser (default 300).",
)
@click.option(
    "--ca-file",
    metavar="PATH",
    help="Extra CA bundle to trust for the provider's TLS.",
)
@click.option(
    "--store",
    type=click.Choice(["file", "keyring", "auto"]),
    help="Where the refresh token lives: file (the 0600 store, default); keyring "
    "or auto: the OS keyring, or the file with a one-time notice when no keyring "
    "works.",
)
@click.option(
    "--dpop/--no-dpop",
    default=None,
    help="Bind the tokens to a key made for this login (DPoP, RFC 9449): a "
    "copied token is useless without it. The provider must support DPoP; the "
    "profile remembers the choice.",
)
@click.option(
    "--par/--no-par",
    default=None,
    help="Push the authorization request to the provider first (PAR, RFC "
    "9126), so that the browser's URL carries only a reference. Always on "
    "when the provider requires it.",
)
@profile_option
@output_options
def login(profile: str | None, **flags: Any) -> int:
    """Log in through the browser and store the tokens.

    Authorization code + PKCE with a loopback redirect (or the device flow),
    then the tokens are stored under a profile. Settings come from the flags,
    then OAUTHCLI_* variables, then the profile in config.toml, then the
    preset, then the profile's last login. A profile with grant_type
    client_credentials gets the client's own token instead, without a browser.
    """
    from .._log import log
    from ..client_credentials import configured
    from ..errors import sanitize
    from ..session import login as run_login
    from ..store import check_writable
    from .login_options import login_plan

    name = profile_name(profile)
    check_writable(name)  # before the user spends time in the browser
    if configured(name, flags):  # grant_type = "client_credentials"
        return _machine_login(name, flags)
    plan = login_plan(name, flags)
    for key, origin in sorted(plan.origins.items()):
        log.info("setting %s from %s", key, sanitize(str(origin)))
    result = run_login(
        plan.constants,
        profile=name,
        connection=plan.connection,
        open_browser=not plan.no_browser,
        token_store=plan.store,
        device=plan.device,
        paste_input=sys.stdin,
    )
    say(
        f"Logged in to {sanitize(result.issuer)} as "
        f"{sanitize(result.account.display_name)} (profile {name!r})."
    )
    return EXIT_OK


def _machine_login(profile: str, flags: dict[str, Any]) -> int:
    """A client credentials profile: one new grant, stored; no browser."""
    from ..client_credentials import get_token_set, resolve
    from ..errors import sanitize

    credentials = resolve(profile, flags)
    get_token_set(profile, force=True, credentials=credentials)
    say(
        f"Got a token for client {sanitize(credentials.client_id)!r} from "
        f"{sanitize(credentials.issuer)} (client credentials, profile "
        f"{profile!r}); `oauthcli token` gets a new one when it runs out."
    )
    if flags.get("client_secret"):
        say(
            "The client secret is not stored: set OAUTHCLI_CLIENT_SECRET or "
            "client_secret in the profile for the next grant."
        )
    return EXIT_OK


COMMANDS = [login]
