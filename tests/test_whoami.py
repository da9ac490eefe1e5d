"""``oauthcli whoami`` and the UserInfo check (OIDC Core 5.3.2)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from clirun import log_in, oauthcli
from evilprovider import EMAIL, EvilProvider
from localprovider import LocalProvider
from oauthcli.errors import ValidationError
from oauthcli.userinfo import id_token_claims


@pytest.fixture
def env(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> dict[str, str]:
    return log_in(provider, oauthcli_home, http_browser)


def test_whoami_shows_the_id_tokens_claims(
    provider: LocalProvider, env: dict[str, str]
) -> None:
    result = oauthcli("whoami", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    claims = json.loads(result.stdout)
    assert claims["iss"] == provider.issuer
    assert claims["aud"] == "cli-app"
    assert claims["sub"]


def test_whoami_text_starts_with_the_subject(env: dict[str, str]) -> None:
    result = oauthcli("whoami", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sub:")


def test_whoami_userinfo_adds_the_providers_claims(env: dict[str, str]) -> None:
    plain = json.loads(oauthcli("whoami", "--format", "json", env=env).stdout)
    result = oauthcli("whoami", "--userinfo", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    claims = json.loads(result.stdout)
    assert claims["sub"] == plain["sub"]
    assert "email" in claims


def test_whoami_without_a_login_exits_3(oauthcli_home: Path) -> None:
    result = oauthcli("whoami", env={"OAUTHCLI_HOME": str(oauthcli_home)})
    assert result.returncode == 3
    assert "not logged in" in result.stderr


def test_oidf_11_a_userinfo_answer_about_another_subject_is_refused(
    oauthcli_home: Path,
) -> None:
    from oauthcli.userinfo import userinfo
    from test_hostile_provider import log_in as evil_log_in

    with EvilProvider() as op:
        evil_log_in(op)
        op.userinfo_overrides = {"sub": "mallory"}
        with pytest.raises(ValidationError) as raised:
            userinfo("default")
    assert raised.value.code == "userinfo_sub_mismatch"


def test_oidf_13_scope_claims_come_from_userinfo(oauthcli_home: Path) -> None:
    from evilprovider import DELETE
    from oauthcli.userinfo import userinfo
    from test_hostile_provider import log_in as evil_log_in
    from test_hostile_provider import stored_tokens

    with EvilProvider() as op:
        op.id_token_claims = {"email": DELETE}
        evil_log_in(op)
        asked = op.requests("authorize")[0].query["scope"].split()
        claims = userinfo("default")
        served = op.requests("userinfo")
    assert {"profile", "email"} <= set(asked)
    assert "email" not in id_token_claims(stored_tokens(oauthcli_home)["id_token"])
    assert len(served) == 1
    assert claims["email"] == EMAIL
    assert claims["name"] == "Alice"


def test_a_stored_id_token_that_is_not_a_jwt_cannot_be_read() -> None:
    with pytest.raises(ValidationError):
        id_token_claims("not-a-jwt")


def test_a_stored_id_token_nested_5000_deep_cannot_be_read() -> None:
    # json.loads raised RecursionError, which nothing caught.
    deep = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode().rstrip("=")

    with pytest.raises(ValidationError) as caught:
        id_token_claims(f"e30.{deep}.c2ln")
    assert caught.value.message == "the stored ID token cannot be read"


def test_times_no_calendar_holds_are_shown_as_numbers() -> None:
    from oauthcli.commands.status import _claims_text

    text = _claims_text({"sub": "a", "auth_time": 10**13, "updated_at": 1e20})
    assert text.splitlines() == [
        "sub:        a",
        "auth_time:  10000000000000",
        "updated_at: 1e+20",
    ]


def test_whoami_leaves_out_the_claims_that_only_bound_the_login(
    env: dict[str, str],
) -> None:
    claims = json.loads(oauthcli("whoami", "--format", "json", env=env).stdout)
    assert "nonce" not in claims
    assert "at_hash" not in claims


def _edit_store(home: Path, change: dict[str, object]) -> None:
    path = home / "profiles" / "default.json"
    document = json.loads(path.read_text())
    document.update(change)
    path.write_text(json.dumps(document))


def test_whoami_after_the_refresh_token_was_refused_exits_3_like_status(
    env: dict[str, str], oauthcli_home: Path
) -> None:
    # What refresh leaves behind when the provider answers invalid_grant.
    _edit_store(oauthcli_home, {"tokens": {}})
    assert oauthcli("status", env=env).returncode == 3
    result = oauthcli("whoami", env=env)
    assert result.returncode == 3
    assert result.stdout == ""
    assert "no usable tokens" in result.stderr
    assert "`oauthcli login --profile default`" in result.stderr


def test_whoami_without_an_id_token_labels_the_stored_account_as_account(
    env: dict[str, str], oauthcli_home: Path
) -> None:
    # A provider without ID tokens (GitHub): only what the login recorded.
    document = json.loads((oauthcli_home / "profiles" / "default.json").read_text())
    tokens = {**document["tokens"], "id_token": None}
    account = {"sub": "1234", "name": "frank"}
    _edit_store(oauthcli_home, {"tokens": tokens, "account": account})
    result = oauthcli("whoami", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["sub:     1234", "account: frank"]


def test_whoami_userinfo_refused_after_a_login_without_openid_says_so(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    # The provider answers 403 (insufficient_scope): the bare status left the
    # user guessing that the login's scope was the reason.
    env = log_in(provider, oauthcli_home, http_browser, "--scope", "profile email")
    result = oauthcli("whoami", "--userinfo", env=env)
    assert result.returncode != 0
    assert "HTTP 403" in result.stderr
    assert "did not ask for the openid scope" in result.stderr
    assert "--scope 'openid profile email'" in result.stderr


def test_whoami_userinfo_with_openid_scope_gets_no_scope_hint(
    env: dict[str, str],
) -> None:
    result = oauthcli("whoami", "--userinfo", env=env)
    assert result.returncode == 0, result.stderr
    assert "openid scope" not in result.stderr


def test_the_openid_scope_hint_names_no_oauthcli_command_in_an_embedding_program(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    from oauthcli.errors import TransportError
    from oauthcli.userinfo import userinfo

    log_in(provider, oauthcli_home, http_browser, "--scope", "profile email")
    with pytest.raises(TransportError) as raised:
        userinfo("default")
    assert raised.value.message.endswith(
        "log in again with the scope 'openid profile email'"
    )
    assert "oauthcli login" not in raised.value.message


def test_verbose_whoami_userinfo_shows_the_userinfo_step(env: dict[str, str]) -> None:
    # -v showed nothing; only --debug showed the request.
    result = oauthcli("-v", "whoami", "--userinfo", env=env)
    assert result.returncode == 0
    assert "asking the UserInfo endpoint" in result.stderr
