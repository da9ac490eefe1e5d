"""Shell completion for bash, zsh and fish, asked of the real command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clirun import oauthcli
from oauthcli.store import write_entry


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_for_each_shell(
    shell: str, oauthcli_home: Path
) -> None:
    result = oauthcli("completion", shell, env={"OAUTHCLI_HOME": str(oauthcli_home)})
    assert result.returncode == 0, result.stderr
    assert "_OAUTHCLI_COMPLETE" in result.stdout


def complete(words: str, home: Path) -> list[str]:
    """What bash completion offers after ``words`` (click's bash protocol)."""
    result = subprocess.run(
        [sys.executable, "-m", "oauthcli"],
        env={
            "OAUTHCLI_HOME": str(home),
            "_OAUTHCLI_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return [line.split(",", 1)[1] for line in result.stdout.splitlines()]


def test_commands_complete(oauthcli_home: Path) -> None:
    offered = complete("oauthcli lo", oauthcli_home)
    assert offered == ["login", "logout"]


def test_token_formats_complete(oauthcli_home: Path) -> None:
    offered = complete("oauthcli token --format ", oauthcli_home)
    assert offered == ["raw", "json", "header", "env", "exec-credential"]


def test_profile_names_complete_from_the_store_and_the_config(
    oauthcli_home: Path,
) -> None:
    write_entry("work", {"settings": {}, "tokens": {}})
    (oauthcli_home / "config.toml").write_text(
        '[profiles.wiki]\nissuer = "https://idp.test"\n'
    )
    offered = complete("oauthcli token --profile w", oauthcli_home)
    assert offered == ["wiki", "work"]


def test_bash_loads_the_script_and_completes(
    oauthcli_home: Path, tmp_path: Path
) -> None:
    bash = shutil.which("bash")
    assert bash is not None
    script = oauthcli("completion", "bash", env={"OAUTHCLI_HOME": str(oauthcli_home)})
    (tmp_path / "complete.bash").write_text(script.stdout)
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "oauthcli").write_text(
        f'#!/bin/sh\nexec {sys.executable} -m oauthcli "$@"\n'
    )
    (shim / "oauthcli").chmod(0o755)
    probe = (
        f"source {tmp_path / 'complete.bash'}; "
        "COMP_WORDS=(oauthcli sta); COMP_CWORD=1; "
        "function=$(complete -p oauthcli | sed -E 's/.*-F ([^ ]+).*/\\1/'); "
        '"$function" oauthcli sta oauthcli; '
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    result = subprocess.run(
        [bash, "-c", probe],
        env={"OAUTHCLI_HOME": str(oauthcli_home), "PATH": f"{shim}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.stdout.split() == ["status"], result.stderr


def test_preset_names_complete(oauthcli_home: Path) -> None:
    offered = complete("oauthcli login --preset k", oauthcli_home)
    assert offered == ["keycloak"]


@pytest.mark.parametrize("action", ["show", "remove"])
def test_profiles_show_and_remove_complete_profile_names(
    oauthcli_home: Path, action: str
) -> None:
    write_entry("work", {"settings": {}, "tokens": {}})
    (oauthcli_home / "config.toml").write_text(
        '[profiles.wiki]\nissuer = "https://idp.test"\n'
    )
    offered = complete(f"oauthcli profiles {action} w", oauthcli_home)
    assert offered == ["wiki", "work"]


def test_exec_completes_a_program_then_leaves_file_names_to_the_shell(
    oauthcli_home: Path,
) -> None:
    assert "echo" in complete("oauthcli exec -- ec", oauthcli_home)
    result = subprocess.run(
        [sys.executable, "-m", "oauthcli"],
        env={
            "OAUTHCLI_HOME": str(oauthcli_home),
            "_OAUTHCLI_COMPLETE": "bash_complete",
            "COMP_WORDS": "oauthcli exec -- ls ",
            "COMP_CWORD": "4",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.stdout.splitlines() == ["file,"]
