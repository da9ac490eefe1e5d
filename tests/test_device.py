"""The device authorization grant (RFC 8628): polling rules with an injected
clock against a scripted token endpoint, and a real login at the provider."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clirun import cli_env, login_args, oauthcli, server_without_metadata, stored
from localprovider import LocalProvider
from oauthcli.device import (
    DeviceAuthorization,
    parse_device_authorization,
    poll_for_tokens,
)
from oauthcli.errors import (
    Cancelled,
    EndpointError,
    LocalError,
    ValidationError,
)
from oauthcli.transport import HTTP


class TokenEndpoint:
    """Answers each poll with the next scripted (status, body) and logs it."""

    def __init__(self, answers: list[tuple[int, dict[str, Any]]]) -> None:
        self.answers = answers
        self.polls: list[float] = []
        self.clock: FakeClock | None = None
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if owner.clock is not None:
                    owner.polls.append(owner.clock.now)
                status, body = (
                    owner.answers.pop(0)
                    if owner.answers
                    else (400, {"error": "authorization_pending"})
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    server = TokenEndpoint([])
    yield server
    server.server.shutdown()
    server.server.server_close()


PENDING = (400, {"error": "authorization_pending"})
SLOW_DOWN = (400, {"error": "slow_down"})
SUCCESS = (200, {"access_token": "at", "token_type": "Bearer", "expires_in": 60})


def device(
    expires_in: float = 600, interval: float | None = None
) -> DeviceAuthorization:
    doc: dict[str, Any] = {
        "device_code": "dc",
        "user_code": "ABCD-EFGH",
        "verification_uri": "https://idp.example.test/device",
        "expires_in": expires_in,
    }
    if interval is not None:
        doc["interval"] = interval
    return parse_device_authorization(doc)


def poll(endpoint: TokenEndpoint, grant: DeviceAuthorization, clock: FakeClock) -> str:
    endpoint.clock = clock
    with HTTP(timeout=5) as http:
        tokens = poll_for_tokens(
            http,
            endpoint.url,
            grant,
            {"client_id": "cli"},
            {},
            requested_scope=None,
            clock=clock,
            sleep=clock.sleep,
        )
    return tokens.access_token


def test_dev_02_without_an_interval_polls_every_5_seconds(
    endpoint: TokenEndpoint,
) -> None:
    endpoint.answers = [PENDING, PENDING, SUCCESS]
    clock = FakeClock()
    assert poll(endpoint, device(), clock) == "at"
    assert clock.sleeps == [5, 5, 5]


def test_dev_02_the_given_interval_is_used(endpoint: TokenEndpoint) -> None:
    endpoint.answers = [PENDING, SUCCESS]
    clock = FakeClock()
    assert poll(endpoint, device(interval=7), clock) == "at"
    assert clock.sleeps == [7, 7]


def test_c19_slow_down_adds_five_seconds_each_time(endpoint: TokenEndpoint) -> None:
    endpoint.answers = [PENDING, SLOW_DOWN, SLOW_DOWN, SUCCESS]
    clock = FakeClock()
    assert poll(endpoint, device(), clock) == "at"
    assert clock.sleeps == [5, 5, 10, 15]


def test_dev_04_pending_forever_stops_at_expires_in_without_a_late_poll(
    endpoint: TokenEndpoint,
) -> None:
    clock = FakeClock()
    with pytest.raises(LocalError) as caught:
        poll(endpoint, device(expires_in=30), clock)
    assert caught.value.code == "expired_token"
    assert all(at <= 1000 + 30 for at in endpoint.polls)
    assert len(endpoint.polls) == 5  # at 5, 10, 15, 20, 25 s


@pytest.mark.parametrize(
    "error", ["access_denied", "expired_token", "invalid_grant", "odd"]
)
def test_dev_05_a_final_error_stops_at_once(
    endpoint: TokenEndpoint, error: str
) -> None:
    endpoint.answers = [PENDING, (400, {"error": error})]
    clock = FakeClock()
    with pytest.raises(EndpointError) as caught:
        poll(endpoint, device(), clock)
    assert caught.value.error == error
    assert len(endpoint.polls) == 2


def test_dev_07_server_errors_back_off_within_the_deadline(
    endpoint: TokenEndpoint,
) -> None:
    endpoint.answers = [(503, {}), (429, {}), SUCCESS]
    clock = FakeClock()
    assert poll(endpoint, device(), clock) == "at"
    assert clock.sleeps == [5, 10, 15]


def test_dev_10_ctrl_c_while_polling_cancels(endpoint: TokenEndpoint) -> None:
    clock = FakeClock()

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    endpoint.clock = clock
    with HTTP(timeout=5) as http, pytest.raises(Cancelled):
        poll_for_tokens(
            http,
            endpoint.url,
            device(),
            {},
            {},
            requested_scope=None,
            clock=clock,
            sleep=interrupted,
        )
    assert endpoint.polls == []


@pytest.mark.parametrize(
    "change",
    [
        {"device_code": None},
        {"user_code": 42},
        {"verification_uri": None},
        {"expires_in": None},
        {"expires_in": -5},
        {"interval": "soon"},
        {"interval": True},
    ],
)
def test_dev_01_a_malformed_device_response_is_refused(change: dict[str, Any]) -> None:
    doc: dict[str, Any] = {
        "device_code": "dc",
        "user_code": "ABCD",
        "verification_uri": "https://idp.example.test/device",
        "expires_in": 600,
        **change,
    }
    with pytest.raises(ValidationError):
        parse_device_authorization({k: v for k, v in doc.items() if v is not None})


@pytest.mark.parametrize("key", ["expires_in", "interval"])
@pytest.mark.parametrize(
    "value",
    [
        float("nan"),  # was accepted: a NaN interval made time.sleep() raise
        "\u00b2",  # a digit to str.isdigit(), not to int(): ValueError
        pytest.param("1" * 5000, id="5000 digits"),  # over int()'s limit: ValueError
        "1234567890123",  # 13 digits: no provider means that many seconds
    ],
)
def test_dev_01_a_lifetime_or_interval_that_is_no_number_is_refused_not_a_crash(
    key: str, value: object
) -> None:
    doc = {
        "device_code": "dc",
        "user_code": "ABCD",
        "verification_uri": "https://idp.example.test/device",
        "expires_in": 600,
        key: value,
    }
    with pytest.raises(ValidationError, match=f"{key} is not a positive number"):
        parse_device_authorization(doc)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("600", 600.0),
        (float("inf"), 86400.0),
        pytest.param(10**400, 86400.0, id="10**400"),
    ],
)
def test_dev_01_a_long_or_textual_expires_in_is_read_and_capped_at_a_day(
    value: object, seconds: float
) -> None:
    doc = {
        "device_code": "dc",
        "user_code": "ABCD",
        "verification_uri": "https://idp.example.test/device",
        "expires_in": value,
    }
    assert parse_device_authorization(doc).expires_in == seconds


@pytest.mark.parametrize(
    "change",
    [
        {"verification_uri": "http://idp.example.test/device"},
        {"verification_uri": "javascript:alert(1)"},
        {"verification_uri_complete": "https://idp.example.test/d?c=\x1b[2J"},
        {"user_code": "A" * 200},
        {"user_code": "AB\x1b]0;x\x07"},
    ],
)
def test_dev_08_unsafe_verification_uris_and_user_codes_are_refused(
    change: dict[str, Any],
) -> None:
    doc = {
        "device_code": "dc",
        "user_code": "ABCD",
        "verification_uri": "https://idp.example.test/device",
        "expires_in": 600,
        **change,
    }
    with pytest.raises(ValidationError):
        parse_device_authorization(doc)


def test_a_device_login_at_the_real_provider(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    result = oauthcli(*login_args(provider, "cli-app", "--device"), env=env, timeout=90)
    assert result.returncode == 0, result.stderr
    assert "enter the code" in result.stderr
    assert "as alice@example.test" in result.stderr
    entry = stored(oauthcli_home)
    assert entry is not None
    assert provider.introspect(entry["tokens"]["access_token"])["active"] is True
    for secret in (entry["tokens"]["access_token"], entry["tokens"]["refresh_token"]):
        assert secret not in result.stderr


def test_a_denied_device_login_fails_and_stores_nothing(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser, OAUTHCLI_TEST_DENY="1")
    result = oauthcli(*login_args(provider, "cli-app", "--device"), env=env, timeout=90)
    assert result.returncode == 1
    assert "access_denied" in result.stderr
    assert stored(oauthcli_home) is None


def test_a_provider_without_device_flow_is_a_clear_error(oauthcli_home: Path) -> None:
    with server_without_metadata() as issuer:
        result = oauthcli(
            "login",
            "--issuer",
            issuer,
            "--client-id",
            "cli",
            "--device",
            env=cli_env(
                oauthcli_home, None, OAUTHCLI_TOKEN_ENDPOINT=f"{issuer}/oauth/token"
            ),
        )
    assert result.returncode == 1
    assert "does not offer the device flow" in result.stderr


def test_the_profile_remembers_the_device_flow_and_the_env_makes_it_the_default(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    first = oauthcli(*login_args(provider, "cli-app", "--device"), env=env, timeout=90)
    assert first.returncode == 0, first.stderr
    entry = stored(oauthcli_home)
    assert entry is not None
    assert entry["settings"]["device"] is True
    again = oauthcli("login", env=env, timeout=90)  # the stored settings
    assert again.returncode == 0, again.stderr
    assert "enter the code" in again.stderr
    other = oauthcli(
        *login_args(provider, "cli-app", "--profile", "machine"),
        env={**env, "OAUTHCLI_DEVICE": "1"},
        timeout=90,
    )
    assert other.returncode == 0, other.stderr
    assert "enter the code" in other.stderr


def test_a_device_login_does_not_check_a_max_age_it_never_sent(
    oauthcli_home: Path,
) -> None:
    # The device request sends scope and client_id only, yet the ID token's
    # auth_time was held to the profile's max_age (kept from browser logins).
    import time

    from evilprovider import EvilProvider
    from oauthcli import OAuth2Constants, login

    with EvilProvider() as op:
        op.id_token_claims["auth_time"] = int(time.time()) - 3600
        constants = OAuth2Constants(
            client_id=op.client_id,
            authz_server_host=op.issuer,
            extra_params={"max_age": "60"},
        )
        said: list[str] = []
        result = login(
            constants,
            device=True,
            open_browser=False,
            notify=said.append,
            sleep=lambda _: None,
            store=False,
        )
        sent = op.requests("device_authorization")[0].form

    assert "max_age" not in sent
    assert result.account.sub
    # ... and the user is told that it was not sent.
    assert any(line.startswith("Note: max_age has no effect") for line in said)
