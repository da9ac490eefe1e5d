"""The ``oauthcli`` subcommands: argparse, then one function per command.

Each command parses, calls the library, and prints: results on stdout,
everything else on stderr. ``cli.main`` sends ``oauthcli token`` here only
when its fast path cannot answer.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from .cli import (
    EXIT_CANCELLED,
    EXIT_ERROR,
    EXIT_LOGIN_REQUIRED,
    EXIT_OK,
    EXIT_USAGE,
    _fresh_access_token,
)
from .errors import OAuthCLIError

__all__ = ["build_parser", "run"]

_EPILOG = """\
exit codes: 0 success, 1 failure, 2 usage error, 3 login required,
130 cancelled.  OAUTHCLI_HOME moves all files; OAUTHCLI_PROFILE picks the
default profile."""

_LOGIN_EXAMPLES = """\
examples:
  oauthcli login --issuer https://tenant.example.com --client-id my-cli
  oauthcli login --issuer https://idp.example --client-id app --port 8020-8040
  oauthcli login --profile work          # again, with the stored settings
"""


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line (exit 2) like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"oauthcli: {message} (see `{self.prog} --help`)\n")


def _output_options() -> _Parser:
    """-v and --debug, accepted before or after the command name."""
    options = _Parser(add_help=False)
    options.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the steps",
    )
    options.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show HTTP exchanges (URLs without queries) and tracebacks",
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    output = _output_options()
    parser = _Parser(
        prog="oauthcli",
        description="Log in with OAuth 2.0 / OpenID Connect; hand out access tokens.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[output],
    )
    parser.add_argument(
        "--version", action="version", version=f"oauthcli {__version__}"
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )

    login = commands.add_parser(
        "login",
        parents=[output],
        help="log in through the browser and store the tokens",
        description="Log in through the browser (authorization code + PKCE, "
        "loopback redirect) and store the tokens under a profile.",
        epilog=_LOGIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    login.add_argument("--issuer", help="the provider's issuer URL (discovery is used)")
    login.add_argument("--client-id", help="the client ID registered at the provider")
    login.add_argument(
        "--client-secret",
        help="client secret, for confidential clients only (or OAUTHCLI_CLIENT_SECRET)",
    )
    login.add_argument(
        "--scope", help='space-separated scopes (default "openid profile email")'
    )
    login.add_argument(
        "--token-endpoint-auth-method",
        choices=["none", "client_secret_basic", "client_secret_post"],
        help="how the client authenticates (default: none, or client_secret_basic "
        "with a secret)",
    )
    login.add_argument("--audience", help="the audience parameter (Auth0 APIs)")
    login.add_argument("--connection", help="the Auth0 connection parameter")
    login.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra authorization request parameter (repeatable)",
    )
    login.add_argument(
        "--require-scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="fail unless the provider grants SCOPE (repeatable)",
    )
    login.add_argument(
        "--port", help="fixed callback port N, or a range A-B (default: any free port)"
    )
    login.add_argument(
        "--redirect-host",
        choices=["127.0.0.1", "localhost", "[::1]", "::1"],
        help="host in the redirect URI (default 127.0.0.1)",
    )
    login.add_argument(
        "--redirect-path", help="path in the redirect URI (default /callback)"
    )
    login.add_argument(
        "--no-browser",
        action="store_true",
        help="only print the URL; do not open a browser",
    )
    login.add_argument(
        "--device",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="log in by entering a code on another device (RFC 8628 device flow); "
        "remembered by the profile; OAUTHCLI_DEVICE=1 makes it the default",
    )
    login.add_argument(
        "--timeout", type=float, help="seconds to wait for the browser (default 300)"
    )
    login.add_argument(
        "--ca-file", help="extra CA bundle to trust for the provider's TLS"
    )
    login.add_argument(
        "--store",
        choices=["file", "keyring", "auto"],
        help="where the refresh token lives: the 0600 file (default), the OS "
        "keyring, or the keyring when one works (auto)",
    )
    login.add_argument(
        "--profile", default=None, help="profile to store the login under"
    )

    profile_help = "profile to use (default: OAUTHCLI_PROFILE, else 'default')"
    token = commands.add_parser(
        "token",
        parents=[output],
        help="print a valid access token, refreshing it first when needed",
        description="Print a valid access token and a newline on stdout, "
        "refreshing it first when it expires within --min-ttl seconds. "
        "Exit 3 if the user must log in again.",
        epilog='examples:\n  curl -H "Authorization: Bearer $(oauthcli token)" URL\n'
        "  oauthcli token --format json --min-ttl 300",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    token.add_argument("--profile", default=None, help=profile_help)
    token.add_argument(
        "--min-ttl",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="refresh when the token expires within this many seconds (default 60)",
    )
    token.add_argument(
        "--format",
        choices=["raw", "json"],
        default="raw",
        help="raw: the token and a newline; json: access_token, token_type, "
        "expires_at, scope",
    )

    status = commands.add_parser(
        "status",
        parents=[output],
        help="show who is logged in and until when",
        description="Show the profile's issuer, account, token expiry, scopes, "
        "whether refresh is possible and where tokens are stored. "
        "Exit 0 when logged in, 3 when not.",
    )
    status.add_argument("--profile", default=None, help=profile_help)
    status.add_argument("--format", choices=["text", "json"], default="text")

    logout = commands.add_parser(
        "logout",
        parents=[output],
        help="revoke the tokens at the provider and forget them here",
        description="Revoke the refresh and access tokens at the provider's "
        "revocation endpoint (RFC 7009), then delete the local entry. A failed "
        "revocation is reported (exit 1), but the entry is deleted all the same.",
    )
    which = logout.add_mutually_exclusive_group()
    which.add_argument("--profile", default=None, help=profile_help)
    which.add_argument("--all", action="store_true", help="log out of every profile")
    logout.add_argument(
        "--no-revoke", action="store_true", help="only delete the local entry"
    )

    commands.add_parser(
        "profiles",
        parents=[output],
        help="list the stored profiles",
        description="List the stored profiles on stdout; the default one is "
        "marked with '*'.",
    )
    return parser


def _fail(message: str, code: int = EXIT_ERROR) -> int:
    print(f"oauthcli: {message}", file=sys.stderr)
    return code


def _profile(args: argparse.Namespace) -> str:
    """--profile, else OAUTHCLI_PROFILE, else default; an empty name is refused."""
    from .errors import LocalError

    if args.profile == "":
        raise LocalError("--profile must not be empty", code="invalid_argument")
    from .store import default_profile

    return str(args.profile or default_profile())


def _setup_logging(args: argparse.Namespace) -> None:
    if not (getattr(args, "verbose", False) or getattr(args, "debug", False)):
        return
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("oauthcli: %(message)s"))
    logger = logging.getLogger("oauthcli")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if getattr(args, "debug", False) else logging.INFO)


def _cmd_token(args: argparse.Namespace) -> int:
    from .errors import LocalError

    if not 0 <= args.min_ttl < float("inf"):  # NaN fails this too
        raise LocalError(
            "--min-ttl must be a number of seconds, 0 or more", code="invalid_argument"
        )
    profile = _profile(args)
    token = _fresh_access_token(profile, args.min_ttl)
    if token is not None and args.format == "raw":
        sys.stdout.write(f"{token}\n")
        return EXIT_OK

    from .refresh import get_token_set

    token_set = get_token_set(profile, min_ttl=args.min_ttl)
    if args.format == "raw":
        sys.stdout.write(f"{token_set.access_token}\n")
        return EXIT_OK
    document = {
        "access_token": token_set.access_token,
        "token_type": token_set.token_type,
        "expires_at": _rfc3339(token_set.expires_at),
        "scope": token_set.scope,
    }
    import json

    sys.stdout.write(json.dumps(document) + "\n")
    return EXIT_OK


def _rfc3339(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(int(timestamp), tz=UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _cmd_status(args: argparse.Namespace) -> int:
    import time

    from .store import StoreDamaged, profile_path, read_entry

    profile = _profile(args)
    report: dict[str, Any] = {"profile": profile, "logged_in": False, "store": "file"}
    try:
        entry = read_entry(profile)
    except StoreDamaged as exc:
        entry = None
        report["problem"] = exc.message
    if entry is not None:
        settings = entry.get("settings") or {}
        tokens = entry.get("tokens") or {}
        account = entry.get("account") or {}
        expires_at = tokens.get("expires_at")
        if not isinstance(expires_at, int | float) or isinstance(expires_at, bool):
            expires_at = None
        access_valid = bool(tokens.get("access_token")) and (
            expires_at is None or expires_at > time.time()
        )
        backend = tokens.get("refresh_token_store") or "file"
        can_refresh = bool(tokens.get("refresh_token")) or backend == "keyring"
        report["store"] = backend
        report.update(
            issuer=(entry.get("provider") or {}).get("issuer")
            or settings.get("issuer"),
            client_id=settings.get("client_id"),
            account=account.get("name"),
            sub=account.get("sub"),
            expires_at=_rfc3339(expires_at) if access_valid else None,
            access_token_valid=access_valid,
            scope=tokens.get("scope"),
            refresh_available=can_refresh,
            logged_in=access_valid or can_refresh,
            path=str(profile_path(profile)),
        )
    if args.format == "json":
        import json

        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        sys.stdout.write(_status_text(report))
    return EXIT_OK if report["logged_in"] else EXIT_LOGIN_REQUIRED


def _status_text(report: dict[str, Any]) -> str:
    """The report for a terminal: every stored value passes ``sanitize``."""
    from .errors import sanitize

    report = {
        key: sanitize(value) if isinstance(value, str) else value
        for key, value in report.items()
    }
    profile = report["profile"]
    if "issuer" not in report:
        problem = report.get("problem") or "no stored login"
        return f"Profile {profile!r}: not logged in ({problem}).\n"
    lines = [
        f"Profile:   {profile}",
        f"Issuer:    {report['issuer']}",
        f"Client:    {report['client_id']}",
        f"Account:   {report['account']}",
    ]
    if report["access_token_valid"]:
        lines.append(f"Access:    valid until {report['expires_at'] or 'unknown'}")
    else:
        lines.append("Access:    expired or missing")
    lines.append(f"Scopes:    {report['scope'] or '(none recorded)'}")
    refresh = (
        "available" if report["refresh_available"] else "unavailable (log in again)"
    )
    lines.append(f"Refresh:   {refresh}")
    where = (
        "refresh token in the OS keyring" if report["store"] == "keyring" else "file"
    )
    lines.append(f"Stored in: {report['path']} ({where})")
    if not report["logged_in"]:
        lines.append(f"Not logged in: run `oauthcli login --profile {profile}`.")
    return "\n".join(lines) + "\n"


def _cmd_logout(args: argparse.Namespace) -> int:
    from .revocation import logout
    from .store import list_profiles

    profiles = list_profiles() if args.all else [_profile(args)]
    status = EXIT_OK
    for profile in profiles:
        result = logout(profile, revoke_tokens=not args.no_revoke)
        for problem in result.problems:
            print(f"oauthcli: {profile}: {problem}", file=sys.stderr)
            status = EXIT_ERROR
        if result.deleted:
            done = " and revoked its tokens" if result.revoked else ""
            print(f"Logged out of profile {profile!r}{done}.", file=sys.stderr)
        elif not args.all:
            print(f"Profile {profile!r} was not logged in.", file=sys.stderr)
    return status


def _cmd_profiles(args: argparse.Namespace) -> int:
    from .store import default_profile, list_profiles

    default = default_profile()
    names = list_profiles()
    for name in names:
        sys.stdout.write(f"{'*' if name == default else ' '} {name}\n")
    if not names:
        print("No profiles yet: log in with `oauthcli login`.", file=sys.stderr)
    return EXIT_OK


def _login_constants(args: argparse.Namespace, stored: dict[str, Any]) -> Any:
    from .constants import DEFAULT_SCOPE, OAuth2Constants, parse_ports
    from .errors import LocalError

    issuer = args.issuer or stored.get("issuer")
    client_id = args.client_id or stored.get("client_id")
    if not issuer or not client_id:
        raise LocalError(
            "--issuer and --client-id are required (or a profile that has them)",
            code="invalid_argument",
        )
    params: dict[str, str] = dict(stored.get("params") or {})
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise LocalError(
                f"--param {item!r} is not KEY=VALUE", code="invalid_argument"
            )
        params[key] = value
    host = args.redirect_host or None
    path = args.redirect_path or None
    redirect_url = stored.get("redirect_url") or "http://127.0.0.1/callback"
    if host or path:
        host = "[::1]" if host == "::1" else (host or "127.0.0.1")
        path = path or "/callback"
        if not path.startswith("/"):
            raise LocalError(
                "--redirect-path must start with /", code="invalid_argument"
            )
        redirect_url = f"http://{host}{path}"
    ports: tuple[int, ...] = (
        parse_ports(args.port)
        if args.port
        else tuple(stored.get("redirect_ports") or ())
    )
    secret = (
        args.client_secret
        or os.environ.get("OAUTHCLI_CLIENT_SECRET")
        or stored.get("client_secret")
    )
    return OAuth2Constants(
        client_id=client_id,
        authz_server_host=issuer,
        redirect_url=redirect_url,
        scope=args.scope or stored.get("scope") or DEFAULT_SCOPE,
        audience=args.audience or stored.get("audience"),
        client_secret=secret,
        token_endpoint_auth_method=args.token_endpoint_auth_method
        or (None if args.client_secret else stored.get("token_endpoint_auth_method")),
        extra_params=params,
        redirect_ports=ports,
        required_scopes=tuple(args.require_scope),
        login_timeout=args.timeout if args.timeout is not None else 300.0,
        ca_file=args.ca_file or stored.get("ca_file"),
    )


def _stored_settings(profile: str, args: argparse.Namespace) -> dict[str, Any]:
    """The profile's stored settings, if this login is for the same client."""
    from .errors import LocalError
    from .store import StoreDamaged, read_entry

    try:
        entry = read_entry(profile)
    except StoreDamaged:
        return {}
    except LocalError as exc:
        if exc.code == "invalid_argument":
            raise
        return {}
    settings = dict((entry or {}).get("settings") or {})
    same_issuer = args.issuer is None or args.issuer == settings.get("issuer")
    same_client = args.client_id is None or args.client_id == settings.get("client_id")
    return settings if same_issuer and same_client else {}


