"""``oauthcli token``: a valid access token in the shape the caller needs."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from ..errors import LocalError
from ._common import (
    EXIT_OK,
    effective_min_ttl,
    output_options,
    profile_name,
    profile_option,
    rfc3339,
)

__all__ = ["COMMANDS", "EXEC_CREDENTIAL_VERSIONS", "exec_credential", "min_ttl_option"]

FORMATS = ["raw", "json", "header", "env", "exec-credential"]
EXEC_CREDENTIAL_VERSIONS = (
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
)
DEFAULT_ENV_VAR = "OAUTHCLI_ACCESS_TOKEN"

_EXAMPLES = """\b
Examples:
  curl -H "Authorization: Bearer $(oauthcli token)" URL
  curl -H "$(oauthcli token --format header)" URL
  eval "$(oauthcli token --format env)"
  oauthcli token --format json --min-ttl 300

\b
Formats:
  raw              the token and a newline
  json             access_token, token_type, expires_at, scope
  header           the Authorization header line
  env              shell-quoted export lines (variable: the profile's env_var)
  exec-credential  kubectl's ExecCredential (client.authentication.k8s.io/v1)
"""


def _check_min_ttl(
    ctx: click.Context, param: click.Parameter, value: float | None
) -> float | None:
    if value is not None and not 0 <= value < float("inf"):  # NaN fails this too
        raise LocalError(
            "--min-ttl must be a number of seconds, 0 or more", code="invalid_argument"
        )
    return value


def min_ttl_option(function: Any) -> Any:
    return click.option(
        "--min-ttl",
        type=float,
        default=None,
        metavar="SECONDS",
        callback=_check_min_ttl,
        help="Refresh when the token expires within this many seconds "
        "(default: the profile's min_ttl, else 60).",
    )(function)


def exec_credential(
    access_token: str, expires_at: float | None, api_version: str
) -> dict[str, Any]:
    """kubectl's ExecCredential document for ``access_token``."""
    status: dict[str, Any] = {"token": access_token}
    if expires_at is not None:
        status["expirationTimestamp"] = rfc3339(expires_at)
    return {"apiVersion": api_version, "kind": "ExecCredential", "status": status}


def _kubectl_api_version() -> str:
    """The version kubectl asks for in KUBERNETES_EXEC_INFO, else v1."""
    info = os.environ.get("KUBERNETES_EXEC_INFO")
    if not info:
        return EXEC_CREDENTIAL_VERSIONS[0]
    try:
        version = json.loads(info).get("apiVersion")
    except (ValueError, AttributeError, RecursionError) as exc:
        raise LocalError(
            "KUBERNETES_EXEC_INFO is not the JSON kubectl sends",
            code="invalid_argument",
        ) from exc
    if version not in EXEC_CREDENTIAL_VERSIONS:
        raise LocalError(
            f"kubectl asks for ExecCredential {version!r}; oauthcli speaks "
            f"{' and '.join(EXEC_CREDENTIAL_VERSIONS)}",
            code="invalid_argument",
        )
    return str(version)


@click.command(
    epilog=_EXAMPLES, short_help="Print a valid access token (refreshed when needed)."
)
@profile_option
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
def token(profile: str | None, min_ttl: float | None, output_format: str) -> int:
    """Print a valid access token, refreshing it first when needed.

    The token goes to stdout; it is refreshed first when it expires within
    --min-ttl seconds. Exit 3 when the user must log in again.
    """
    from ..refresh import get_token_set
    from ._common import profile_settings

    name = profile_name(profile)
    settings = profile_settings(name)
    api_version = _kubectl_api_version() if output_format == "exec-credential" else None
    token_set = get_token_set(name, min_ttl=effective_min_ttl(min_ttl, settings))
    access_token = token_set.access_token
    if output_format == "raw":
        out = f"{access_token}\n"
    elif output_format == "header":
        out = f"Authorization: Bearer {access_token}\n"
    elif output_format == "env":
        out = _env_lines(token_set, str(settings.get("env_var") or DEFAULT_ENV_VAR))
    elif output_format == "exec-credential":
        assert api_version is not None
        document = exec_credential(access_token, token_set.expires_at, api_version)
        out = json.dumps(document) + "\n"
    else:
        document = {
            "access_token": access_token,
            "token_type": token_set.token_type,
            "expires_at": rfc3339(token_set.expires_at),
            "scope": token_set.scope,
        }
        out = json.dumps(document) + "\n"
    sys.stdout.write(out)
    return EXIT_OK


def _env_lines(token_set: Any, variable: str) -> str:
    import shlex

    expires = token_set.expires_at
    lines = [f"export {variable}={shlex.quote(token_set.access_token)}"]
    lines.append(
        f"export {variable}_EXPIRES_AT="
        f"{shlex.quote(str(int(expires)) if expires is not None else '')}"
    )
    return "\n".join(lines) + "\n"


COMMANDS = [token]
