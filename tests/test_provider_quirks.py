"""Real providers' quirks: GitHub's OAuth apps, Google's ID token issuer, and
clients configured with explicit endpoints instead of discovery.

The providers are tests/evilprovider.py on 127.0.0.1: in ``github`` mode it
answers as GitHub does (no discovery, errors with HTTP 200, form-encoded
answers unless JSON is accepted, ``bearer`` tokens without a lifetime or a
refresh token, the granted scope comma-separated); in its usual mode it
stands for Google when its ID tokens carry ``iss`` ``accounts.google.com``.
Logins go through ``oauthcli.login`` with the scripted user as the browser;
the device flow gets a recording ``sleep``, so that nothing waits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from clirun import stored
from evilprovider import EvilProvider, Plan, ScriptedUser
from oauthcli import (
    BearerAuth,
    EndpointError,
    LocalError,
    LoginRequired,
    OAuth2Constants,
    RequestsBearerAuth,
    ValidationError,
    get_token,
    get_token_set,
    logout,
)
from oauthcli.auth import is_invalid_token
from oauthcli.oauth2 import provider_metadata
from oauthcli.session import LoginResult, login, provider_options
from oauthcli.store import read_entry
from oauthcli.tokens import parse_token_response
from oauthcli.transport import HTTP, Response

SECRET = "gh-secret"
GOOGLE_ISS = "accounts.google.com"
JSON = {"content-type": "application/json"}


@pytest.fixture
def github(oauthcli_home: Path) -> Iterator[EvilProvider]:
    """A GitHub-like OAuth app with a client secret (the web flow needs one)."""
    with EvilProvider(
        mode="github", client_secret=SECRET, auth_method="client_secret_post"
    ) as provider:
        yield provider


@pytest.fixture
def github_device(oauthcli_home: Path) -> Iterator[EvilProvider]:
    """A GitHub-like OAuth app used as a public client (the device flow)."""
    with EvilProvider(mode="github") as provider:
        yield provider


@pytest.fixture
def google(oauthcli_home: Path) -> Iterator[EvilProvider]:
    """An OpenID provider whose ID tokens say ``iss`` without ``https://``."""
    with EvilProvider() as provider:
        provider.id_token_claims = {"iss": GOOGLE_ISS}
        yield provider


def github_constants(provider: EvilProvider, **changes: Any) -> OAuth2Constants:
    """What a GitHub preset gives: explicit endpoints, no discovery, commas."""
    settings: dict[str, Any] = {
        "client_id": provider.client_id,
        "authz_server_host": provider.issuer,
        "discovery": False,
        "authorization_endpoint": provider.url("authorize"),
        "token_endpoint": provider.url("token"),
        "device_authorization_endpoint": provider.url("device_authorization"),
        "scope": "read:user repo",
        "scope_separator": ",",
        "login_timeout": 5.0,
        "http_timeout": 2.0,
        **changes,
    }
    return OAuth2Constants(**settings)


def web_constants(provider: EvilProvider, **changes: Any) -> OAuth2Constants:
    return github_constants(
        provider,
        client_secret=SECRET,
        token_endpoint_auth_method="client_secret_post",
        **changes,
    )


def oidc_constants(provider: EvilProvider, **changes: Any) -> OAuth2Constants:
    settings: dict[str, Any] = {
        "client_id": provider.client_id,
        "authz_server_host": provider.issuer,
        "login_timeout": 5.0,
        "http_timeout": 2.0,
        **changes,
    }
    return OAuth2Constants(**settings)


def browser_login(
    constants: OAuth2Constants,
    user: ScriptedUser | None = None,
    notes: list[str] | None = None,
) -> LoginResult:
    return login(
        constants,
        opener=user or ScriptedUser(),
        notify=notes.append if notes is not None else lambda _: None,
    )


def device_login(
    constants: OAuth2Constants,
    sleeps: list[float] | None = None,
    notes: list[str] | None = None,
) -> LoginResult:
    return login(
        constants,
        device=True,
        open_browser=False,
        sleep=sleeps.append if sleeps is not None else lambda _: None,
        notify=notes.append if notes is not None else lambda _: None,
    )


