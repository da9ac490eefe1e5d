"""Provider presets: a provider's settings from one or two parameters.

A profile names a preset (``preset = "entra"``) and gives its parameters
(``tenant = "..."``); the preset supplies the issuer, endpoints, default scope
and authorization parameters that provider needs. Every key the profile (or
the environment, or a flag) sets itself wins over the preset's value.

Each preset's ``help`` says what it sets and why: these are the provider
behaviours that cost users an afternoon (Auth0's trailing slash, Entra's
tenant-less issuers, Google's refresh tokens, GitHub's comma-separated
scopes).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from .errors import ConfigError

__all__ = [
    "PRESETS",
    "Preset",
    "closest_preset",
    "expand_preset",
    "get_preset",
    "list_presets",
]

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
_GUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_SERVER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
ENTRA_CONSUMERS_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"


@dataclass(frozen=True)
class Preset:
    """One provider's defaults.

    ``parameters`` must be given (unless the profile sets ``issuer`` itself);
    ``optional`` maps the other parameters to their defaults. ``build`` turns
    the parameters into the issuer and endpoints. ``confidential_auth_method``
    is the ``token_endpoint_auth_method`` used when a client secret is set.
    ``login_requirement`` says why a user's login needs the client secret,
    when the provider's token endpoint refuses the code without it, and the
    device code too unless ``device_exempt``.
    """

    name: str
    summary: str
    help: str
    build: Callable[[Mapping[str, str]], dict[str, Any]]
    parameters: tuple[str, ...] = ()
    optional: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    confidential_auth_method: str | None = None
    login_requirement: str | None = None
    device_exempt: bool = False


def _refuse(preset: str, message: str, key: str) -> ConfigError:
    return ConfigError(f'preset "{preset}": {message}', key=key)


def _host(preset: str, value: str, example: str) -> str:
    if not _HOST.fullmatch(value):
        raise _refuse(
            preset,
            f"domain must be a host name such as {example} (no https://, no "
            f'path), got "{value}"',
            "domain",
        )
    return value.lower()


def _auth0(params: Mapping[str, str]) -> dict[str, Any]:
    domain = _host("auth0", params["domain"], "example.us.auth0.com")
    return {"issuer": f"https://{domain}/"}


def _okta(params: Mapping[str, str]) -> dict[str, Any]:
    domain = _host("okta", params["domain"], "example.okta.com")
    server = params["authorization_server"]
    if server == "org":
        return {"issuer": f"https://{domain}"}
    if not _SERVER_ID.fullmatch(server):
        raise _refuse(
            "okta",
            "authorization_server must be default, org or an authorization "
            f'server ID such as aus1a2b3c4d5e6f7g8h9, got "{server}"',
            "authorization_server",
        )
    return {"issuer": f"https://{domain}/oauth2/{server}"}


def _entra(params: Mapping[str, str]) -> dict[str, Any]:
    tenant = params["tenant"].strip().lower()
    if tenant in ("common", "organizations"):
        raise _refuse(
            "entra",
            f'tenant "{tenant}" has no fixed issuer (its discovery document '
            "says https://login.microsoftonline.com/{tenantid}/v2.0, which "
            "cannot be checked); set tenant to your directory's tenant ID",
            "tenant",
        )
    if tenant == "consumers":
        tenant = ENTRA_CONSUMERS_TENANT
    if not _GUID.fullmatch(tenant):
        discovery = (
            f"https://login.microsoftonline.com/{quote(tenant, safe='')}"
            "/v2.0/.well-known/openid-configuration"
        )
        raise _refuse(
            "entra",
            f'tenant must be a tenant ID (a GUID) or consumers, got "{tenant}": '
            "for a domain Entra's discovery document names the tenant by its ID, "
            f"so the issuer would not match; the ID is in the issuer at {discovery}",
            "tenant",
        )
    return {"issuer": f"https://login.microsoftonline.com/{tenant}/v2.0"}


def _google(params: Mapping[str, str]) -> dict[str, Any]:
    return {"issuer": "https://accounts.google.com"}


def _keycloak(params: Mapping[str, str]) -> dict[str, Any]:
    base_url = params["base_url"].rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _refuse(
            "keycloak",
            "base_url must be the server's URL, such as https://sso.example.com "
            f'(with /auth on Keycloak before 17), got "{params["base_url"]}"',
            "base_url",
        )
    if parts.query or parts.fragment:
        raise _refuse(
            "keycloak",
            f'base_url must not have a query or fragment, got "{params["base_url"]}"',
            "base_url",
        )
    realm = quote(params["realm"], safe="")
    return {"issuer": f"{base_url}/realms/{realm}"}


def _github(params: Mapping[str, str]) -> dict[str, Any]:
    return {
        "issuer": "https://github.com",
        "authorization_endpoint": "https://github.com/login/oauth/authorize",
        "token_endpoint": "https://github.com/login/oauth/access_token",
        "device_authorization_endpoint": "https://github.com/login/device/code",
        "userinfo_endpoint": "https://api.github.com/user",
    }


_OFFLINE_SCOPE = "openid profile email offline_access"

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="auth0",
            summary="Auth0 tenant: domain = TENANT.REGION.auth0.com (or a custom "
            "domain)",
            help="The issuer is https://DOMAIN/ with the trailing slash Auth0 "
            "puts in its discovery document and tokens. The scope adds "
            "offline_access, without which Auth0 returns no refresh token (the "
            "API must also allow offline access). audience, connection and "
            "organization are sent as authorization request parameters (the "
            "audience on the device authorization request too); without an "
            "audience Auth0 issues an access token good only for /userinfo.",
            build=_auth0,
            parameters=("domain",),
            defaults={"scope": _OFFLINE_SCOPE},
        ),
        Preset(
            name="okta",
            summary="Okta org: domain = ORG.okta.com, authorization_server = "
            "default, org or an ID",
            help="The issuer is https://DOMAIN/oauth2/SERVER for a custom "
            "authorization server (SERVER is 'default' unless "
            "authorization_server says otherwise), or https://DOMAIN for the "
            'org authorization server (authorization_server = "org"), whose '
            "access tokens only Okta's own APIs accept. The scope adds "
            "offline_access: Okta returns a refresh token only with it, and only "
            "when the app allows the refresh token grant.",
            build=_okta,
            parameters=("domain",),
            optional={"authorization_server": "default"},
            defaults={"scope": _OFFLINE_SCOPE},
        ),
        Preset(
            name="entra",
            summary="Microsoft Entra ID: tenant = tenant ID (GUID) or consumers",
            help="The issuer is https://login.microsoftonline.com/TENANT/v2.0. "
            "TENANT must be the tenant ID: for 'common' and 'organizations' the "
            "discovery document's issuer is a {tenantid} template, and for a "
            "domain name it carries the tenant ID, so neither can be checked "
            "and both are refused. 'consumers' (personal Microsoft accounts) "
            f"means its fixed tenant ID {ENTRA_CONSUMERS_TENANT}. The scope "
            "adds offline_access for a refresh token; add your API's scope "
            "(api://.../NAME) to get an access token your API accepts, not one "
            "for Microsoft Graph.",
            build=_entra,
            parameters=("tenant",),
            aliases=("azure", "microsoft"),
            defaults={"scope": _OFFLINE_SCOPE},
        ),
        Preset(
            name="google",
            summary="Google accounts: a 'Desktop app' OAuth client, with its secret",
            help="The issuer is https://accounts.google.com. Google's desktop "
            "clients have a client secret that Google's token endpoint requires "
            "even with PKCE; Google's guide for installed apps says it is not "
            "treated as a secret there (every copy of the app carries it), but it "
            "must be set as client_secret all the same. It goes in the request "
            "body (client_secret_post), the form that guide shows. The device "
            "flow (--device) takes a 'TVs and Limited Input devices' client, "
            "which has a secret too. access_type=offline and prompt=consent "
            "make Google return a refresh token on every login, not only the "
            "first. Google signs some ID tokens with iss 'accounts.google.com' "
            "(no https://), which is also accepted. The loopback redirect may "
            "use any port on 127.0.0.1 or [::1].",
            build=_google,
            defaults={
                "scope": "openid profile email",
                "param": {"access_type": "offline", "prompt": "consent"},
                "id_token_issuers": ("accounts.google.com",),
            },
            confidential_auth_method="client_secret_post",
            login_requirement="Google's token endpoint wants it even with "
            "PKCE, and in the device flow",
        ),
        Preset(
            name="keycloak",
            summary="Keycloak realm: base_url = https://HOST (+ /auth before "
            "Keycloak 17), realm = NAME",
            help="The issuer is BASE_URL/realms/REALM. Keycloak 17 and later "
            "serve realms at the root; older (WildFly-based) servers under "
            "/auth, so base_url must then end in /auth. Keycloak returns a "
            "refresh token without offline_access; adding offline_access asks "
            "for an offline token that outlives the SSO session instead.",
            build=_keycloak,
            parameters=("base_url", "realm"),
            defaults={"scope": "openid profile email"},
        ),
        Preset(
            name="github",
            summary="GitHub OAuth app or GitHub App: plain OAuth, no OpenID Connect",
            help="GitHub publishes no discovery document and issues no ID "
            "tokens: the endpoints are set explicitly, discovery is off, the "
            "account comes from https://api.github.com/user, and the default "
            "scope is read:user (no openid). The token endpoint answers JSON "
            "only when asked with Accept: application/json, which oauthcli "
            "always sends, and reports the granted scopes comma-separated. A "
            "browser login needs the client secret (sent in the request body, "
            "client_secret_post); the device flow (--device, enabled in the "
            "app's settings) does not. A loopback callback URL registered "
            "without a port accepts any port.",
            build=_github,
            defaults={
                "scope": "read:user",
                "discovery": False,
                "scope_separator": ",",
            },
            confidential_auth_method="client_secret_post",
            login_requirement="GitHub's token endpoint wants it for a code",
            device_exempt=True,
        ),
    )
}

_ALIASES = {alias: preset for preset in PRESETS.values() for alias in preset.aliases}


def closest_preset(name: str) -> str | None:
    """The preset (or alias) a mistyped ``name`` most likely meant, if any."""
    close = difflib.get_close_matches(name, [*PRESETS, *_ALIASES], n=1)
    return close[0] if close else None


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (or one of its aliases)."""
    preset = PRESETS.get(name) or _ALIASES.get(name)
    if preset is None:
        known = ", ".join(sorted(PRESETS))
        close = closest_preset(name)
        meant = f" (did you mean {close}?)" if close else ""
        raise ConfigError(
            f'unknown preset "{name}"{meant}; known presets: {known}', key="preset"
        )
    return preset


