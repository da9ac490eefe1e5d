"""Credential helpers for git and Docker, answering with the access token.

git's protocol (git-credential(1)): ``key=value`` lines on stdin up to a
blank line; ``get`` answers ``username``/``password`` (and
``password_expiry_utc``), ``erase`` says the password was refused, ``store``
is ignored (the token is oauthcli's to keep). A host no profile serves gets
no answer, so git goes on to its next helper.

Docker's protocol (docker-credential-helpers): ``get`` reads a server URL
and answers ``{"ServerURL", "Username", "Secret"}`` in JSON, or says
"credentials not found in native keychain" and exits 1.

Without ``--profile`` the profile is the one whose ``hosts`` in config.toml
names the host.
"""

from __future__ import annotations

import json
import sys
from urllib.parse import urlsplit

import click

from ..errors import LocalError, OAuthCLIError, sanitize
from ._common import EXIT_ERROR, EXIT_OK, output_options, profile_option, say

__all__ = ["COMMANDS", "parse_git_request"]

DEFAULT_USERNAME = "oauth2"
DOCKER_NOT_FOUND = "credentials not found in native keychain"
_MAX_INPUT = 64 * 1024


def parse_git_request(text: str) -> dict[str, str]:
    """git's ``key=value`` lines up to the first blank line (multi-valued keys
    such as ``wwwauth[]`` keep their last value; oauthcli reads none of them)."""
    fields: dict[str, str] = {}
    for line in text.split("\n"):
        line = line.removesuffix("\r")
        if not line:
            break
        key, sep, value = line.partition("=")
        if not sep or not key or "\0" in line:
            raise LocalError(
                "git sent a credential line that is not key=value",
                code="invalid_argument",
            )
        fields[key] = value
    return fields


def _host_of(server: str) -> str:
    """``registry.example.com`` from a host, host:port or URL."""
    text = server.strip()
    if "://" not in text:
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return ""
    return f"{host}:{port}" if port else host


def _profile_for_host(explicit: str | None, host: str) -> str | None:
    """--profile, else the one profile whose ``hosts`` lists ``host``."""
    from ..config import load_config

    if explicit:
        return explicit
    if not host:
        return None
    matches = []
    for name, values in load_config().profiles.items():
        hosts = [str(h).lower() for h in values.get("hosts") or ()]
        bare = host.split(":")[0]
        if host in hosts or bare in hosts:
            matches.append(name)
    if len(matches) > 1:
        raise LocalError(
            f"the profiles {', '.join(sorted(matches))} all list host {host}; "
            "give --profile",
            code="invalid_config",
        )
    return matches[0] if matches else None


def _username(profile: str) -> str:
    from ._common import profile_settings

    return str(profile_settings(profile).get("username") or DEFAULT_USERNAME)


@click.command("git-credential", short_help="git's credential helper.")
@profile_option
@click.argument("action", type=click.Choice(["get", "store", "erase"]))
@output_options
def git_credential(profile: str | None, action: str) -> int:
    """Be git's credential helper: the access token as the password.

    \b
    git config --global credential.https://git.example.com.helper \\
        '!oauthcli git-credential --profile work'
    """
    from ..refresh import get_token_set

    request = parse_git_request(sys.stdin.read(_MAX_INPUT))
    if action == "store":
        return EXIT_OK
    host = request.get("host", "")
    if request.get("protocol") not in (None, "https"):
        return EXIT_OK  # never hand a token to a plain-http remote
    name = _profile_for_host(profile, _host_of(host) if host else "")
    if name is None:
        return EXIT_OK
    try:
        if action == "erase":
            refused = request.get("password")
            if refused:
                # The remote refused this token: refresh now, unless another
                # process has already replaced it.
                get_token_set(name, rejected=refused)
            return EXIT_OK
        tokens = get_token_set(name)
    except OAuthCLIError as exc:
        # git shows the helper's stderr and then prompts as usual.
        say(f"oauthcli: {sanitize(exc.message)}")
        return EXIT_OK
    lines = [f"username={_username(name)}", f"password={tokens.access_token}"]
    if tokens.expires_at is not None:
        lines.append(f"password_expiry_utc={int(tokens.expires_at)}")
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


@click.command("docker-credential", short_help="Docker's credential helper.")
@profile_option
@click.argument("action", type=click.Choice(["get", "store", "erase", "list"]))
def docker_credential(profile: str | None, action: str) -> int:
    """Be Docker's credential helper (also installed as docker-credential-oauthcli).

    \b
    ~/.docker/config.json: {"credHelpers": {"registry.example.com": "oauthcli"}}
    """
    from ..config import load_config
    from ..refresh import get_token_set

    if action in ("store", "erase"):
        sys.stdin.read(_MAX_INPUT)  # Docker keeps nothing here; neither do we
        return EXIT_OK
    if action == "list":
        servers: dict[str, str] = {}
        for listed, values in sorted(load_config().profiles.items()):
            for host in values.get("hosts") or ():
                servers.setdefault(str(host), _username(listed))
        sys.stdout.write(json.dumps(servers) + "\n")
        return EXIT_OK
    server = sys.stdin.read(_MAX_INPUT).strip()
    name = _profile_for_host(profile, _host_of(server))
    if name is None:
        sys.stdout.write(DOCKER_NOT_FOUND + "\n")
        return EXIT_ERROR
    tokens = get_token_set(name)
    answer = {
        "ServerURL": server,
        "Username": _username(name),
        "Secret": tokens.access_token,
    }
    sys.stdout.write(json.dumps(answer) + "\n")
    return EXIT_OK


COMMANDS = [git_credential, docker_credential]