def entry(home: Path) -> dict[str, Any]:
    document = stored(home)
    assert document is not None
    return document


def token_response(body: dict[str, Any]) -> Response:
    return Response(200, JSON, json.dumps(body).encode())


# Explicit endpoints and discovery=False.


def test_discovery_off_needs_the_authorization_and_token_endpoints() -> None:
    with pytest.raises(LocalError) as caught:
        OAuth2Constants("cli", "github.com", scope="repo", discovery=False)
    assert caught.value.code == "invalid_argument"
    assert "authorization_endpoint and token_endpoint" in caught.value.message


def test_discovery_off_with_openid_also_needs_the_jwks_uri() -> None:
    with pytest.raises(LocalError) as caught:
        OAuth2Constants(
            "cli",
            "idp.test",
            discovery=False,
            authorization_endpoint="https://idp.test/authorize",
            token_endpoint="https://idp.test/token",
        )
    assert caught.value.message == "discovery is off, so jwks_uri must be set"


def test_a_scope_separator_other_than_space_or_comma_is_refused() -> None:
    with pytest.raises(LocalError) as caught:
        OAuth2Constants("cli", "idp.test", scope_separator=";")
    assert caught.value.code == "invalid_argument"


def test_the_defaults_change_nothing_for_existing_clients() -> None:
    constants = OAuth2Constants("cli", "idp.test")
    assert constants.discovery is True
    assert constants.id_token_issuers == ()
    assert constants.scope_separator == " "
    assert set(constants.endpoint_overrides.values()) == {None}


def test_explicit_endpoints_are_checked_like_discovered_ones() -> None:
    constants = OAuth2Constants(
        "cli",
        "github.com",
        scope="repo",
        discovery=False,
        authorization_endpoint="http://github.com/login/oauth/authorize",
        token_endpoint="https://github.com/login/oauth/access_token",
    )
    with HTTP(timeout=1) as http, pytest.raises(ValidationError) as caught:
        provider_metadata(http, constants, lambda _: None)
    assert caught.value.code == "insecure_url"


def test_an_explicit_endpoint_wins_over_the_discovered_one(
    google: EvilProvider, oauthcli_home: Path
) -> None:
    with EvilProvider() as elsewhere:
        browser_login(
            oidc_constants(
                google,
                id_token_issuers=(GOOGLE_ISS,),
                revocation_endpoint=elsewhere.url("revoke"),
            )
        )
        result = logout("default")
        assert result.revoked
        assert len(elsewhere.revoked) == 2
    assert google.revoked == []
    assert google.requests("discovery")  # discovery was still used


# GitHub: the browser flow.


def test_a_github_login_uses_no_discovery_and_keeps_a_token_without_expiry(
    github: EvilProvider, oauthcli_home: Path
) -> None:
    notes: list[str] = []
    result = browser_login(web_constants(github), notes=notes)

    assert github.endpoints() == ["authorize", "token"]
    authorize = github.requests("authorize")[0].query
    assert "nonce" not in authorize
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["scope"] == "read:user repo"
    token_request = github.requests("token")[0]
    assert token_request.headers["accept"] == "application/json"
    assert token_request.form["client_secret"] == SECRET
    assert not any("discovery" in note for note in notes)

    tokens = result.tokens
    assert tokens.access_token.startswith("gho_")
    assert tokens.token_type == "Bearer"
    assert tokens.scope == "read:user repo"
    assert (tokens.expires_at, tokens.refresh_token, tokens.id_token) == (
        None,
        None,
        None,
    )
    assert result.issuer == github.issuer


def test_a_github_token_of_unknown_expiry_is_handed_out_until_refused(
    github: EvilProvider, oauthcli_home: Path
) -> None:
    access_token = browser_login(web_constants(github)).tokens.access_token
    assert get_token(min_ttl=86400) == access_token
    assert get_token_set().access_token == access_token
    with pytest.raises(LoginRequired) as caught:
        get_token_set(rejected=access_token)
    assert "refused and there is no refresh token" in caught.value.message
    assert github.endpoints() == ["authorize", "token"]  # no refresh was tried


