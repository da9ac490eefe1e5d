"""Provider presets: what each expands to, and what each refuses."""

from __future__ import annotations

from typing import Any

import pytest

from oauthcli.errors import ConfigError
from oauthcli.presets import PRESETS, expand_preset, get_preset, list_presets

TENANT = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"


def expand(**values: Any) -> dict[str, Any]:
    return expand_preset(values)


def refusal(**values: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        expand_preset(values)
    assert caught.value.code == "invalid_config"
    return caught.value.message


def test_values_without_a_preset_come_back_unchanged() -> None:
    values = {"issuer": "https://idp.example", "scope": "openid"}

    assert expand_preset(values) == values


def test_auth0_issuer_keeps_the_trailing_slash_and_asks_for_offline_access() -> None:
    values = expand(preset="auth0", domain="Example.EU.auth0.com", client_id="c")

    assert values["issuer"] == "https://example.eu.auth0.com/"
    assert values["scope"] == "openid profile email offline_access"
    assert values["client_id"] == "c"
    assert "token_endpoint_auth_method" not in values


def test_auth0_keeps_audience_connection_and_organization_as_given() -> None:
    values = expand(
        preset="auth0",
        domain="t.us.auth0.com",
        audience="https://api.example",
        connection="github",
        organization="org_123",
    )

    assert values["audience"] == "https://api.example"
    assert values["connection"] == "github"
    assert values["organization"] == "org_123"


@pytest.mark.parametrize(
    ("server", "issuer"),
    [
        (None, "https://acme.okta.com/oauth2/default"),
        ("default", "https://acme.okta.com/oauth2/default"),
        ("aus1a2b3c4d5e6f7g8h9", "https://acme.okta.com/oauth2/aus1a2b3c4d5e6f7g8h9"),
        ("org", "https://acme.okta.com"),
    ],
)
def test_okta_issuer_follows_the_authorization_server(
    server: str | None, issuer: str
) -> None:
    values = expand(preset="okta", domain="acme.okta.com", authorization_server=server)

    assert values["issuer"] == issuer
    assert "offline_access" in values["scope"].split()


def test_okta_refuses_an_authorization_server_that_is_not_an_id() -> None:
    message = refusal(preset="okta", domain="acme.okta.com", authorization_server="a/b")

    assert message == (
        'preset "okta": authorization_server must be default, org or an '
        'authorization server ID such as aus1a2b3c4d5e6f7g8h9, got "a/b"'
    )


@pytest.mark.parametrize("name", ["entra", "azure", "microsoft"])
def test_entra_and_its_aliases_build_the_tenant_issuer(name: str) -> None:
    values = expand(preset=name, tenant=TENANT.upper())

    assert values["issuer"] == f"https://login.microsoftonline.com/{TENANT}/v2.0"
    assert values["scope"] == "openid profile email offline_access"


def test_entra_consumers_means_its_fixed_tenant_id() -> None:
    values = expand(preset="entra", tenant="consumers")

    assert values["issuer"] == (
        "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
    )


@pytest.mark.parametrize("tenant", ["common", "organizations", "Common"])
def test_entra_refuses_the_tenants_without_a_fixed_issuer(tenant: str) -> None:
    message = refusal(preset="entra", tenant=tenant)

    assert message == (
        f'preset "entra": tenant "{tenant.lower()}" has no fixed issuer (its '
        "discovery document says https://login.microsoftonline.com/{tenantid}/v2.0, "
        "which cannot be checked); set tenant to your directory's tenant ID"
    )


def test_entra_refuses_a_domain_and_says_where_the_tenant_id_is() -> None:
    message = refusal(preset="entra", tenant="contoso.onmicrosoft.com")

    assert message.startswith(
        'preset "entra": tenant must be a tenant ID (a GUID) or consumers, got '
        '"contoso.onmicrosoft.com"'
    )
    assert message.endswith(
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"
        "/.well-known/openid-configuration"
    )


def test_google_asks_for_a_refresh_token_and_accepts_its_bare_issuer() -> None:
    values = expand(preset="google")

    assert values["issuer"] == "https://accounts.google.com"
    assert values["param"] == {"access_type": "offline", "prompt": "consent"}
    assert values["id_token_issuers"] == ("accounts.google.com",)
    assert "token_endpoint_auth_method" not in values


def test_google_sends_its_desktop_client_secret_in_the_body() -> None:
    values = expand(preset="google", client_secret="GOCSPX-x")

    assert values["token_endpoint_auth_method"] == "client_secret_post"


@pytest.mark.parametrize("device", [{}, {"device": True}])
def test_a_google_login_without_the_client_secret_is_refused(
    device: dict[str, bool],
) -> None:
    # Google's token endpoint refuses the code without it, after the browser,
    # and the device code too, after the user approved it.
    with pytest.raises(ConfigError) as caught:
        expand(preset="google", client_id="c.apps.googleusercontent.com", **device)

    assert caught.value.key == "client_secret"
    assert caught.value.message == (
        'preset "google": a login needs the client secret (Google\'s token '
        "endpoint wants it even with PKCE, and in the device flow): give "
        "--client-secret, set OAUTHCLI_CLIENT_SECRET, or client_secret in the "
        "profile"
    )


@pytest.mark.parametrize(
    "values",
    [
        {"client_secret": "GOCSPX-x"},
        {"client_secret": "GOCSPX-x", "device": True},
        {"grant_type": "client_credentials"},
        {},  # no client_id: `login --profile` reuses the stored login's secret
    ],
)
def test_google_expands_with_the_secret_or_without_a_user_login(
    values: dict[str, Any],
) -> None:
    client = {"client_id": "c"} if values else {}

    assert expand(preset="google", **client, **values)["issuer"]


def test_google_parameters_merge_under_the_profile_s_own() -> None:
    values = expand(preset="google", param={"prompt": "select_account", "hd": "ex"})

    assert values["param"] == {
        "access_type": "offline",
        "prompt": "select_account",
        "hd": "ex",
    }


@pytest.mark.parametrize(
    ("base_url", "issuer"),
    [
        ("https://sso.example.com", "https://sso.example.com/realms/main"),
        ("https://sso.example.com/", "https://sso.example.com/realms/main"),
        ("https://old.example.com/auth", "https://old.example.com/auth/realms/main"),
        ("http://localhost:8080", "http://localhost:8080/realms/main"),
    ],
)
def test_keycloak_issuer_is_the_realm_under_the_base_url(
    base_url: str, issuer: str
) -> None:
    values = expand(preset="keycloak", base_url=base_url, realm="main")

    assert values["issuer"] == issuer
    assert values["scope"] == "openid profile email"


def test_keycloak_realm_is_escaped_in_the_issuer() -> None:
    values = expand(preset="keycloak", base_url="https://sso.example", realm="a b/c")

    assert values["issuer"] == "https://sso.example/realms/a%20b%2Fc"


def test_keycloak_refuses_a_base_url_that_is_not_a_url() -> None:
    message = refusal(preset="keycloak", base_url="sso.example.com", realm="main")

    assert message == (
        'preset "keycloak": base_url must be the server\'s URL, such as '
        "https://sso.example.com (with /auth on Keycloak before 17), got "
        '"sso.example.com"'
    )


def test_github_sets_its_endpoints_and_turns_discovery_off() -> None:
    values = expand(preset="github", client_id="Iv1.abc", device=True)

    assert values == {
        "preset": "github",
        "client_id": "Iv1.abc",
        "device": True,
        "issuer": "https://github.com",
        "authorization_endpoint": "https://github.com/login/oauth/authorize",
        "token_endpoint": "https://github.com/login/oauth/access_token",
        "device_authorization_endpoint": "https://github.com/login/device/code",
        "userinfo_endpoint": "https://api.github.com/user",
        "scope": "read:user",
        "discovery": False,
        "scope_separator": ",",
    }


def test_github_posts_the_client_secret_only_when_there_is_one() -> None:
    with_secret = expand(preset="github", client_secret="s")
    device_only = expand(preset="github")

    assert with_secret["token_endpoint_auth_method"] == "client_secret_post"
    assert "token_endpoint_auth_method" not in device_only


def test_a_github_browser_login_without_the_client_secret_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        expand(preset="github", client_id="Iv1.abc")

    assert caught.value.key == "client_secret"
    assert caught.value.message.startswith(
        'preset "github": a login needs the client secret (GitHub\'s token '
        "endpoint wants it for a code): give --client-secret"
    )


def test_explicit_keys_win_over_the_preset() -> None:
    values = expand(
        preset="github",
        scope="repo",
        token_endpoint="https://ghe.example/login/oauth/access_token",
        client_secret="s",
        token_endpoint_auth_method="client_secret_basic",
    )

    assert values["scope"] == "repo"
    assert values["token_endpoint"] == "https://ghe.example/login/oauth/access_token"
    assert values["token_endpoint_auth_method"] == "client_secret_basic"
    assert (
        values["authorization_endpoint"] == "https://github.com/login/oauth/authorize"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"preset": "entra"}, 'preset "entra" needs tenant (--tenant)'),
        ({"preset": "auth0", "domain": ""}, 'preset "auth0" needs domain (--domain)'),
        (
            {"preset": "keycloak"},
            'preset "keycloak" needs base_url and realm (--base-url and --realm)',
        ),
        (
            {"preset": "keycloak", "realm": "r"},
            'preset "keycloak" needs base_url (--base-url)',
        ),
    ],
)
def test_a_missing_parameter_is_named(values: dict[str, Any], message: str) -> None:
    assert refusal(**values) == message