def list_presets() -> list[Preset]:
    """Every preset, by name."""
    return [PRESETS[name] for name in sorted(PRESETS)]


def _user_login_without_secret(preset: Preset, values: Mapping[str, Any]) -> bool:
    """Whether ``values`` describe a login that ``preset`` needs a secret for.

    Without a client_id they describe no login of their own: ``oauthcli
    login --profile`` then logs in as last time, with the stored secret.
    """
    return bool(
        values.get("client_id")
        and not values.get("client_secret")
        and not (preset.device_exempt and values.get("device"))
        and values.get("grant_type") != "client_credentials"
    )


def expand_preset(
    values: Mapping[str, Any], *, lenient: bool = False
) -> dict[str, Any]:
    """``values`` over the defaults of the preset they name.

    Without ``preset`` the values come back unchanged. A missing parameter is
    an error unless ``issuer`` is set explicitly; then nothing is computed
    from the parameters. So is a user's login (browser or device) without
    the client secret the preset's provider requires. ``param`` tables merge
    entry by entry.
    ``lenient``: neither is an error, and whatever the parameters given
    determine (the issuer, say) is still filled in; for commands that only
    compare a stored login with the options.
    """
    name = values.get("preset")
    if not name:
        return dict(values)
    preset = get_preset(str(name))

    parameters = {**preset.optional}
    for key in (*preset.parameters, *preset.optional):
        given = values.get(key)
        if given is not None and given != "":
            parameters[key] = str(given)
    missing = [key for key in preset.parameters if key not in parameters]
    if missing and not values.get("issuer") and not lenient:
        flags = " and ".join(f"--{key.replace('_', '-')}" for key in missing)
        raise ConfigError(
            f'preset "{preset.name}" needs {" and ".join(missing)} ({flags})',
            key=missing[0],
        )

    why = preset.login_requirement
    if why and not lenient and _user_login_without_secret(preset, values):
        raise _refuse(
            preset.name,
            f"a login needs the client secret ({why}): give "
            "--client-secret, set OAUTHCLI_CLIENT_SECRET, or client_secret in "
            "the profile",
            "client_secret",
        )

    defaults: dict[str, Any] = dict(preset.defaults)
    if not missing:
        defaults.update(preset.build(parameters))
    if preset.confidential_auth_method and values.get("client_secret"):
        defaults["token_endpoint_auth_method"] = preset.confidential_auth_method

    expanded = {**defaults, **values}
    if "param" in defaults:
        expanded["param"] = {**defaults["param"], **(values.get("param") or {})}
    return expanded
