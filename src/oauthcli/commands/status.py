"""``oauthcli status`` and ``oauthcli whoami``: the stored login, and its user."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from ._common import (
    EXIT_LOGIN_REQUIRED,
    EXIT_OK,
    output_options,
    profile_name,
    profile_option,
    rfc3339,
)

__all__ = ["COMMANDS", "usable_login"]

_FORMAT = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Text for people, JSON for programs.",
)


@click.command(
    epilog="""\b
Examples:
  oauthcli status
  oauthcli status --profile work --format json | jq .expires_at
  oauthcli status >/dev/null || oauthcli login   # log in only when needed
"""
)
@profile_option
@_FORMAT
@output_options
def status(profile: str | None, output_format: str) -> int:
    """Show who is logged in and until when.

    The profile's issuer, account, token expiry, scopes, whether refresh is
    possible and where tokens are stored. Exit 0 when logged in, 3 when not.
    """
    from ..store import StoreDamaged, profile_path, read_entry

    name = profile_name(profile)
    report: dict[str, Any] = {"profile": name, "logged_in": False, "store": "file"}
    try:
        entry = read_entry(name)
    except StoreDamaged as exc:
        entry = None
        report["problem"] = exc.message
    if entry is not None:
        settings = entry.get("settings") or {}
        tokens = entry.get("tokens") or {}
        account = entry.get("account") or {}
        expires_at, access_valid, can_refresh = _token_state(tokens)
        dpop = entry.get("dpop")
        report["store"] = tokens.get("refresh_token_store") or "file"
        report.update(
            issuer=(entry.get("provider") or {}).get("issuer")
            or settings.get("issuer"),
            client_id=settings.get("client_id"),
            account=account.get("name"),
            sub=account.get("sub"),
            # A past time for an expired token: when it ran out is news too.
            expires_at=rfc3339(expires_at),
            access_token_valid=access_valid,
            token_type=tokens.get("token_type"),
            # The thumbprint of the key the tokens are bound to (RFC 9449).
            dpop_jkt=dpop.get("jkt") if isinstance(dpop, dict) else None,
            scope=tokens.get("scope") or settings.get("scope"),
            refresh_available=can_refresh,
            logged_in=access_valid or can_refresh,
            path=str(profile_path(name)),
        )
        if settings.get("grant_type") == "client_credentials":
            # No refresh token: `oauthcli token` makes a new grant instead.
            report.update(grant_type="client_credentials", logged_in=True)
        _warn_if_configured_elsewhere(name, settings)
    if output_format == "json":
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        sys.stdout.write(_status_text(report))
    return EXIT_OK if report["logged_in"] else EXIT_LOGIN_REQUIRED


def _warn_if_configured_elsewhere(name: str, settings: dict[str, Any]) -> None:
    """Say so when config.toml (or a variable) now names another issuer or
    client than the stored login's: ``token`` refuses to hand out its tokens
    until the next login, which uses those."""
    from ..config import login_conflicts
    from ..errors import LocalError
    from ._common import say

    try:
        conflicts = login_conflicts(name, settings)
    except LocalError:
        return  # `oauthcli login` reports what is wrong with the file
    for conflict in conflicts:
        say(f"oauthcli: warning: {conflict}: run `oauthcli login --profile {name}`")


def _token_state(tokens: dict[str, Any]) -> tuple[float | None, bool, bool]:
    """The stored access token's expiry, whether it is valid, whether a
    refresh is possible."""
    expires_at = tokens.get("expires_at")
    if not isinstance(expires_at, int | float) or isinstance(expires_at, bool):
        expires_at = None
    access_valid = bool(tokens.get("access_token")) and (
        expires_at is None or expires_at > time.time()
    )
    backend = tokens.get("refresh_token_store") or "file"
    can_refresh = bool(tokens.get("refresh_token")) or backend == "keyring"
    return expires_at, access_valid, can_refresh


def usable_login(entry: dict[str, Any]) -> bool:
    """What ``status`` exits 0 for: a valid access token, a way to refresh
    it, or a client credentials profile (a new grant)."""
    _, access_valid, can_refresh = _token_state(entry.get("tokens") or {})
    settings = entry.get("settings") or {}
    return (
        access_valid
        or can_refresh
        or settings.get("grant_type") == "client_credentials"
    )


def _status_text(report: dict[str, Any]) -> str:
    """The report for a terminal: every stored value passes ``sanitize``."""
    from ..config import login_hint
    from ..errors import sanitize

    report = {
        key: sanitize(value) if isinstance(value, str) else value
        for key, value in report.items()
    }
    name = report["profile"]
    if "issuer" not in report:
        problem = report.get("problem") or f"no stored login; {login_hint(name)}"
        return f"Profile {name!r}: not logged in ({problem}).\n"
    lines = [
        f"Profile:   {name}",
        f"Issuer:    {report['issuer']}",
        f"Client:    {report['client_id']}",
        f"Account:   {report['account']}",
    ]
    if report["access_token_valid"]:
        lines.append(f"Access:    valid until {report['expires_at'] or 'unknown'}")
    elif report["expires_at"]:
        lines.append(f"Access:    expired at {report['expires_at']}")
    else:
        lines.append("Access:    expired or missing")
    if report["dpop_jkt"]:
        lines.append(f"Bound:     DPoP key {report['dpop_jkt']} (RFC 9449)")
    lines.append(f"Scopes:    {report['scope'] or '(none recorded)'}")
    refresh = (
        "available" if report["refresh_available"] else "unavailable (log in again)"
    )
    if report.get("grant_type") == "client_credentials":
        refresh = "none needed: a new client credentials grant when it runs out"
    lines.append(f"Refresh:   {refresh}")
    where = (
        "refresh token in the OS keyring" if report["store"] == "keyring" else "file"
    )
    lines.append(f"Stored in: {report['path']} ({where})")
    if not report["logged_in"]:
        lines.append(f"Not logged in: {login_hint(name)}.")
    return "\n".join(lines) + "\n"


# Shown first, in this order; the other claims follow sorted by name.
_CLAIM_ORDER = (
    "sub",
    "account",
    "name",
    "preferred_username",
    "email",
    "email_verified",
    "iss",
    "aud",
    "auth_time",
    "acr",
    "amr",
)
_TIMES = ("auth_time", "iat", "exp", "nbf", "updated_at")
# Claims that only bound the ID token to its login; nothing about the user.
_LOGIN_ONLY = ("nonce", "at_hash", "c_hash")


@click.command(
    epilog="""\b
