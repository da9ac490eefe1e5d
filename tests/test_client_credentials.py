"""The client credentials grant (RFC 6749 section 4.4): CI machines.

Requests and answers are checked without a network first; then ``oauthcli``
runs as a CI job runs it, against the real provider: a profile in
config.toml (or only ``OAUTHCLI_*`` variables), the secret in
``OAUTHCLI_CLIENT_SECRET``, ``oauthcli token`` without a login.
``private_key_jwt`` clients get keys made for this test run.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from clirun import cli_env, oauthcli, stored
from localprovider import (
    CI_SECRET_BASIC,
    CI_SECRET_POST,
    DEFAULT_CLIENTS,
    LocalProvider,
)
from oauthcli import get_token_set
from oauthcli.client_credentials import (
    ClientCredentials,
    grant_request,
    parse_grant_response,
    resolve,
)
from oauthcli.errors import EndpointError, LocalError
from oauthcli.transport import Response

TOKEN_ENDPOINT = "https://login.example.test/oauth/token"


def _credentials(**changes: Any) -> ClientCredentials:
    values: dict[str, Any] = {
        "issuer": "https://login.example.test",
        "client_id": "ci-machine",
        "client_secret": "not-a-real-secret",
    }
    return ClientCredentials(**{**values, **changes})


def _answer(document: Mapping[str, Any], status: int = 200) -> Response:
    return Response(
        status, {"content-type": "application/json"}, json.dumps(document).encode()
    )


# Requests and answers, without a network.


def test_client_secret_basic_sends_the_secret_only_in_the_header() -> None:
    form, headers = grant_request(_credentials(), TOKEN_ENDPOINT)

    assert form == {"grant_type": "client_credentials"}
    scheme, _, encoded = headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded) == b"ci-machine:not-a-real-secret"


def test_a_grant_with_client_secret_post_sends_id_and_secret_in_the_body() -> None:
    credentials = _credentials(token_endpoint_auth_method="client_secret_post")

    form, headers = grant_request(credentials, TOKEN_ENDPOINT)

    assert headers == {}
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "ci-machine",
        "client_secret": "not-a-real-secret",
    }


def test_a_grant_sends_scope_audience_and_extra_parameters() -> None:
    credentials = _credentials(
        scope="api:read",
        audience="https://api.example.test",
        extra_params={"resource": "https://api.example.test/v1"},
    )

    form, _ = grant_request(credentials, TOKEN_ENDPOINT)

    assert form == {
        "grant_type": "client_credentials",
        "scope": "api:read",
        "audience": "https://api.example.test",
        "resource": "https://api.example.test/v1",
    }


@pytest.mark.parametrize("name", ["grant_type", "scope", "client_secret"])
def test_an_extra_parameter_cannot_override_what_oauthcli_sends(name: str) -> None:
    credentials = _credentials(
        scope="api:read",
        token_endpoint_auth_method="client_secret_post",
        extra_params={name: "other"},
    )

    with pytest.raises(LocalError, match=f"parameter '{name}' is set by oauthcli"):
        grant_request(credentials, TOKEN_ENDPOINT)


def test_a_client_without_a_secret_is_told_where_to_put_it() -> None:
    with pytest.raises(LocalError, match="set OAUTHCLI_CLIENT_SECRET") as caught:
        _credentials(client_secret=None)
    assert caught.value.code == "invalid_argument"


def test_a_public_client_cannot_use_the_client_credentials_grant() -> None:
    with pytest.raises(LocalError, match="confidential clients only"):
        _credentials(token_endpoint_auth_method="none")


def test_private_key_jwt_needs_a_key() -> None:
    with pytest.raises(LocalError, match="needs client_assertion_key"):
        _credentials(client_secret=None, token_endpoint_auth_method="private_key_jwt")


def test_a_key_without_a_secret_means_private_key_jwt() -> None:
    credentials = _credentials(client_secret=None, client_assertion_key="/k.pem")

    assert credentials.auth_method == "private_key_jwt"


def test_the_settings_kept_in_the_store_never_hold_the_secret() -> None:
    credentials = _credentials(scope="api:read")

    settings = credentials.settings()

    assert "not-a-real-secret" not in json.dumps(settings)
    assert "not-a-real-secret" not in repr(credentials)
    assert settings["grant_type"] == "client_credentials"
    assert settings["token_endpoint_auth_method"] == "client_secret_basic"


def test_a_refresh_or_id_token_in_the_answer_is_not_kept() -> None:
    answer = _answer(
        {
            "access_token": "machine-token",
            "token_type": "Bearer",
            "expires_in": 600,
            "refresh_token": "should-not-be-here",
            "id_token": "nor-this",
        }
    )

    tokens = parse_grant_response(answer, _credentials(), now=1000.0)

    assert tokens.access_token == "machine-token"
    assert tokens.expires_at == 1600.0
    assert tokens.refresh_token is None
    assert tokens.id_token is None


def test_an_error_answer_keeps_the_rfc_fields() -> None:
    answer = _answer({"error": "invalid_client", "error_description": "no"}, 401)

    with pytest.raises(EndpointError) as caught:
        parse_grant_response(answer, _credentials())

    assert caught.value.error == "invalid_client"
    assert caught.value.status_code == 401


# The CLI against the real provider.


def _write_config(home: Path, text: str) -> None:
    config = home / "config.toml"
    config.write_text(text, encoding="utf-8")
    config.chmod(0o600)


def _ci_profile(
    provider: LocalProvider, home: Path, client_id: str = "ci-machine", **more: object
) -> None:
    lines = [
        "[profiles.ci]",
        f'issuer = "{provider.issuer}"',
        f'client_id = "{client_id}"',
        'grant_type = "client_credentials"',
        *(f"{key} = {json.dumps(value)}" for key, value in more.items()),
    ]
    _write_config(home, "\n".join(lines) + "\n")


def _ci_env(home: Path, secret: str = CI_SECRET_BASIC) -> dict[str, str]:
    # No BROWSER: a machine has none, and nothing may try to open one.
    env = cli_env(home, None, OAUTHCLI_CLIENT_SECRET=secret)
    env.pop("BROWSER", None)
    return env


@pytest.fixture
def env(provider: LocalProvider, oauthcli_home: Path) -> dict[str, str]:
    """A CI job's environment: profile ci in config.toml, the secret in a variable."""
    _ci_profile(provider, oauthcli_home)
    return _ci_env(oauthcli_home)


