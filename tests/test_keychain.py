"""Refresh tokens in the OS keyring, and what happens when it fails (C14)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from clirun import cli_env, login_args, oauthcli, stored
from localprovider import TESTS_DIR, LocalProvider
from oauthcli.store import write_entry


def keyring_env(
    home: Path, browser: str, backend: str, keyring_file: Path | None = None
) -> dict[str, str]:
    python_path = os.pathsep.join(
        filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")])
    )
    env = cli_env(home, browser, PYTHON_KEYRING_BACKEND=backend, PYTHONPATH=python_path)
    if keyring_file is not None:
        env["OAUTHCLI_TEST_KEYRING"] = str(keyring_file)
    return env


def keyring_value(keyring_file: Path, profile: str = "default") -> str:
    entries = json.loads(keyring_file.read_text())
    (value,) = [v for k, v in entries.items() if k.startswith(f"oauthcli/{profile}:")]
    assert isinstance(value, str)
    return value


def expire(home: Path) -> None:
    document = stored(home)
    assert document is not None
    document["tokens"]["expires_at"] = time.time() - 10
    os.environ["OAUTHCLI_HOME"] = str(home)
    write_entry("default", document)


def test_the_refresh_token_lives_in_the_keyring_and_rotates_there(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str, tmp_path: Path
) -> None:
    keyring_file = tmp_path / "keyring.json"
    env = keyring_env(
        oauthcli_home, http_browser, "keyring_backends.FileKeyring", keyring_file
    )

    result = oauthcli(*login_args(provider, "cli-app", "--store", "keyring"), env=env)

    assert result.returncode == 0, result.stderr
    entry = stored(oauthcli_home)
    assert entry is not None
    assert entry["tokens"]["refresh_token"] is None
    assert entry["tokens"]["refresh_token_store"] == "keyring"
    first = keyring_value(keyring_file)
    status = oauthcli("status", "--format", "json", env=env)
    assert json.loads(status.stdout)["store"] == "keyring"
    assert json.loads(status.stdout)["refresh_available"] is True

    expire(oauthcli_home)
    grants = provider.count_grants("refresh_token")
    token = oauthcli("token", env=env)
    assert token.returncode == 0, token.stderr
    assert provider.count_grants("refresh_token") == grants + 1
    rotated = keyring_value(keyring_file)
    assert rotated != first
    after = stored(oauthcli_home)
    assert after is not None
    assert after["tokens"]["refresh_token"] is None
    assert rotated not in (oauthcli_home / "profiles" / "default.json").read_text()

    logout = oauthcli("logout", env=env)
    assert logout.returncode == 0, logout.stderr
    assert provider.introspect(rotated)["active"] is False
    assert json.loads(keyring_file.read_text()) == {}


@pytest.mark.parametrize("store", ["auto", "keyring"])
def test_c14_without_a_usable_keyring_the_fresh_token_is_kept_in_the_file(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str, store: str
) -> None:
    env = keyring_env(oauthcli_home, http_browser, "keyring.backends.fail.Keyring")
    result = oauthcli(*login_args(provider, "cli-app", "--store", store), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("kept in the file store") == 1
    entry = stored(oauthcli_home)
    assert entry is not None
    assert entry["tokens"]["refresh_token"]
    assert "refresh_token_store" not in entry["tokens"]

    expire(oauthcli_home)
    token = oauthcli("token", env=env)  # no flags: the next call finds it
    assert token.returncode == 0, token.stderr
    assert provider.introspect(token.stdout.strip())["active"] is True


def test_st_24_a_hanging_keyring_times_out_and_the_token_is_not_lost(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = keyring_env(oauthcli_home, http_browser, "keyring_backends.HangingKeyring")
    started = time.monotonic()
    result = oauthcli(*login_args(provider, "cli-app", "--store", "keyring"), env=env)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 20
    assert "did not answer within 3 s" in result.stderr
    entry = stored(oauthcli_home)
    assert entry is not None
    assert entry["tokens"]["refresh_token"]


def test_st_25_two_homes_with_the_same_profile_name_never_share_a_keyring_entry(
    provider: LocalProvider, tmp_path: Path, http_browser: str
) -> None:
    keyring_file = tmp_path / "keyring.json"
    homes = [tmp_path / "home-a", tmp_path / "home-b"]
    refused = provider.count_grants("refresh_token", error=True)
    envs = []
    for home, user in zip(homes, ("alice", "bob"), strict=True):
        home.mkdir(mode=0o700)
        env = keyring_env(
            home, http_browser, "keyring_backends.FileKeyring", keyring_file
        )
        env["OAUTHCLI_TEST_LOGIN"] = user
        result = oauthcli(
            *login_args(provider, "cli-app", "--store", "keyring"), env=env
        )
        assert result.returncode == 0, result.stderr
        envs.append(env)
    assert len(json.loads(keyring_file.read_text())) == 2
    for home, env in zip(homes, envs, strict=True):
        expire(home)
        token = oauthcli("token", env=env)
        assert token.returncode == 0, token.stderr
    assert provider.count_grants("refresh_token", error=True) == refused
    assert oauthcli("logout", env=envs[0]).returncode == 0
    assert len(json.loads(keyring_file.read_text())) == 1  # only A's entry went
    expire(homes[1])
    assert oauthcli("token", env=envs[1]).returncode == 0


def test_a_keyring_value_that_does_not_match_the_file_is_not_used(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str, tmp_path: Path
) -> None:
    keyring_file = tmp_path / "keyring.json"
    env = keyring_env(
        oauthcli_home, http_browser, "keyring_backends.FileKeyring", keyring_file
    )
    assert (
        oauthcli(
            *login_args(provider, "cli-app", "--store", "keyring"), env=env
        ).returncode
        == 0
    )
    entries = json.loads(keyring_file.read_text())
    keyring_file.write_text(json.dumps({key: "stale-token" for key in entries}))
    expire(oauthcli_home)
    grants = provider.count_grants("refresh_token", error=True)
    result = oauthcli("token", env=env)
    assert result.returncode == 3
    assert provider.count_grants("refresh_token", error=True) == grants  # never sent


def test_a_dpop_key_nested_too_deep_in_the_keyring_is_damage_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring

    from keyring_backends import FileKeyring
    from oauthcli.keychain import (
        SERVICE,
        _dpop_account,
        keyring_account,
        stored_dpop_key,
    )

    settings = {"issuer": "https://idp.test", "client_id": "cli", "store": "keyring"}
    entry = {"settings": settings, "dpop": {"jkt": "x", "key_store": "keyring"}}
    monkeypatch.setenv("OAUTHCLI_TEST_KEYRING", str(tmp_path / "keyring.json"))
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())  # type: ignore[no-untyped-call]
    try:
        account = _dpop_account(keyring_account("default", settings))
        keyring.set_password(SERVICE, account, "[" * 100_000)

        with pytest.raises(ValueError, match="DPoP key is not JSON"):
            stored_dpop_key("default", entry)
    finally:
        keyring.set_keyring(previous)
