"""What ``oauthcli login`` will do, from every place a setting can come from.

Flags, then ``OAUTHCLI_*`` variables, then the profile in config.toml, then
its preset (``config.resolve_login_options`` merges those), then the
defaults. When none of those names the issuer and the client, the login is
"the same as last time": the profile's stored settings fill every gap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..constants import DEFAULT_SCOPE, OAuth2Constants
from ..errors import LocalError

__all__ = ["LoginPlan", "login_plan"]

# Explicit endpoints and quirks: from the profile, else as the last login had.
_PROVIDER_KEYS = (
    "authorization_endpoint",
    "token_endpoint",
    "device_authorization_endpoint",
    "userinfo_endpoint",
    "revocation_endpoint",
    "jwks_uri",
    "discovery",
    "id_token_issuers",
    "scope_separator",
)


@dataclass(frozen=True)
class LoginPlan:
    constants: OAuth2Constants
    connection: str | None
    no_browser: bool
    device: bool
    store: str
    origins: Mapping[str, object]


def _given(flags: Mapping[str, Any]) -> dict[str, Any]:
    """The flags that were typed, keyed like config.toml."""
    given: dict[str, Any] = {}
    for key, value in flags.items():
        if value is None or value == ():
            continue
        if isinstance(value, tuple):
            value = list(value)
        if key == "redirect_host" and value == "::1":
            value = "[::1]"
        given[key] = value
    return given


def _stored_settings(profile: str, issuer: Any, client_id: Any) -> dict[str, Any]:
    """The profile's last login settings, if it was for this issuer and client."""
    from ..store import StoreDamaged, read_entry

    try:
        entry = read_entry(profile)
    except StoreDamaged:
        return {}
    except LocalError as exc:
        if exc.code == "invalid_argument":
            raise
        return {}
    settings = dict((entry or {}).get("settings") or {})
    same_issuer = issuer is None or str(issuer).rstrip("/") == str(
        settings.get("issuer") or ""
    ).rstrip("/")
    same_client = client_id is None or client_id == settings.get("client_id")
    return settings if same_issuer and same_client else {}


def _redirect_url(values: Mapping[str, Any], stored: Mapping[str, Any]) -> str:
    host = values.get("redirect_host")
    path = values.get("redirect_path")
    if not host and not path:
        return str(stored.get("redirect_url") or "http://127.0.0.1/callback")
    host = host or "127.0.0.1"
    path = path or "/callback"
    if not str(path).startswith("/"):
        raise LocalError("--redirect-path must start with /", code="invalid_argument")
    return f"http://{host}{path}"


def _check_local_files(values: Mapping[str, Any]) -> None:
    ca_file = values.get("ca_file")
    if ca_file and not os.path.isfile(ca_file):
        problem = "is not a file" if os.path.exists(ca_file) else "no such file"
        raise LocalError(f"--ca-file {ca_file}: {problem}", code="invalid_argument")


def _missing(profile: str, issuer: object, client_id: object) -> str:
    """Which of --issuer and --client-id the login lacks, and a did-you-mean
    when the profile is neither configured nor stored (a typo, say in
    default_profile)."""
    from ..config import closest_profile

    missing = [
        f for f, v in (("--issuer", issuer), ("--client-id", client_id)) if not v
    ]
    verb = "is" if len(missing) == 1 else "are"
    message = f"{' and '.join(missing)} {verb} required for profile {profile!r}"
    close = closest_profile(profile)
    if close:
        return (
            f"{message}: no profile {profile!r} is configured or stored; "
            f"did you mean {close!r}?"
        )
    return f"{message} (as flags, OAUTHCLI_* variables or in its config.toml table)"


def login_plan(profile: str, flags: Mapping[str, Any]) -> LoginPlan:
    """Merge every source of settings into the constants of one login."""
    from ..config import resolve_login_options
    from ..session import provider_options

    resolved = resolve_login_options(profile, _given(flags))
    values = dict(resolved.values)
    _check_local_files(values)
    stored: dict[str, Any] = {}
    if not values.get("issuer") or not values.get("client_id"):
        # `oauthcli login --profile P` alone: log in again as last time.
        stored = _stored_settings(
            profile, values.get("issuer"), values.get("client_id")
        )
    if "client_secret" in values and "token_endpoint_auth_method" not in values:
        # A new secret brings its own default method, not the stored one.
        stored.pop("token_endpoint_auth_method", None)
    origins: dict[str, object] = dict(resolved.origins)
    for key in stored:
        origins.setdefault(key, "the profile's last login")

    issuer = values.get("issuer") or stored.get("issuer")
    client_id = values.get("client_id") or stored.get("client_id")
    if not issuer or not client_id:
        raise LocalError(_missing(profile, issuer, client_id), code="invalid_argument")
    params: dict[str, str] = dict(stored.get("params") or {})
    params.update(values.get("param") or {})
    if values.get("organization"):
        params["organization"] = str(values["organization"])
    options: dict[str, Any] = provider_options(stored)
    for key in _PROVIDER_KEYS:
        if key in values:
            options[key] = values[key]
    if "id_token_issuers" in options:
        options["id_token_issuers"] = tuple(options["id_token_issuers"])
    ports = values.get("port")
    constants = OAuth2Constants(
        client_id=str(client_id),
        authz_server_host=str(issuer),
        redirect_url=_redirect_url(values, stored),
        scope=str(values.get("scope") or stored.get("scope") or DEFAULT_SCOPE),
        audience=values.get("audience") or stored.get("audience"),
        client_secret=values.get("client_secret") or stored.get("client_secret"),
        token_endpoint_auth_method=values.get("token_endpoint_auth_method")
        or stored.get("token_endpoint_auth_method"),
        extra_params=params,
        redirect_ports=tuple(ports)
        if ports is not None
        else tuple(stored.get("redirect_ports") or ()),
        required_scopes=tuple(values.get("require_scope") or ()),
        login_timeout=float(values.get("timeout") or 300.0),
        ca_file=values.get("ca_file") or stored.get("ca_file"),
        dpop=bool(values.get("dpop", stored.get("dpop"))),
        par=bool(values.get("par", stored.get("par"))),
        **options,
    )
    device = values.get("device", stored.get("device"))
    return LoginPlan(
        constants=constants,
        connection=values.get("connection") or stored.get("connection"),
        no_browser=bool(values.get("no_browser")),
        device=bool(device),
        store=str(values.get("store") or stored.get("store") or "file"),
        origins=origins,
    )