def _token(env: Mapping[str, str], *args: str) -> str:
    result = oauthcli("token", "--profile", "ci", *args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.removesuffix("\n")


def test_ci_token_without_a_login_gets_an_active_token_and_stores_no_secret(
    provider: LocalProvider, oauthcli_home: Path, env: dict[str, str]
) -> None:
    grants = provider.count_grants("client_credentials", client_id="ci-machine")

    token = _token(env)

    answer = provider.introspect(token)
    assert answer["active"] is True
    assert answer["client_id"] == "ci-machine"
    assert "sub" not in answer  # no user
    assert provider.count_grants("client_credentials", client_id="ci-machine") == (
        grants + 1
    )
    store_file = oauthcli_home / "profiles" / "ci.json"
    assert CI_SECRET_BASIC not in store_file.read_text()
    assert oct(store_file.stat().st_mode)[-3:] == "600"
    document = stored(oauthcli_home, "ci")
    assert document is not None
    assert document["settings"]["grant_type"] == "client_credentials"
    assert document["account"] == {"sub": "ci-machine", "name": "client ci-machine"}


def test_ci_token_again_hands_out_the_stored_token_without_a_grant(
    provider: LocalProvider, env: dict[str, str]
) -> None:
    first = _token(env)
    grants = provider.count_grants("client_credentials", client_id="ci-machine")

    assert _token(env) == first
    assert _token(env, "--format", "json").startswith('{"access_token": ')
    assert provider.count_grants("client_credentials", client_id="ci-machine") == (
        grants
    )


def _expire(home: Path, left: float = -10, lifetime: float = 600) -> None:
    """Make the stored token one of ``lifetime`` s with ``left`` s to go."""
    path = home / "profiles" / "ci.json"
    document = json.loads(path.read_text())
    expires_at = time.time() + left
    document["tokens"].update(expires_at=expires_at, obtained_at=expires_at - lifetime)
    path.write_text(json.dumps(document))


def test_an_expired_token_gets_a_new_grant_not_a_refresh(
    provider: LocalProvider, oauthcli_home: Path, env: dict[str, str]
) -> None:
    first = _token(env)
    _expire(oauthcli_home)
    grants = provider.count_grants("client_credentials", client_id="ci-machine")
    refreshes = provider.count_grants("refresh_token")

    second = _token(env)

    assert second != first
    assert provider.introspect(second)["active"] is True
    assert provider.count_grants("client_credentials", client_id="ci-machine") == (
        grants + 1
    )
    assert provider.count_grants("refresh_token") == refreshes


def test_min_ttl_decides_when_a_new_grant_is_made(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    _ci_profile(provider, oauthcli_home, min_ttl=60)
    env = _ci_env(oauthcli_home)
    first = _token(env)
    _expire(oauthcli_home, left=120)

    assert _token(env) == first  # more than min_ttl left
    assert _token(env, "--min-ttl", "300") != first


def test_concurrent_token_calls_make_one_grant(
    provider: LocalProvider, env: dict[str, str]
) -> None:
    grants = provider.count_grants("client_credentials", client_id="ci-machine")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        tokens = list(pool.map(lambda _: _token(env), range(4)))

    assert len(set(tokens)) == 1
    assert provider.count_grants("client_credentials", client_id="ci-machine") == (
        grants + 1
    )


def test_a_profile_from_variables_alone_needs_no_config_file(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    env = _ci_env(oauthcli_home)
    env.update(
        OAUTHCLI_ISSUER=provider.issuer,
        OAUTHCLI_CLIENT_ID="ci-machine",
        OAUTHCLI_GRANT_TYPE="client_credentials",
    )

    result = oauthcli("token", env=env)

    assert result.returncode == 0, result.stderr
    assert provider.introspect(result.stdout.strip())["active"] is True
    assert stored(oauthcli_home, "default") is not None


def test_client_secret_post_and_a_resource_indicator(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    _write_config(
        oauthcli_home,
        f"""[profiles.ci]
issuer = "{provider.issuer}"
client_id = "ci-machine-post"
grant_type = "client_credentials"
token_endpoint_auth_method = "client_secret_post"
scope = "api:read"
param = {{ resource = "https://api.example.test" }}
""",
    )
    env = _ci_env(oauthcli_home, CI_SECRET_POST)

    answer = provider.introspect(_token(env))

    assert answer["active"] is True
    assert answer["aud"] == "https://api.example.test"
    assert answer["scope"] == "api:read"


def test_a_wrong_secret_is_invalid_client_and_is_never_printed(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    _ci_profile(provider, oauthcli_home)
    env = _ci_env(oauthcli_home, "wrong-secret-value")

    result = oauthcli("token", "--profile", "ci", env=env)

    assert result.returncode == 1
    assert "invalid_client" in result.stderr
    assert "wrong-secret-value" not in result.stderr + result.stdout
    assert stored(oauthcli_home, "ci") is None


def test_a_missing_secret_is_a_usage_error_that_names_the_variable(
    env: dict[str, str],
) -> None:
    del env["OAUTHCLI_CLIENT_SECRET"]

    result = oauthcli("token", "--profile", "ci", env=env)

    assert result.returncode == 2
    assert "OAUTHCLI_CLIENT_SECRET" in result.stderr


def test_login_for_a_ci_profile_gets_a_new_token_without_a_browser(
    env: dict[str, str],
) -> None:
    first = _token(env)

    result = oauthcli("login", "--profile", "ci", env=env)

    assert result.returncode == 0, result.stderr
    assert "Got a token for client 'ci-machine'" in result.stderr
    assert result.stdout == ""
    assert _token(env) != first  # login always makes a new grant


def test_login_with_flags_alone_then_token_reuses_the_stored_settings(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    env = _ci_env(oauthcli_home)
    result = oauthcli(
        "login",
        "--profile",
        "ci",
        "--issuer",
        provider.issuer,
        "--client-id",
        "ci-machine",
        "--grant-type",
        "client_credentials",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    _expire(oauthcli_home)

    assert provider.introspect(_token(env))["active"] is True


def test_status_shows_a_ci_profile_as_logged_in_without_refresh(
    oauthcli_home: Path, env: dict[str, str]
) -> None:
    _token(env)
    _expire(oauthcli_home)

    text = oauthcli("status", "--profile", "ci", env=env)
    report = oauthcli("status", "--profile", "ci", "--format", "json", env=env)

    assert text.returncode == 0, text.stderr
    assert "Account:   client ci-machine" in text.stdout
    assert "a new client credentials grant" in text.stdout
    assert json.loads(report.stdout)["grant_type"] == "client_credentials"
    assert json.loads(report.stdout)["logged_in"] is True


def test_logout_revokes_the_machine_token_and_forgets_it(
    provider: LocalProvider, oauthcli_home: Path, env: dict[str, str]
) -> None:
    token = _token(env)

    result = oauthcli("logout", "--profile", "ci", env=env)

    assert result.returncode == 0, result.stderr
    assert "revoked" in result.stderr
    assert provider.introspect(token)["active"] is False
    assert stored(oauthcli_home, "ci") is None


def test_the_library_renews_a_token_a_resource_server_refused(
    provider: LocalProvider, oauthcli_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ci_profile(provider, oauthcli_home)
    monkeypatch.setenv("OAUTHCLI_CLIENT_SECRET", CI_SECRET_BASIC)
    first = get_token_set("ci")

    again = get_token_set("ci")
    renewed = get_token_set("ci", rejected=first.access_token)

    assert again.access_token == first.access_token
    assert renewed.access_token != first.access_token
    assert renewed.refresh_token is None


# private_key_jwt (RFC 7523), with keys made for this run.


def _pem(key: Any) -> bytes:
    data: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return data


def _public_jwk(key: Any, kid: str) -> dict[str, Any]:
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig"}


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec": ec.generate_private_key(ec.SECP256R1()),
        "stranger": ec.generate_private_key(ec.SECP256R1()),
    }


@pytest.fixture(scope="module")
def jwt_provider(
    tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Any]
) -> Iterator[LocalProvider]:
    """The default clients and two private_key_jwt machines."""
    machines = [
        {
            "client_id": f"ci-{name}-key",
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["client_credentials"],
            "response_types": [],
            "redirect_uris": [],
            "jwks": {"keys": [_public_jwk(keys[name], f"{name}-1")]},
        }
        for name in ("rsa", "ec")
    ]
    workdir = tmp_path_factory.mktemp("jwt-provider")
    with LocalProvider.start(workdir, [*DEFAULT_CLIENTS, *machines]) as running:
        yield running


def _key_file(home: Path, key: Any) -> Path:
    path = home / "ci-key.pem"
    path.write_bytes(_pem(key))
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("name", ["rsa", "ec"])
def test_private_key_jwt_gets_a_token_with_a_signed_assertion(
    jwt_provider: LocalProvider, oauthcli_home: Path, keys: dict[str, Any], name: str
) -> None:
    key_file = _key_file(oauthcli_home, keys[name])
    _ci_profile(
        jwt_provider,
        oauthcli_home,
        f"ci-{name}-key",
        client_assertion_key=str(key_file),
        client_assertion_kid=f"{name}-1",
    )
    env = _ci_env(oauthcli_home)
    del env["OAUTHCLI_CLIENT_SECRET"]

    first = _token(env)
    _expire(oauthcli_home)
    second = _token(env)  # a new assertion: each jti is used once

    assert first != second
    assert jwt_provider.introspect(second)["active"] is True
    document = stored(oauthcli_home, "ci")
    assert document is not None
    assert document["settings"]["token_endpoint_auth_method"] == "private_key_jwt"
    assert "PRIVATE KEY" not in json.dumps(document)


def test_private_key_jwt_with_a_key_the_provider_does_not_know_is_refused(
    jwt_provider: LocalProvider, oauthcli_home: Path, keys: dict[str, Any]
) -> None:
    key_file = _key_file(oauthcli_home, keys["stranger"])
    _ci_profile(
        jwt_provider, oauthcli_home, "ci-ec-key", client_assertion_key=str(key_file)
    )
    env = _ci_env(oauthcli_home)
    del env["OAUTHCLI_CLIENT_SECRET"]

    result = oauthcli("token", "--profile", "ci", env=env)

    assert result.returncode == 1
    assert "invalid_client" in result.stderr


def test_a_key_file_others_can_read_is_refused_before_any_request(
    jwt_provider: LocalProvider, oauthcli_home: Path, keys: dict[str, Any]
) -> None:
    key_file = _key_file(oauthcli_home, keys["ec"])
    key_file.chmod(0o644)
    _ci_profile(
        jwt_provider, oauthcli_home, "ci-ec-key", client_assertion_key=str(key_file)
    )
    env = _ci_env(oauthcli_home)
    del env["OAUTHCLI_CLIENT_SECRET"]
    grants = jwt_provider.count_grants("client_credentials", error=True)

    result = oauthcli("token", "--profile", "ci", env=env)

    assert result.returncode == 2
    assert "chmod 600" in result.stderr
    assert jwt_provider.count_grants("client_credentials", error=True) == grants


def test_a_relative_key_path_is_relative_to_the_config_file(
    oauthcli_home: Path,
) -> None:
    _write_config(
        oauthcli_home,
        """[profiles.ci]
issuer = "https://login.example.test"
client_id = "ci-machine"
grant_type = "client_credentials"
client_assertion_key = "keys/ci.pem"
""",
    )

    credentials = resolve("ci", environ={})

    assert credentials.client_assertion_key == str(oauthcli_home / "keys" / "ci.pem")
    assert credentials.auth_method == "private_key_jwt"


def test_logout_without_the_secret_forgets_the_token_and_says_why_not_revoked(
    provider: LocalProvider, oauthcli_home: Path, env: dict[str, str]
) -> None:
    token = _token(env)
    del env["OAUTHCLI_CLIENT_SECRET"]

    result = oauthcli("logout", "--profile", "ci", env=env)

    assert result.returncode == 1
    assert "OAUTHCLI_CLIENT_SECRET" in result.stderr
    assert stored(oauthcli_home, "ci") is None
    assert provider.introspect(token)["active"] is True  # not revoked


def test_logout_and_exchange_never_send_a_secret_to_another_issuers_client(
    oauthcli_home: Path,
) -> None:
    """The stored token is ci-a's at one issuer; config.toml now names ci-b at
    another, with ci-b's secret in the environment: that secret must not go
    to the stored issuer's token or revocation endpoint (RFC 6749 §2.3.1)."""
    from evilprovider import EvilProvider
    from oauthcli.store import write_entry

    with EvilProvider() as op:
        now = time.time()
        write_entry(
            "ci",
            {
                "settings": {
                    "issuer": op.issuer,
                    "client_id": "ci-a",
                    "grant_type": "client_credentials",
                    "token_endpoint_auth_method": "client_secret_basic",
                    "store": "file",
                },
                "provider": {
                    "issuer": op.issuer,
                    "authorization_endpoint": "",
                    "token_endpoint": op.url("token"),
                    "revocation_endpoint": op.url("revoke"),
                },
                "account": {"sub": "ci-a", "name": "client ci-a"},
                "tokens": {
                    "access_token": "token-from-a",
                    "token_type": "Bearer",
                    "expires_at": now + 3000,
                    "obtained_at": now,
                },
                "saved_at": now,
            },
        )
        config = oauthcli_home / "config.toml"
        config.write_text(
            '[profiles.ci]\nissuer = "https://b.example"\nclient_id = "ci-b"\n'
            'grant_type = "client_credentials"\n'
        )
        config.chmod(0o600)
        env = cli_env(oauthcli_home, None, OAUTHCLI_CLIENT_SECRET="secret-of-b")

        exchange = oauthcli("exchange", "--profile", "ci", "--audience", "x", env=env)
        logout = oauthcli("logout", "--profile", "ci", env=env)

        sent = [request.headers.get("authorization", "") for request in op.requests()]
    assert exchange.returncode != 0
    assert logout.returncode == 1  # forgotten, not revoked: it says why
    assert stored(oauthcli_home, "ci") is None
    assert base64.b64encode(b"ci-a:secret-of-b").decode() not in " ".join(sent)
    assert not any("secret-of-b" in value for value in sent)