def _use_device(args: argparse.Namespace, stored: dict[str, Any]) -> bool:
    """--device/--no-device, else the profile's choice, else OAUTHCLI_DEVICE."""
    if args.device is not None:
        return bool(args.device)
    if "device" in stored:
        return bool(stored["device"])
    return os.environ.get("OAUTHCLI_DEVICE", "").lower() in ("1", "true", "yes")


def _cmd_login(args: argparse.Namespace) -> int:
    import math

    from .errors import LocalError, sanitize
    from .session import login
    from .store import check_writable

    profile = _profile(args)
    check_writable(profile)  # before the user spends time in the browser
    if args.timeout is not None and not (
        math.isfinite(args.timeout) and 0 < args.timeout <= 86400
    ):
        raise LocalError(
            "--timeout must be more than 0 and at most 86400 seconds",
            code="invalid_argument",
        )
    if args.ca_file and not os.path.isfile(args.ca_file):
        problem = "is not a file" if os.path.exists(args.ca_file) else "no such file"
        raise LocalError(
            f"--ca-file {args.ca_file}: {problem}", code="invalid_argument"
        )
    stored = _stored_settings(profile, args)
    constants = _login_constants(args, stored)
    result = login(
        constants,
        profile=profile,
        connection=args.connection or stored.get("connection"),
        open_browser=not args.no_browser,
        token_store=args.store or stored.get("store") or "file",
        device=_use_device(args, stored),
        paste_input=sys.stdin,
    )
    print(
        f"Logged in to {sanitize(result.issuer)} as "
        f"{sanitize(result.account.display_name)} (profile {profile!r}).",
        file=sys.stderr,
    )
    return EXIT_OK


def _exit_code(exc: OAuthCLIError) -> int:
    from .errors import Cancelled, LoginRequired
    from .store import StoreDamaged

    if isinstance(exc, Cancelled):
        return EXIT_CANCELLED
    if isinstance(exc, LoginRequired | StoreDamaged):
        return EXIT_LOGIN_REQUIRED
    if exc.code == "invalid_argument":
        return EXIT_USAGE
    return EXIT_ERROR


def run(arguments: Sequence[str]) -> int:
    """Parse ``arguments`` and run the command; return the exit code."""
    args = build_parser().parse_args(arguments)
    _setup_logging(args)
    from .errors import OAuthCLIError, sanitize

    command = {
        "login": _cmd_login,
        "token": _cmd_token,
        "status": _cmd_status,
        "logout": _cmd_logout,
        "profiles": _cmd_profiles,
    }[args.command]
    try:
        return command(args)
    except OAuthCLIError as exc:
        if getattr(args, "debug", False):
            import traceback

            traceback.print_exc()
        return _fail(sanitize(exc.message, 1000), _exit_code(exc))
    except KeyboardInterrupt:
        return _fail("cancelled", EXIT_CANCELLED)
