"""git and Docker ask oauthcli for credentials, through their own protocols."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clirun import log_in, oauthcli, stored
from localprovider import LocalProvider
from oauthcli.commands.credential_helpers import parse_git_request
from oauthcli.errors import LocalError
from oauthcli.store import write_entry

HELPER = f"!{sys.executable} -m oauthcli git-credential"


@pytest.fixture
def env(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> dict[str, str]:
    env = log_in(provider, oauthcli_home, http_browser)
    (oauthcli_home / "config.toml").write_text(
        '[profiles.default]\nhosts = ["git.example.test", "registry.example.test"]\n'
    )
    return env


def git_fill(env: dict[str, str], request: str, tmp_path: Path) -> str:
    """``git credential fill`` with oauthcli as the only helper."""
    result = subprocess.run(
        [
            "git",
            "-c",
            "credential.helper=",
            "-c",
            f"credential.helper={HELPER}",
            "credential",
            "fill",
        ],
        input=request,
        env={
            **env,
            "GIT_TERMINAL_PROMPT": "0",
            "HOME": str(tmp_path),
            "GIT_CONFIG_NOSYSTEM": "1",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout


def token(home: Path) -> str:
    document = stored(home)
    assert document is not None
    return str(document["tokens"]["access_token"])


def test_git_gets_the_access_token_for_a_host_the_profile_lists(
    env: dict[str, str], oauthcli_home: Path, tmp_path: Path
) -> None:
    answer = git_fill(env, "protocol=https\nhost=git.example.test\n\n", tmp_path)
    # (git before 2.41 drops password_expiry_utc; the helper's own answer has it)
    assert answer.splitlines()[:4] == [
        "protocol=https",
        "host=git.example.test",
        "username=oauth2",
        f"password={token(oauthcli_home)}",
    ]


def test_the_helpers_answer_says_when_the_token_expires(
    env: dict[str, str], oauthcli_home: Path
) -> None:
    request = "protocol=https\nhost=git.example.test\n\n"
    result = oauthcli("git-credential", "get", env=env, input=request)
    document = stored(oauthcli_home)
    assert document is not None
    assert result.stdout.splitlines() == [
        "username=oauth2",
        f"password={token(oauthcli_home)}",
        f"password_expiry_utc={int(document['tokens']['expires_at'])}",
    ]


def test_git_gets_nothing_for_a_host_no_profile_lists(
    env: dict[str, str], tmp_path: Path
) -> None:
    answer = git_fill(env, "protocol=https\nhost=elsewhere.test\n\n", tmp_path)
    assert "password=" not in answer


def test_git_over_plain_http_gets_no_token(env: dict[str, str], tmp_path: Path) -> None:
    answer = git_fill(env, "protocol=http\nhost=git.example.test\n\n", tmp_path)
    assert "password=" not in answer


def test_erase_of_the_current_token_refreshes_it(
    provider: LocalProvider, env: dict[str, str], oauthcli_home: Path
) -> None:
    refused = token(oauthcli_home)
    grants = provider.count_grants("refresh_token")
    request = f"protocol=https\nhost=git.example.test\npassword={refused}\n\n"

    result = oauthcli("git-credential", "erase", env=env, input=request)

    assert result.returncode == 0, result.stderr
    assert provider.count_grants("refresh_token") == grants + 1
    assert token(oauthcli_home) != refused


def test_erase_of_an_old_token_changes_nothing(
    provider: LocalProvider, env: dict[str, str], oauthcli_home: Path
) -> None:
    current = token(oauthcli_home)
    grants = provider.count_grants("refresh_token")
    request = "protocol=https\nhost=git.example.test\npassword=some-old-token\n\n"

    result = oauthcli("-v", "git-credential", "erase", env=env, input=request)

    assert result.returncode == 0, result.stderr
    assert provider.count_grants("refresh_token") == grants
    assert token(oauthcli_home) == current
    # It said "another process refreshed the tokens" when none had.
    assert "not the one that was rejected; using it" in result.stderr


def test_git_is_told_nothing_when_the_login_is_gone(
    env: dict[str, str], oauthcli_home: Path
) -> None:
    document = stored(oauthcli_home)
    assert document is not None
    del document["tokens"]["refresh_token"]
    document["tokens"]["expires_at"] = 1.0
    (oauthcli_home / "profiles" / "default.json").write_text(json.dumps(document))
    request = "protocol=https\nhost=git.example.test\n\n"

    result = oauthcli("git-credential", "get", env=env, input=request)

    assert result.returncode == 0
    assert result.stdout == ""
    assert "log in again" in result.stderr


@pytest.mark.parametrize("text", ["no-equals-sign\n", "host=a\0b\n", "=value\n"])
def test_a_git_request_that_is_not_key_value_is_refused(text: str) -> None:
    with pytest.raises(LocalError):
        parse_git_request(text)


def test_a_git_request_stops_at_the_blank_line() -> None:
    text = "protocol=https\nhost=a.test\n\nhost=b.test\n"
    assert parse_git_request(text) == {"protocol": "https", "host": "a.test"}


def test_docker_gets_the_token_as_json(
    env: dict[str, str], oauthcli_home: Path
) -> None:
    result = oauthcli(
        "docker-credential", "get", env=env, input="https://registry.example.test/v2/\n"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "ServerURL": "https://registry.example.test/v2/",
        "Username": "oauth2",
        "Secret": token(oauthcli_home),
    }


def test_docker_is_told_not_found_for_other_registries(env: dict[str, str]) -> None:
    result = oauthcli("docker-credential", "get", env=env, input="other.test\n")
    assert result.returncode == 1
    assert result.stdout == "credentials not found in native keychain\n"


def test_docker_list_names_the_hosts_of_every_profile(env: dict[str, str]) -> None:
    result = oauthcli("docker-credential", "list", env=env)
    assert json.loads(result.stdout) == {
        "git.example.test": "oauth2",
        "registry.example.test": "oauth2",
    }


@pytest.mark.parametrize(
    "host", ["git.example.test:8443", "git.example.test.evil", "evil.test", ""]
)
def test_git_gets_nothing_for_another_port_or_host(
    host: str, env: dict[str, str]
) -> None:
    request = f"protocol=https\nhost={host}\n\n"
    result = oauthcli("git-credential", "get", env=env, input=request)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "host", ["git.example.test:443", "GIT.Example.Test", "git.example.test."]
)
def test_git_names_the_same_server_in_other_spellings(
    host: str, env: dict[str, str], oauthcli_home: Path
) -> None:
    request = f"protocol=https\nhost={host}\n\n"
    result = oauthcli("git-credential", "get", env=env, input=request)
    assert f"password={token(oauthcli_home)}\n" in result.stdout


@pytest.mark.parametrize(
    "server",
    [
        "http://registry.example.test",
        "https://registry.example.test:5000/v2/",
        "https://user@registry.example.test/",
        "registry.example.test:5000",
    ],
)
def test_docker_gets_nothing_over_http_or_on_another_port(
    server: str, env: dict[str, str]
) -> None:
    result = oauthcli("docker-credential", "get", env=env, input=server + "\n")
    assert result.returncode == 1
    assert result.stdout == "credentials not found in native keychain\n"


def test_docker_is_told_on_stdout_when_the_login_is_gone(
    env: dict[str, str], oauthcli_home: Path
) -> None:
    """Docker shows only a helper's stdout; the hint must be there."""
    (oauthcli_home / "profiles" / "default.json").unlink()
    result = oauthcli(
        "docker-credential", "get", env=env, input="registry.example.test\n"
    )
    assert result.returncode == 1
    assert result.stdout.startswith("oauthcli: not logged in")


