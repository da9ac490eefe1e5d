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
  oauthcli token --format header --url URL | curl -H @- URL     # DPoP too

\b
Formats:
  raw              the token and a newline
  json             access_token, token_type, expires_at, scope
  header           the Authorization header line; for a DPoP-bound token
                   also a DPoP line, a proof for --method and --url
  env              shell-quoted export lines (variable: the profile's env_var)
  exec-credential  kubectl's ExecCredential (client.authentication.k8s.io/v1)
"""


def _check_min_ttl(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> float | None:
    """The same rule and words as for OAUTHCLI_MIN_TTL and min_ttl."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 <= seconds < float("inf"):  # NaN fails this too
        raise LocalError(
            f"--min-ttl must be a number of seconds, 0 or more, got {value!r}",
            code="invalid_argument",
        )
    return seconds


def min_ttl_option(function: Any) -> Any:
    return click.option(
        "--min-ttl",
        type=str,
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
@click.option(
    "--url",
    metavar="URL",
    help="With --format header: the request's URL, which a DPoP proof is bound "
    "to (its query and fragment do not count). Needed for a DPoP-bound token.",
)
@click.option(
    "--method",
    default="GET",
    show_default=True,
    metavar="METHOD",
    help="With --format header: the request's HTTP method, for the DPoP proof.",
)
@click.option(
    "--dpop-nonce",
    metavar="NONCE",
    help="With --format header: the DPoP-Nonce the resource server sent, when "
    'it answered 401 with error="use_dpop_nonce".',
)
@output_options
def token(
    profile: str | None,
    min_ttl: float | None,
    output_format: str,
    url: str | None,
    method: str,
    dpop_nonce: str | None,
) -> int:
    """Print a valid access token, refreshing it first when needed.

    The token goes to stdout; it is refreshed first when it expires within
    --min-ttl seconds. Exit 3 when the user must log in again.
    """
    from ..refresh import get_token_set
    from ._common import bearer_only, profile_settings

    _check_request(url, method, dpop_nonce)
    if output_format != "header":
        _refuse_request_options(url, dpop_nonce)
    method = method.upper()  # `--method get` means GET; the proof must say so
    name = profile_name(profile)
    settings = profile_settings(name)
    ttl = effective_min_ttl(min_ttl, settings)
    if output_format == "header":
        sys.stdout.write(_header_lines(name, ttl, url, method, dpop_nonce))
        return EXIT_OK
    api_version = _kubectl_api_version() if output_format == "exec-credential" else None
    token_set = get_token_set(name, min_ttl=ttl)
    access_token = token_set.access_token
    if output_format == "raw":
        out = f"{access_token}\n"
    elif output_format == "env":
        out = _env_lines(token_set, str(settings.get("env_var") or DEFAULT_ENV_VAR))
    elif output_format == "exec-credential":
        assert api_version is not None
        bearer_only(token_set.token_type, name, "kubectl")
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


def _check_request(url: str | None, method: str, nonce: str | None) -> None:
    """The --url, --method and --dpop-nonce of a header, checked before use."""
    import re
    from urllib.parse import urlsplit

    from ..dpop import MAX_NONCE_LENGTH, NONCE_SYNTAX

    if url is not None:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise LocalError(
                "--url must be an absolute http:// or https:// URL",
                code="invalid_argument",
            )
    if not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", method):
        raise LocalError(
            "--method must be an HTTP method such as GET or POST",
            code="invalid_argument",
        )
    if nonce is not None and (
        len(nonce) > MAX_NONCE_LENGTH or not NONCE_SYNTAX.fullmatch(nonce)
    ):
        raise LocalError(
            "--dpop-nonce is not a DPoP nonce (visible ASCII without '\"' or '\\')",
            code="invalid_argument",
        )


def _refuse_request_options(url: str | None, nonce: str | None) -> None:
    """--url, --method and --dpop-nonce describe the request of a header."""
    from click.core import ParameterSource

    given = [flag for flag, value in (("--url", url), ("--dpop-nonce", nonce)) if value]
    source = click.get_current_context().get_parameter_source("method")
    if source is ParameterSource.COMMANDLINE:
        given.append("--method")
    if given:
        raise click.UsageError(
            f"{' and '.join(given)} only go with --format header (the request a "
            "header is for); the other formats print the token alone"
        )


def _header_lines(
    profile: str, min_ttl: float, url: str | None, method: str, nonce: str | None
) -> str:
    """The header lines of one resource request (RFC 6750, RFC 9449 section 7.1)."""
    from ..refresh import get_credentials

    credentials = get_credentials(profile, min_ttl=min_ttl)
    if credentials.tokens.token_type == "DPoP" and url is None:
        raise LocalError(
            f"profile {profile!r} holds a DPoP-bound token: --format header needs "
            "--url (and --method, default GET) of the request, to sign its proof",
            code="invalid_argument",
        )
    headers = credentials.headers(method, url or "", nonce=nonce)
    return "".join(f"{name}: {value}\n" for name, value in headers.items())


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