def test_an_api_401_without_a_challenge_makes_httpx_auth_ask_for_a_login(
    github: EvilProvider, oauthcli_home: Path
) -> None:
    browser_login(web_constants(github))
    with httpx.Client(auth=BearerAuth(), trust_env=False, timeout=5) as client:
        assert client.get(github.url("api_user")).json()["login"] == "alice"
        github.forget_tokens()  # the user revoked the app at GitHub
        with pytest.raises(LoginRequired):
            client.get(github.url("api_user"))


def test_an_api_401_without_a_challenge_makes_requests_auth_ask_for_a_login(
    github: EvilProvider, oauthcli_home: Path
) -> None:
    browser_login(web_constants(github))
    github.forget_tokens()
    with requests.Session() as session:
        session.trust_env = False
        with pytest.raises(LoginRequired):
            session.get(github.url("api_user"), auth=RequestsBearerAuth(), timeout=5)


def test_a_401_is_a_refused_token_when_it_has_no_challenge_at_all() -> None:
    assert is_invalid_token(401, {}) is True
    assert is_invalid_token(401, {"www-authenticate": " "}) is True
    assert is_invalid_token(401, {"www-authenticate": 'Bearer realm="api"'}) is False


def test_logging_out_of_github_deletes_the_login_and_says_the_token_stays_valid(
    github: EvilProvider, oauthcli_home: Path
) -> None:
    browser_login(web_constants(github))
    result = logout("default")
    assert (result.deleted, result.revoked) == (True, False)
    assert result.problems == [
        "the provider has no revocation endpoint; the tokens stay valid until "
        "they expire or you revoke them at the provider"
    ]
    assert stored(oauthcli_home) is None


# GitHub: scopes.


def test_a_required_scope_is_found_in_a_comma_separated_grant(
    github: EvilProvider, oauthcli_home: Path
) -> None:
    result = browser_login(web_constants(github, required_scopes=("repo",)))
    assert result.tokens.scope == "read:user repo"
    assert entry(oauthcli_home)["tokens"]["scope"] == "read:user repo"


def test_a_required_scope_missing_from_a_comma_separated_grant_is_named(
    github: EvilProvider, oauthcli_home: Path
) -> None:
    github.token_overrides = {"scope": "read:user,gist"}
    with pytest.raises(ValidationError) as caught:
        browser_login(web_constants(github, required_scopes=("repo", "gist")))
    assert caught.value.code == "missing_scope"
    assert caught.value.message.endswith(": repo")
    assert stored(oauthcli_home) is None


def test_without_the_comma_separator_a_comma_is_part_of_the_scope(
    github: EvilProvider, oauthcli_home: Path
) -> None:
    with pytest.raises(ValidationError) as caught:
        browser_login(
            web_constants(github, scope_separator=" ", required_scopes=("repo",))
        )
    assert caught.value.code == "missing_scope"
    tokens = parse_token_response(
        token_response({"access_token": "a", "token_type": "bearer", "scope": "a,b"}),
        requested_scope=None,
    )
    assert tokens.scope == "a,b"


def test_the_comma_separator_tolerates_spaces_and_empty_items() -> None:
    answer = {"access_token": "a", "token_type": "bearer", "scope": " repo, ,gist,"}
    tokens = parse_token_response(
        token_response(answer), requested_scope=None, scope_separator=","
    )
    assert tokens.scope == "repo gist"


# GitHub: errors with HTTP 200 and form-encoded answers.


def test_wrong_client_credentials_answered_with_200_are_a_provider_error(
    github: EvilProvider, oauthcli_home: Path
) -> None:
    with pytest.raises(EndpointError) as caught:
        browser_login(github_constants(github, client_secret="wrong"))
    error = caught.value
    assert (error.error, error.status_code) == ("incorrect_client_credentials", 200)
    assert error.code == "incorrect_client_credentials"
    assert stored(oauthcli_home) is None


