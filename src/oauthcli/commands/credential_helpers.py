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
names the server: the same host and port (443 when none is written), https
only.
"""

from __future__ import annotations

import json
import sys
from typing import Any
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


_DEFAULT_PORTS = {"https": 443}


def _server(text: str, scheme: str = "https") -> tuple[str, str, int] | None:
    """(scheme, host, port) of a host, host:port or URL; None if unreadable.

    Hosts are compared lower-cased without a trailing dot; a missing port is
    the scheme's default, so ``git.example.com`` and ``git.example.com:443``
    are one server and ``git.example.com:8443`` another.
    """
    text = text.strip()
    if "://" not in text:
        text = f"{scheme}://{text}"
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if not host or parts.username is not None or parts.password is not None:
        return None
    scheme = parts.scheme.lower()
    default = _DEFAULT_PORTS.get(scheme)
    if port is None and default is None:
        return None
    return scheme, host, port or default or 0


def _profile_for_server(
    explicit: str | None, server: tuple[str, str, int] | None
) -> str | None:
    """--profile, else the one profile whose ``hosts`` lists the server.

    Only https servers get a token: a plain http remote would carry it in
    the clear.
    """
    from ..config import load_config

    if server is None or server[0] != "https":
        return None
    if explicit:
        return explicit
    matches = []
    for name, values in load_config().profiles.items():
        listed = {_server(str(host)) for host in values.get("hosts") or ()}
        if server in listed:
            matches.append(name)
    if len(matches) > 1:
        raise LocalError(
            f"the profiles {', '.join(sorted(matches))} all list host {server[1]}; "
            "give --profile",
            code="invalid_config",
        )
    return matches[0] if matches else None


def _fresh_tokens(name: str, rejected: str | None = None) -> Any:
    from ..refresh import get_token_set
    from ._common import bearer_only, effective_min_ttl, profile_settings

    min_ttl = effective_min_ttl(None, profile_settings(name))
    tokens = get_token_set(name, min_ttl=min_ttl, rejected=rejected)
    bearer_only(tokens.token_type, name, "a git or Docker credential helper")
    return tokens


def _ours(profile: str | None, host: str) -> bool:
    """Whether --profile is given or a profile lists ``host`` (as https).

    A config.toml that cannot be read makes no remote ours: the https
    requests, which read it too, report what is wrong with it.
    """
    if profile:
        return True
    try:
        return bool(host) and _profile_for_server(None, _server(host)) is not None
    except OAuthCLIError:
        return False


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
    request = parse_git_request(sys.stdin.read(_MAX_INPUT))
    if action == "store":
        return EXIT_OK
    from .._log import log

    protocol = request.get("protocol", "")
    host = request.get("host", "")
    if protocol != "https":
        # Never hand a token to a plain-http remote; say so when the remote is
        # one of ours (--profile, or a profile lists its host), since that
        # is a refusal the user has to act on, not a remote of someone else.
        shown = sanitize(protocol, 20)
        if action == "get" and protocol == "http" and _ours(profile, host):
            say(
                f"oauthcli: {shown}://{sanitize(host)} is not https, so no token is "
                "sent to it; use an https remote"
            )
        else:
            log.info(
                "%s; git tries its next helper",
                f"{shown} is not https" if protocol else "git sent no protocol",
            )
        return EXIT_OK
    name = _profile_for_server(profile, _server(host) if host else None)
    if name is None:
        log.info("no profile lists host %s; git tries its next helper", sanitize(host))
        return EXIT_OK
    try:
        if action == "erase":
            refused = request.get("password")
            if refused:
                # The remote refused this token: refresh now, unless another
                # process has already replaced it.
                _fresh_tokens(name, rejected=refused)
            return EXIT_OK
        tokens = _fresh_tokens(name)
    except OAuthCLIError as exc:
        # git shows the helper's stderr and then prompts as usual.
        say(f"oauthcli: {sanitize(exc.message)}")
        return EXIT_OK
    lines = [f"username={_username(name)}", f"password={tokens.access_token}"]
    if tokens.expires_at is not None:
        lines.append(f"password_expiry_utc={int(tokens.expires_at)}")
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


@click.command(
    "docker-credential",
    short_help="Docker's credential helper.",
    epilog="""\b
Examples:
  echo registry.example.com | oauthcli docker-credential get
  oauthcli docker-credential list
  docker pull registry.example.com/team/app   # Docker asks the helper
""",
)
@profile_option
@click.argument("action", type=click.Choice(["get", "store", "erase", "list"]))
def docker_credential(profile: str | None, action: str) -> int:
    """Be Docker's credential helper (also installed as docker-credential-oauthcli).

    \b
    ~/.docker/config.json: {"credHelpers": {"registry.example.com": "oauthcli"}}
    """
    from ..config import load_config

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
    name = _profile_for_server(profile, _server(server))
    if name is None:
        sys.stdout.write(DOCKER_NOT_FOUND + "\n")
        return EXIT_ERROR
    try:
        tokens = _fresh_tokens(name)
    except OAuthCLIError as exc:
        # Docker shows only what a helper prints on stdout.
        sys.stdout.write(f"oauthcli: {sanitize(exc.message)}\n")
        return EXIT_ERROR
    answer = {
        "ServerURL": server,
        "Username": _username(name),
        "Secret": tokens.access_token,
    }
    sys.stdout.write(json.dumps(answer) + "\n")
    return EXIT_OK


COMMANDS = [git_credential, docker_credential]
