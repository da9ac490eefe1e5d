"""Pushed authorization requests (RFC 9126): the answer's checks, then logins
at the real provider (oidc-provider has PAR on, and ``required_provider``
accepts nothing else). The hostile cases (checklist 2.13) are in
test_hostile_provider.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from clirun import cli_env, login_args, oauthcli, stored
from localprovider import CLI_SECRET_BASIC, CLI_SECRET_POST, LocalProvider
from oauthcli import EndpointError, ValidationError
from oauthcli.par import PushedRequest, parse_par_response
from oauthcli.transport import Response

REQUEST_URI = "urn:ietf:params:oauth:request_uri:abc"


def answer(status: int = 201, **members: Any) -> Response:
    document = {"request_uri": REQUEST_URI, "expires_in": 60, **members}
    document = {key: value for key, value in document.items() if value is not None}
    return Response(
        status, {"content-type": "application/json"}, json.dumps(document).encode()
    )


def test_a_201_with_request_uri_and_expires_in_is_accepted() -> None:
    pushed = parse_par_response(answer())
    assert pushed == PushedRequest(REQUEST_URI, 60)
    assert REQUEST_URI not in repr(pushed)


@pytest.mark.parametrize(
    "bad",
    [
        answer(200),
        answer(request_uri=None),
        answer(request_uri=42),
        answer(request_uri=""),
        answer(request_uri="urn:with space"),
        answer(request_uri="urn:" + "x" * 3000),
        answer(expires_in=None),
        answer(expires_in=0),
        answer(expires_in=-60),
        answer(expires_in=True),
        answer(expires_in=60.5),
        answer(expires_in="60"),
        Response(201, {"content-type": "text/html"}, b"<html>ok</html>"),
        Response(201, {"content-type": "application/json"}, b"[]"),
    ],
)
def test_par_02_a_malformed_answer_is_refused(bad: Response) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_par_response(bad)
    assert caught.value.code in ("invalid_par_response", "invalid_response")
    assert REQUEST_URI not in str(caught.value)


@pytest.mark.parametrize("status", [400, 401, 201])
def test_par_03_an_error_body_is_the_providers_error(status: int) -> None:
    body = json.dumps({"error": "invalid_request", "error_description": "no"})
    response = Response(status, {"content-type": "application/json"}, body.encode())

    with pytest.raises(EndpointError) as caught:
        parse_par_response(response)

    assert caught.value.error == "invalid_request"
    assert caught.value.endpoint == "pushed authorization request endpoint"
    assert caught.value.status_code == status


# Logins at the real provider.


@pytest.fixture(scope="module")
def required_provider(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalProvider]:
    """A provider whose metadata says require_pushed_authorization_requests."""
    workdir = tmp_path_factory.mktemp("par-provider")
    with LocalProvider.start(workdir, options={"require_par": True}) as running:
        yield running


def login_url(stderr: str) -> str:
    """The authorization URL the CLI printed for the user."""
    for line in stderr.splitlines():
        if line.strip().startswith("http") and "request_uri=" in line + "state=":
            return line.strip()
    raise AssertionError(f"no URL in:\n{stderr}")


def url_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [
        ("cli-app", None),
        ("cli-secret-basic", CLI_SECRET_BASIC),
        ("cli-secret-post", CLI_SECRET_POST),
    ],
)
def test_par_login_puts_only_client_id_and_request_uri_in_the_url(
    provider: LocalProvider,
    oauthcli_home: Path,
    http_browser: str,
    client_id: str,
    secret: str | None,
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    if secret is not None:
        env["OAUTHCLI_CLIENT_SECRET"] = secret

    result = oauthcli(*login_args(provider, client_id, "--par"), env=env)

    assert result.returncode == 0, result.stderr
    params = url_params(login_url(result.stderr))
    assert set(params) == {"client_id", "request_uri"}
    assert params["client_id"] == client_id
    assert params["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    document = stored(oauthcli_home)
    assert document is not None
    assert document["settings"]["par"] is True
    assert provider.introspect(document["tokens"]["access_token"])["active"] is True


def test_par_03_a_provider_that_requires_par_gets_it_without_being_asked(
    required_provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)

    result = oauthcli(*login_args(required_provider), env=env)

    assert result.returncode == 0, result.stderr
    assert set(url_params(login_url(result.stderr))) == {"client_id", "request_uri"}
    document = stored(oauthcli_home)
    assert document is not None
    assert "par" not in document["settings"]  # the provider's rule, not the profile's


def test_par_03_without_par_that_provider_refuses_the_plain_request(
    required_provider: LocalProvider,
) -> None:
    """The rule the client follows is real: a plain request is refused."""
    import httpx

    endpoint = required_provider.metadata()["authorization_endpoint"]
    page = httpx.get(
        endpoint,
        params={
            "client_id": "cli-app",
            "response_type": "code",
            "redirect_uri": "http://127.0.0.1:9/callback",
            "scope": "openid",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
        trust_env=False,
    )
    refused = url_params(page.headers["location"])
    assert refused["error"] == "invalid_request"
    assert "pushed" in refused["error_description"].lower()


def test_par_06_par_and_dpop_together_bind_the_token_to_the_pushed_key(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)

    result = oauthcli(*login_args(provider, "cli-app", "--par", "--dpop"), env=env)

    assert result.returncode == 0, result.stderr
    document = stored(oauthcli_home)
    assert document is not None
    answer = provider.introspect(document["tokens"]["access_token"])
    assert answer["cnf"] == {"jkt": document["dpop"]["jkt"]}


def test_a_par_profile_in_the_config_file_pushes(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    config = oauthcli_home / "config.toml"
    config.write_text(
        f'[profiles.work]\nissuer = "{provider.issuer}"\n'
        'client_id = "cli-app"\npar = true\n',
        encoding="utf-8",
    )
    config.chmod(0o600)

    result = oauthcli(
        "login", "--profile", "work", env=cli_env(oauthcli_home, http_browser)
    )

    assert result.returncode == 0, result.stderr
    assert set(url_params(login_url(result.stderr))) == {"client_id", "request_uri"}


def test_par_with_a_device_login_says_it_does_not_apply(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    args = login_args(provider, "cli-app", "--device", "--par")

    result = oauthcli(*args, env=env, timeout=90)

    assert result.returncode == 0, result.stderr
    assert "par has no effect on a device login" in result.stderr