def test_a_bad_verification_code_names_the_redirect_uri_that_was_sent(
    github: EvilProvider, oauthcli_home: Path
) -> None:
    user = ScriptedUser(Plan(callbacks=[[("set", "code", "not-a-code")]]))
    with pytest.raises(EndpointError) as caught:
        browser_login(web_constants(github), user)
    assert caught.value.error == "bad_verification_code"
    assert "redirect_uri sent: http://127.0.0.1:" in caught.value.message
    assert stored(oauthcli_home) is None


def test_the_github_like_provider_answers_forms_unless_json_is_accepted(
    github_device: EvilProvider,
) -> None:
    form = {"client_id": github_device.client_id, "scope": "repo"}
    url = github_device.url("device_authorization")
    with httpx.Client(trust_env=False, timeout=5) as client:
        plain = client.post(url, data=form)
        asked = client.post(url, data=form, headers={"Accept": "application/json"})
    assert plain.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert asked.json()["interval"] == 5


def test_a_form_encoded_token_answer_is_an_error_naming_its_content_type(
    github: EvilProvider, oauthcli_home: Path
) -> None:
    github.form_encoded = True  # as if a proxy dropped the Accept header
    with pytest.raises(ValidationError) as caught:
        browser_login(web_constants(github))
    error = caught.value
    assert error.code == "invalid_token_response"
    assert error.message == (
        "the token endpoint answered with application/x-www-form-urlencoded, not "
        "a JSON object although oauthcli asked for application/json (Accept)"
    )
    assert not any(secret in error.message for secret in github.secrets())
    assert stored(oauthcli_home) is None


# GitHub: the device flow.


def test_a_github_device_login_polls_through_pending_and_slow_down_answers(
    github_device: EvilProvider, oauthcli_home: Path
) -> None:
    github_device.device_answers = [
        "authorization_pending",
        "slow_down",
        "authorization_pending",
    ]
    sleeps: list[float] = []
    notes: list[str] = []
    result = device_login(github_constants(github_device), sleeps, notes)

    assert sleeps == [5.0, 5.0, 10.0, 10.0]
    assert github_device.endpoints() == ["device_authorization"] + ["token"] * 4
    device_request = github_device.requests("device_authorization")[0]
    assert device_request.form == {
        "client_id": github_device.client_id,
        "scope": "read:user repo",
    }
    shown = "\n".join(notes)
    assert f"visit {github_device.base}/login/device" in shown
    assert "WDJB-MJHT" in shown
    assert "includes the code" not in shown  # no verification_uri_complete
    assert result.tokens.scope == "read:user repo"
    assert result.tokens.expires_at is None
    assert entry(oauthcli_home)["settings"]["device"] is True


@pytest.mark.parametrize("error", ["access_denied", "expired_token"])
def test_a_github_device_login_ends_at_once_on_a_final_error_sent_with_200(
    github_device: EvilProvider, oauthcli_home: Path, error: str
) -> None:
    github_device.device_answers = ["authorization_pending", error]
    with pytest.raises(EndpointError) as caught:
        device_login(github_constants(github_device))
    assert (caught.value.error, caught.value.status_code) == (error, 200)
    assert len(github_device.requests("token")) == 2
    assert stored(oauthcli_home) is None


def test_a_device_login_without_discovery_needs_the_device_endpoint(
    github_device: EvilProvider, oauthcli_home: Path
) -> None:
    constants = github_constants(github_device, device_authorization_endpoint=None)
    with pytest.raises(ValidationError) as caught:
        device_login(constants)
    assert caught.value.code == "unsupported"
    assert "no device_authorization_endpoint is configured" in caught.value.message
    assert github_device.endpoints() == []


# Google: ID tokens whose iss is an alias of the issuer.


def test_an_id_token_from_an_issuer_alias_is_refused_by_default(
    google: EvilProvider, oauthcli_home: Path
) -> None:
    with pytest.raises(ValidationError) as caught:
        browser_login(oidc_constants(google))
    assert caught.value.code == "invalid_id_token"
    assert "iss is not the provider's issuer" in caught.value.message
    assert stored(oauthcli_home) is None