def test_the_helpers_honour_the_profiles_min_ttl(
    provider: LocalProvider, env: dict[str, str], oauthcli_home: Path
) -> None:
    (oauthcli_home / "config.toml").write_text(
        '[profiles.default]\nhosts = ["git.example.test"]\nmin_ttl = 3000\n'
    )
    document = stored(oauthcli_home)
    assert document is not None
    now = time.time()  # 1000 s left of 3600: fresh by default, not for 3000
    document["tokens"].update(expires_at=now + 1000, obtained_at=now - 2600)
    os.environ["OAUTHCLI_HOME"] = str(oauthcli_home)
    write_entry("default", document)
    before = token(oauthcli_home)
    grants = provider.count_grants("refresh_token")

    request = "protocol=https\nhost=git.example.test\n\n"
    result = oauthcli("git-credential", "get", env=env, input=request)

    assert provider.count_grants("refresh_token") == grants + 1
    assert f"password={token(oauthcli_home)}\n" in result.stdout
    assert token(oauthcli_home) != before


def test_verbose_git_credential_says_why_a_host_no_profile_lists_gets_nothing(
    oauthcli_home: Path,
) -> None:
    result = oauthcli(
        "-v",
        "git-credential",
        "get",
        env={**os.environ, "OAUTHCLI_HOME": str(oauthcli_home)},
        input="protocol=https\nhost=elsewhere.example\n\n",
    )
    assert result.returncode == 0
    assert result.stdout == ""
    assert "no profile lists host elsewhere.example" in result.stderr
    assert "next helper" in result.stderr


