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
    first = json.loads(keyring_file.read_text())["oauthcli/default"]
    status = oauthcli("status", "--format", "json", env=env)
    assert json.loads(status.stdout)["store"] == "keyring"
    assert json.loads(status.stdout)["refresh_available"] is True

    expire(oauthcli_home)
    grants = provider.count_grants("refresh_token")
    token = oauthcli("token", env=env)
    assert token.returncode == 0, token.stderr
    assert provider.count_grants("refresh_token") == grants + 1
    rotated = json.loads(keyring_file.read_text())["oauthcli/default"]
    assert rotated != first
    after = stored(oauthcli_home)
    assert after is not None
    assert after["tokens"]["refresh_token"] is None
    assert rotated not in (oauthcli_home / "profiles" / "default.json").read_text()

    logout = oauthcli("logout", env=env)
    assert logout.returncode == 0, logout.stderr
    assert provider.introspect(rotated)["active"] is False
    assert "oauthcli/default" not in json.loads(keyring_file.read_text())


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
