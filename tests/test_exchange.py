"""Token exchange (RFC 8693): ``oauthcli exchange`` and ``login(exchange=...)``.

Requests and answers are checked without a network first. Then the real
provider (its token exchange grant is in tests/provider/server.mjs) trades
real logins' tokens, and the malicious provider answers what a broken or
hostile one might: no ``issued_token_type``, a token type nobody asked for,
an unknown ``token_type``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from clirun import cli_env, log_in, oauthcli, stored
from evilprovider import Canned, EvilProvider, ScriptedUser
from localprovider import CI_SECRET_BASIC, HTTP_USER, LocalProvider
from oauthcli import (
    EndpointError,
    ExchangedToken,
    LoginRequired,
    OAuth2Constants,
    TokenExchange,
    ValidationError,
    exchange_token,
    login,
)
from oauthcli.errors import LocalError
from oauthcli.exchange import (
    GRANT_TYPE,
    TOKEN_TYPES,
    exchange_request,
    parse_exchange_response,
    token_type_uri,
)
from oauthcli.transport import Response

ACCESS = TOKEN_TYPES["access_token"]
ID = TOKEN_TYPES["id_token"]
PLATFORM = "https://platform.example.test"


def _answer(document: Mapping[str, Any], status: int = 200) -> Response:
    return Response(
        status, {"content-type": "application/json"}, json.dumps(document).encode()
    )


def _issued(**changes: Any) -> dict[str, Any]:
    return {
        "access_token": "platform-token",
        "issued_token_type": ACCESS,
        "token_type": "Bearer",
        "expires_in": 300,
        **changes,
    }


# Requests and answers, without a network.


def test_the_request_names_the_subject_and_what_is_wanted() -> None:
    exchange = TokenExchange(
        audience="platform",
        resource="https://api.example.test/v1",
        scope="api:read",
        requested_token_type="access_token",
        subject_token_type="id_token",
    )

    form = exchange_request("the-id-token", exchange)

    assert form == {
        "grant_type": GRANT_TYPE,
        "subject_token": "the-id-token",
        "subject_token_type": ID,
        "requested_token_type": ACCESS,
        "audience": "platform",
        "resource": "https://api.example.test/v1",
        "scope": "api:read",
    }


def test_a_bare_request_sends_only_what_rfc_8693_requires() -> None:
    assert exchange_request("t", TokenExchange()) == {
        "grant_type": GRANT_TYPE,
        "subject_token": "t",
        "subject_token_type": ACCESS,
    }


def test_token_types_take_short_names_or_uris() -> None:
    assert token_type_uri("jwt") == "urn:ietf:params:oauth:token-type:jwt"
    assert token_type_uri("urn:example:token") == "urn:example:token"
    with pytest.raises(LocalError, match="not one of"):
        token_type_uri("platform token")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"subject_token_type": "refresh_token"}, "subject_token_type must be"),
        ({"resource": "/relative"}, "absolute URI"),
        ({"resource": "https://api.example.test/#frag"}, "without a fragment"),
        ({"resource": "https://[::1"}, "absolute URI"),  # urlsplit: ValueError
        ({"audience": " "}, "audience must not be empty"),
        ({"requested_token_type": "bogus"}, "not one of"),
    ],
)
def test_a_request_that_cannot_be_right_is_refused_before_sending(
    changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(LocalError, match=problem):
        TokenExchange(**changes)


def test_an_unparsable_resource_on_the_command_line_is_a_usage_error(
    oauthcli_home: Path,
) -> None:
    run = oauthcli(
        "exchange", "--resource", "https://[::1", env=cli_env(oauthcli_home, None)
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert "resource must be an absolute URI" in run.stderr


def test_an_answer_gives_the_token_its_type_and_lifetime() -> None:
    exchange = TokenExchange(audience="platform", scope="api:read")

    issued = parse_exchange_response(_answer(_issued()), exchange, now=1000.0)

    assert issued.access_token == "platform-token"
    assert issued.issued_token_type == ACCESS
    assert issued.issued_token_type_name == "access_token"
    assert issued.token_type == "Bearer"
    assert issued.expires_at == 1300.0
    assert issued.scope == "api:read"  # section 2.2.1: absent means as requested
    assert "platform-token" not in repr(issued)


def test_a_token_that_is_no_access_token_comes_with_token_type_n_a() -> None:
    answer = _answer(_issued(issued_token_type=TOKEN_TYPES["jwt"], token_type="N_A"))

    issued = parse_exchange_response(answer, TokenExchange(requested_token_type="jwt"))

    assert issued.token_type == "N_A"
    assert issued.issued_token_type_name == "jwt"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"issued_token_type": None}, "no issued_token_type"),
        ({"issued_token_type": "access token"}, "issued_token_type is no URI"),
        ({"token_type": None}, "no token_type"),
        ({"token_type": "mac"}, "not Bearer or N_A"),
        ({"token_type": "DPoP"}, "not Bearer or N_A"),
        ({"token_type": "N_A"}, "access token with token_type N_A"),
        ({"issued_token_type": ID}, "issued a id_token although access_token"),
        ({"access_token": None}, "no access_token"),
        ({"access_token": "bad\x1b[2Jtoken"}, "visible ASCII"),
        ({"expires_in": "soon"}, "expires_in is not a number"),
        ({"scope": ["api:read"]}, "scope is not a string"),
        ({"scope": "api:read\x1b[2J"}, "RFC 6749 section 3.3"),
    ],
)
def test_a_malformed_answer_is_refused_and_its_token_not_used(
    changes: dict[str, Any], problem: str
) -> None:
    document = {k: v for k, v in _issued(**changes).items() if v is not None}
    exchange = TokenExchange(requested_token_type="access_token")

    with pytest.raises(ValidationError, match=problem) as caught:
        parse_exchange_response(_answer(document), exchange)

    assert caught.value.code == "invalid_token_response"
    assert "platform-token" not in caught.value.message


def test_an_error_answer_keeps_the_rfc_fields() -> None:
    answer = _answer(
        {"error": "invalid_target", "error_description": "not served here"}, 400
    )

    with pytest.raises(EndpointError) as caught:
        parse_exchange_response(answer, TokenExchange(audience="elsewhere"))

    assert caught.value.error == "invalid_target"
    assert caught.value.error_description == "not served here"
    assert caught.value.status_code == 400


# The CLI and the library against the real provider.


@pytest.fixture
def user_env(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> dict[str, str]:
    """A user logged in at the real provider (client cli-app, account alice)."""
    return log_in(provider, oauthcli_home, http_browser)


def _exchange(env: Mapping[str, str], *args: str) -> str:
    result = oauthcli("exchange", *args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_exchange_trades_the_access_token_for_a_token_for_the_audience(
    provider: LocalProvider, oauthcli_home: Path, user_env: dict[str, str]
) -> None:
    before = provider.count_grants(GRANT_TYPE, client_id="cli-app")

    token = _exchange(user_env, "--audience", PLATFORM).removesuffix("\n")

    answer = provider.introspect(token)
    assert answer["active"] is True
    assert answer["aud"] == PLATFORM
    assert answer["sub"] == "alice"
    assert answer["client_id"] == "cli-app"
    document = stored(oauthcli_home)
    assert document is not None
    assert token != document["tokens"]["access_token"]
    assert token not in json.dumps(document)  # not stored
    assert provider.count_grants(GRANT_TYPE, client_id="cli-app") == before + 1


def test_exchange_of_the_id_token_for_a_resource_and_a_scope(
    provider: LocalProvider, user_env: dict[str, str]
) -> None:
    out = _exchange(
        user_env,
        "--subject-token-type",
        "id_token",
        "--resource",
        "https://api.example.test",
        "--scope",
        "api:read",
        "--format",
        "json",
    )

    document = json.loads(out)
    assert document["issued_token_type"] == ACCESS
    assert document["token_type"] == "Bearer"
    assert document["scope"] == "api:read"
    assert document["expires_at"].endswith("Z")
    answer = provider.introspect(document["access_token"])
    assert answer["active"] is True
    assert answer["aud"] == "https://api.example.test"
    assert answer["sub"] == "alice"


def test_an_expired_id_token_is_refreshed_before_it_is_exchanged(
    provider: LocalProvider, oauthcli_home: Path, user_env: dict[str, str]
) -> None:
    path = oauthcli_home / "profiles" / "default.json"
    document = json.loads(path.read_text())
    header, payload, _ = document["tokens"]["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = int(time.time()) - 5
    expired = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    document["tokens"]["id_token"] = f"{header}.{expired.decode()}.c2ln"
    path.write_text(json.dumps(document))
    refreshes = provider.count_grants("refresh_token")

    token = _exchange(user_env, "--subject-token-type", "id_token").strip()

    assert provider.introspect(token)["active"] is True
    assert provider.count_grants("refresh_token") == refreshes + 1


def test_exchange_header_format_is_a_bearer_header(
    provider: LocalProvider, user_env: dict[str, str]
) -> None:
    out = _exchange(user_env, "--audience", PLATFORM, "--format", "header")

    assert out.startswith("Authorization: Bearer ")
    token = out.removeprefix("Authorization: Bearer ").removesuffix("\n")
    assert provider.introspect(token)["active"] is True


def test_an_audience_the_provider_refuses_is_invalid_target(
    user_env: dict[str, str],
) -> None:
    result = oauthcli(
        "exchange", "--audience", "https://forbidden.example/x", env=user_env
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert "invalid_target" in result.stderr
    assert "will not issue a token for the audience" in result.stderr


def test_a_requested_token_type_the_provider_does_not_issue_is_its_error(
    user_env: dict[str, str],
) -> None:
    result = oauthcli(
        "exchange",
        "--audience",
        PLATFORM,
        "--requested-token-type",
        "jwt",
        env=user_env,
    )

    assert result.returncode == 1
    assert "invalid_request" in result.stderr


def test_exchange_without_a_login_exits_3(oauthcli_home: Path) -> None:
    result = oauthcli(
        "exchange", "--audience", PLATFORM, env=cli_env(oauthcli_home, None)
    )

    assert result.returncode == 3
    assert "not logged in" in result.stderr


def test_a_client_not_allowed_the_exchange_gets_the_providers_error(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    args = ["login", "--issuer", provider.issuer, "--client-id", "cli-localhost-only"]
    assert oauthcli(*args, "--redirect-host", "localhost", env=env).returncode == 0

    result = oauthcli("exchange", "--audience", PLATFORM, env=env)

    assert result.returncode == 1
    assert "invalid_request: requested grant type is not allowed" in result.stderr


def test_a_ci_profile_exchanges_its_own_token(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    config = oauthcli_home / "config.toml"
    config.write_text(
        f'[profiles.ci]\nissuer = "{provider.issuer}"\nclient_id = "ci-machine"\n'
        'grant_type = "client_credentials"\n'
    )
    config.chmod(0o600)
    env = cli_env(oauthcli_home, None, OAUTHCLI_CLIENT_SECRET=CI_SECRET_BASIC)

    token = _exchange(env, "--profile", "ci", "--resource", PLATFORM).strip()

    answer = provider.introspect(token)
    assert answer["active"] is True
    assert answer["client_id"] == "ci-machine"
    assert answer["aud"] == PLATFORM


def _scripted_user(url: str) -> bool:
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("exchange_http_user", HTTP_USER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.sign_in(url, False, "alice")
    return True


def test_login_with_exchange_hands_back_the_platform_token(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    result = login(
        OAuth2Constants("cli-app", provider.issuer, login_timeout=30),
        opener=_scripted_user,
        notify=lambda _: None,
        exchange=TokenExchange(audience=PLATFORM, subject_token_type="id_token"),
    )

    assert isinstance(result.exchanged, ExchangedToken)
    answer = provider.introspect(result.exchanged.access_token)
    assert answer["active"] is True
    assert answer["aud"] == PLATFORM
    assert stored(oauthcli_home) is not None
    again = exchange_token(TokenExchange(audience=PLATFORM))
    assert again.access_token != result.exchanged.access_token


def test_a_login_whose_exchange_fails_stores_nothing(
    provider: LocalProvider, oauthcli_home: Path
) -> None:
    with pytest.raises(EndpointError) as caught:
        login(
            OAuth2Constants("cli-app", provider.issuer, login_timeout=30),
            opener=_scripted_user,
            notify=lambda _: None,
            exchange=TokenExchange(audience="https://forbidden.example"),
        )

    assert caught.value.error == "invalid_target"
    assert stored(oauthcli_home) is None


def test_exchange_token_without_a_login_is_login_required(oauthcli_home: Path) -> None:
    with pytest.raises(LoginRequired):
        exchange_token(TokenExchange(audience=PLATFORM), "nobody")


# A malicious or broken provider's answers.


@pytest.fixture
def op(oauthcli_home: Path) -> Iterator[EvilProvider]:
    """The malicious provider, with alice logged in at it (profile default)."""
    with EvilProvider() as provider:
        login(
            OAuth2Constants(provider.client_id, provider.issuer, login_timeout=5),
            opener=ScriptedUser(),
            notify=lambda _: None,
        )
        yield provider


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"issued_token_type": None}, "no issued_token_type"),
        ({"token_type": "N_A"}, "access token with token_type N_A"),
        ({"token_type": "MAC"}, "not Bearer or N_A"),
        ({"issued_token_type": TOKEN_TYPES["saml2"]}, "issued a saml2"),
    ],
)
def test_a_hostile_answer_is_refused_and_nothing_is_printed(
    op: EvilProvider,
    oauthcli_home: Path,
    changes: dict[str, Any],
    problem: str,
) -> None:
    document = {
        k: v
        for k, v in _issued(access_token="evil-" + "x" * 40, **changes).items()
        if v is not None
    }
    op.canned["token"] = Canned(body=document)

    result = oauthcli(
        "exchange",
        "--audience",
        "platform",
        "--requested-token-type",
        "access_token",
        env=cli_env(oauthcli_home, None),
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert problem in result.stderr
    assert "evil-" not in result.stderr
    sent = op.requests("token")[-1].form
    assert sent["grant_type"] == GRANT_TYPE
    assert sent["subject_token_type"] == ACCESS
    assert sent["audience"] == "platform"


def test_a_provider_without_token_exchange_says_so(op: EvilProvider) -> None:
    with pytest.raises(EndpointError) as caught:
        exchange_token(TokenExchange(audience="platform"))

    assert caught.value.error == "unsupported_grant_type"
    assert "does not offer token exchange" in caught.value.message