def test_the_missing_parameter_is_the_error_s_key() -> None:
    with pytest.raises(ConfigError) as caught:
        expand_preset({"preset": "entra"})

    assert caught.value.key == "tenant"


def test_an_explicit_issuer_needs_no_parameters() -> None:
    values = expand(preset="entra", issuer="https://login.microsoftonline.us/t/v2.0")

    assert values["issuer"] == "https://login.microsoftonline.us/t/v2.0"
    assert values["scope"] == "openid profile email offline_access"


@pytest.mark.parametrize(
    "domain", ["https://t.us.auth0.com", "t.us.auth0.com/", "t us.auth0.com", "-a.b"]
)
def test_a_domain_must_be_a_bare_host_name(domain: str) -> None:
    message = refusal(preset="auth0", domain=domain)

    assert message == (
        'preset "auth0": domain must be a host name such as example.us.auth0.com '
        f'(no https://, no path), got "{domain}"'
    )


def test_an_unknown_preset_lists_the_known_ones() -> None:
    message = refusal(preset="ping", domain="x")

    assert message == (
        'unknown preset "ping"; known presets: auth0, entra, github, google, '
        "keycloak, okta"
    )


def test_a_mistyped_preset_gets_a_did_you_mean() -> None:
    message = refusal(preset="oktaa", domain="x")

    assert message == (
        'unknown preset "oktaa" (did you mean okta?); known presets: auth0, '
        "entra, github, google, keycloak, okta"
    )


def test_list_presets_gives_every_preset_by_name_with_its_help() -> None:
    listed = list_presets()

    assert [preset.name for preset in listed] == sorted(PRESETS)
    assert all(preset.summary and preset.help for preset in listed)
    assert get_preset("azure") is PRESETS["entra"]
