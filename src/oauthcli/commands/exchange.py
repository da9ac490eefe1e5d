"""``oauthcli exchange``: the login's token traded for another (RFC 8693)."""

from __future__ import annotations

import json
import sys

import click

from ..errors import LocalError
from ._common import EXIT_OK, output_options, profile_name, profile_option, rfc3339
from .token import min_ttl_option

__all__ = ["COMMANDS"]

FORMATS = ["raw", "json", "header"]
_TOKEN_TYPES = ["access_token", "refresh_token", "id_token", "jwt", "saml1", "saml2"]

_EXAMPLES = """\b
Examples:
  oauthcli exchange --audience https://platform.example.com
  oauthcli exchange --subject-token-type id_token --audience platform
  curl -H "$(oauthcli exchange --resource https://api.example.com --format header)" URL
  oauthcli exchange --scope api:read --format json | jq -r .expires_at

\b
Formats:
  raw     the issued token and a newline
  json    access_token, issued_token_type, token_type, expires_at, scope
  header  the Authorization header line (Bearer tokens only)
"""


@click.command(
    epilog=_EXAMPLES,
    short_help="Trade the login's token for one for another audience (RFC 8693).",
)
@profile_option
@click.option("--audience", help="The service the new token is for (a name or URI).")
@click.option(
    "--resource", metavar="URI", help="The resource the new token is for (RFC 8707)."
)
@click.option("--scope", help="Space-separated scopes for the new token.")
@click.option(
    "--subject-token-type",
    type=click.Choice(["access_token", "id_token"]),
    default="access_token",
    show_default=True,
    help="Which of the login's tokens to trade.",
)
@click.option(
    "--requested-token-type",
    metavar="TYPE",
    help=f"The type of token wanted: {', '.join(_TOKEN_TYPES)}, or a URI "
    "(default: the provider decides).",
)
@min_ttl_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="raw",
    show_default=True,
    help="The output shape (see Formats below).",
)
@output_options
def exchange(
    profile: str | None,
    audience: str | None,
    resource: str | None,
    scope: str | None,
    subject_token_type: str,
    requested_token_type: str | None,
    min_ttl: float | None,
    output_format: str,
) -> int:
    """Trade the login's token for one for another audience, and print it.

    Token exchange (RFC 8693) at the provider's token endpoint: the login's
    access token (refreshed first when needed) or ID token goes in, a token
    for --audience or --resource comes out on stdout. It is not stored.
    Exit 3 when the user must log in first.
    """
    from ..exchange import TokenExchange, exchange_token
    from ._common import effective_min_ttl, profile_settings

    name = profile_name(profile)
    request = TokenExchange(
        audience=audience,
        resource=resource,
        scope=" ".join(scope.split()) if scope is not None else None,
        requested_token_type=requested_token_type,
        subject_token_type=subject_token_type,
    )
    min_ttl = effective_min_ttl(min_ttl, profile_settings(name))
    issued = exchange_token(request, name, min_ttl=min_ttl)
    if output_format == "raw":
        out = f"{issued.access_token}\n"
    elif output_format == "header":
        if issued.token_type != "Bearer":
            raise LocalError(
                f"the provider issued a {issued.issued_token_type_name}, not a "
                "Bearer access token; use --format raw or json",
                code="invalid_argument",
            )
        out = f"Authorization: Bearer {issued.access_token}\n"
    else:
        document = {
            "access_token": issued.access_token,
            "issued_token_type": issued.issued_token_type,
            "token_type": issued.token_type,
            "expires_at": rfc3339(issued.expires_at),
            "scope": issued.scope,
        }
        out = json.dumps(document) + "\n"
    sys.stdout.write(out)
    return EXIT_OK


COMMANDS = [exchange]
