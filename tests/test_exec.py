"""``oauthcli exec``: a command run with a valid token in its environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from clirun import log_in, oauthcli, stored
from localprovider import LocalProvider
from test_refresh import expire_access_token

PRINT_TOKEN = "import os, sys; sys.stdout.write(os.environ[sys.argv[1]])"


@pytest.fixture
def env(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> dict[str, str]:
    return log_in(provider, oauthcli_home, http_browser)


def test_the_command_sees_the_token_and_its_exit_code_is_returned(
    env: dict[str, str], oauthcli_home: Path
) -> None:
    code = f"{PRINT_TOKEN}; sys.exit(7)"
    result = oauthcli(
        "exec", "--", sys.executable, "-c", code, "OAUTHCLI_ACCESS_TOKEN", env=env
    )
    document = stored(oauthcli_home)
    assert document is not None
    assert result.returncode == 7
    assert result.stdout == document["tokens"]["access_token"]


def test_an_expired_token_is_refreshed_before_the_command_runs(
    provider: LocalProvider, env: dict[str, str], oauthcli_home: Path
) -> None:
    expire_access_token(oauthcli_home)
    before = stored(oauthcli_home)
    grants = provider.count_grants("refresh_token")

    result = oauthcli(
        "exec",
        "--env-var",
        "TOKEN",
        "--",
        sys.executable,
        "-c",
        PRINT_TOKEN,
        "TOKEN",
        env=env,
    )

    after = stored(oauthcli_home)
    assert before is not None
    assert after is not None
    assert result.returncode == 0, result.stderr
    assert provider.count_grants("refresh_token") == grants + 1
    assert result.stdout == after["tokens"]["access_token"]
    assert result.stdout != before["tokens"]["access_token"]


def test_options_after_the_command_belong_to_the_command(
    env: dict[str, str],
) -> None:
    code = "import sys; print(sys.argv[1:])"
    result = oauthcli("exec", sys.executable, "-c", code, "--profile", "x", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['--profile', 'x']\n"


def test_a_missing_command_exits_127(env: dict[str, str]) -> None:
    result = oauthcli("exec", "--", "no-such-program-oauthcli", env=env)
    assert result.returncode == 127
    assert "no-such-program-oauthcli: command not found" in result.stderr


def test_without_a_login_the_command_does_not_run(
    oauthcli_home: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close()"
    result = oauthcli(
        "exec",
        "--",
        sys.executable,
        "-c",
        code,
        env={"OAUTHCLI_HOME": str(oauthcli_home), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 3
    assert not marker.exists()


def test_an_env_var_that_is_not_a_name_is_a_usage_error(env: dict[str, str]) -> None:
    result = oauthcli("exec", "--env-var", "A-B", "--", "true", env=env)
    assert result.returncode == 2
    assert "'A-B' is not a variable name" in result.stderr