Examples:
  oauthcli whoami
  oauthcli whoami --userinfo --format json | jq -r .email
"""
)
@profile_option
@click.option(
    "--userinfo",
    is_flag=True,
    help="Also ask the provider's UserInfo endpoint (with a fresh access token).",
)
@_FORMAT
@output_options
def whoami(profile: str | None, userinfo: bool, output_format: str) -> int:
    """Show the logged-in user's claims.

    From the ID token stored at login (checked then), and with --userinfo
    from the provider's UserInfo endpoint, whose answer must be about the
    same subject. Exit 3 when not logged in.
    """
    from ..refresh import stored_login
    from ..userinfo import id_token_claims
    from ..userinfo import userinfo as fetch_userinfo

    name = profile_name(profile)
    entry = stored_login(name)
    if not usable_login(entry):
        from ..config import login_hint
        from ..errors import LoginRequired

        # The provider refused the refresh token (or it ran out): the claims
        # of that login describe nobody who is logged in now.
        raise LoginRequired(
            f"not logged in (profile {name!r} holds no usable tokens); "
            f"{login_hint(name)}"
        )
    claims = id_token_claims((entry.get("tokens") or {}).get("id_token"))
    for spent in _LOGIN_ONLY:
        claims.pop(spent, None)
    if userinfo:
        from ._common import effective_min_ttl, profile_settings

        min_ttl = effective_min_ttl(None, profile_settings(name))
        claims = {**claims, **fetch_userinfo(name, min_ttl=min_ttl)}
    elif not claims:
        # A provider without ID tokens (the GitHub preset): what the login
        # recorded, labelled as the account it is, not as the `name` claim.
        account = entry.get("account") or {}
        recorded = {"sub": account.get("sub"), "account": account.get("name")}
        claims = {key: value for key, value in recorded.items() if value is not None}
    if output_format == "json":
        sys.stdout.write(json.dumps(claims, indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(_claims_text(claims))
    return EXIT_OK


def _claims_text(claims: dict[str, Any]) -> str:
    from ..errors import sanitize

    keys = [key for key in _CLAIM_ORDER if key in claims]
    keys += sorted(key for key in claims if key not in _CLAIM_ORDER)
    width = max((len(key) for key in keys), default=0) + 1
    lines = []
    for key in keys:
        value = claims[key]
        when = (
            rfc3339(value) if key in _TIMES and isinstance(value, int | float) else None
        )
        if when is not None and value > 0:
            shown = when
        elif isinstance(value, str):
            shown = value
        else:
            shown = json.dumps(value, sort_keys=True)
        lines.append(f"{sanitize(key, 60) + ':':<{width}} {sanitize(shown)}")
    return "\n".join(lines) + "\n"


COMMANDS = [status, whoami]