def test_docker_credential_oauthcli_help_uses_its_own_name(oauthcli_home: Path) -> None:
    code = (
        "import sys; from oauthcli.cli import docker_credential_main; "
        "sys.argv = ['docker-credential-oauthcli', '--help']; "
        "sys.exit(docker_credential_main())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "OAUTHCLI_HOME": str(oauthcli_home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: docker-credential-oauthcli [OPTIONS]")
    assert "Examples:" in result.stdout


@pytest.mark.parametrize(
    ("args", "host", "warned"),
    [
        (["--profile", "default"], "anywhere.example", True),
        ([], "git.example.test", True),  # listed by a profile (as https)
        ([], "elsewhere.example", False),  # someone else's remote: quiet
    ],
    ids=["explicit-profile", "listed-host", "other-host"],
)
def test_a_plain_http_remote_of_ours_is_told_why_it_gets_no_token(
    oauthcli_home: Path, args: list[str], host: str, warned: bool
) -> None:
    # It was silent without -v, so a user whose remote was http:// saw git
    # prompt for a password and no reason.
    (oauthcli_home / "config.toml").write_text(
        '[profiles.default]\nhosts = ["git.example.test"]\n'
    )
    result = oauthcli(
        "git-credential",
        *args,
        "get",
        env={**os.environ, "OAUTHCLI_HOME": str(oauthcli_home)},
        input=f"protocol=http\nhost={host}\n\n",
    )
    assert (result.returncode, result.stdout) == (0, "")
    assert ("is not https, so no token is sent" in result.stderr) is warned


@pytest.mark.parametrize(
    ("config", "request_text"),
    [
        (
            '[profiles.default]\nhosts = ["git.example.test"]\n',
            "protocol=smtp\nhost=git.example.test\n\n",
        ),
        (
            '[profiles.default\nhosts = ["git.example.test"]\n',
            "protocol=http\nhost=other.example\n\n",
        ),
    ],
    ids=["another-protocol", "config-with-a-typo"],
)
def test_the_plain_http_notice_is_for_http_remotes_of_ours_only(
    oauthcli_home: Path, config: str, request_text: str
) -> None:
    # git asks a global helper about smtp:// and cert:// too, and a typo in
    # config.toml made every http remote "ours".
    (oauthcli_home / "config.toml").write_text(config)
    result = oauthcli(
        "git-credential",
        "get",
        env={**os.environ, "OAUTHCLI_HOME": str(oauthcli_home)},
        input=request_text,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_verbose_git_credential_says_git_sent_no_protocol(oauthcli_home: Path) -> None:
    # It said "no protocol is not https".
    result = oauthcli(
        "-v",
        "git-credential",
        "get",
        env={**os.environ, "OAUTHCLI_HOME": str(oauthcli_home)},
        input="",
    )
    assert (result.returncode, result.stdout) == (0, "")
    assert "git sent no protocol; git tries its next helper" in result.stderr