def test_an_id_token_from_a_configured_issuer_alias_is_accepted(
    google: EvilProvider, oauthcli_home: Path
) -> None:
    result = browser_login(oidc_constants(google, id_token_issuers=(GOOGLE_ISS,)))
    assert result.account.sub == "alice"
    assert result.issuer == google.issuer


@pytest.mark.parametrize(
    "iss",
    ["https://accounts.google.com", "ACCOUNTS.GOOGLE.COM", "accounts.google.com/"],
)
def test_an_issuer_alias_matches_only_as_the_exact_string(
    google: EvilProvider, oauthcli_home: Path, iss: str
) -> None:
    google.id_token_claims = {"iss": iss}
    with pytest.raises(ValidationError) as caught:
        browser_login(oidc_constants(google, id_token_issuers=(GOOGLE_ISS,)))
    assert caught.value.code == "invalid_id_token"


def test_an_issuer_alias_does_not_relax_the_discovery_issuer_check(
    google: EvilProvider, oauthcli_home: Path
) -> None:
    google.metadata_overrides = {"issuer": GOOGLE_ISS}
    with pytest.raises(ValidationError) as caught:
        browser_login(oidc_constants(google, id_token_issuers=(GOOGLE_ISS,)))
    assert caught.value.code == "issuer_mismatch"
    assert google.requests("authorize") == []


# The store: a later refresh and logout use the same settings.


def test_the_quirks_survive_a_refresh_and_a_logout_through_the_store(
    google: EvilProvider, oauthcli_home: Path
) -> None:
    google.token_overrides = {"scope": "openid,profile"}
    google.refresh_overrides = {"scope": "openid,email"}
    constants = oidc_constants(
        google,
        discovery=False,
        authorization_endpoint=google.url("authorize"),
        token_endpoint=google.url("token"),
        jwks_uri=google.url("jwks"),
        revocation_endpoint=google.url("revoke"),
        userinfo_endpoint=google.url("userinfo"),
        device_authorization_endpoint=google.url("device_authorization"),
        id_token_issuers=(GOOGLE_ISS,),
        scope_separator=",",
        scope="openid profile",
    )
    login_tokens = browser_login(constants).tokens
    assert login_tokens.scope == "openid profile"

    settings = entry(oauthcli_home)["settings"]
    options = provider_options(settings)
    assert options == {
        **constants.endpoint_overrides,
        "discovery": False,
        "id_token_issuers": (GOOGLE_ISS,),
        "scope_separator": ",",
    }
    again = OAuth2Constants(settings["client_id"], settings["issuer"], **options)
    assert again.endpoint_overrides == constants.endpoint_overrides

    fresh = get_token_set(rejected=login_tokens.access_token)
    assert fresh.access_token != login_tokens.access_token
    assert fresh.scope == "openid email"
    assert fresh.id_token != login_tokens.id_token  # the alias passed again
    after_refresh = read_entry("default")
    assert after_refresh is not None
    assert after_refresh["settings"] == settings
    assert after_refresh["tokens"]["scope"] == "openid email"

    result = logout("default")
    assert (result.deleted, result.revoked, result.problems) == (True, True, [])
    assert google.revoked == [fresh.refresh_token, fresh.access_token]
    endpoints = set(google.endpoints())
    assert {"discovery", "discovery_rfc8414"}.isdisjoint(endpoints)
    assert endpoints == {"authorize", "token", "jwks", "revoke"}


def test_the_default_settings_are_stored_as_before(
    google: EvilProvider, oauthcli_home: Path
) -> None:
    browser_login(oidc_constants(google, id_token_issuers=(GOOGLE_ISS,)))
    settings = entry(oauthcli_home)["settings"]
    quirks = ("discovery", "scope_separator", "token_endpoint", "jwks_uri")
    assert not any(name in settings for name in quirks)
    assert settings["id_token_issuers"] == [GOOGLE_ISS]
