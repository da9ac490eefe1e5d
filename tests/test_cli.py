"""The ``oauthcli`` command's contract: outputs, exit codes, and no secrets."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localprovider import LocalProvider
from oauthcli.store import write_entry


def run(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("BROWSER", "OAUTHCLI_PROFILE", "DISPLAY", "WAYLAND_DISPLAY")
    }
    environment.update(OAUTHCLI_HOME=str(home), **env)
    return subprocess.run(
        [sys.executable, "-m", "oauthcli", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _every_command() -> list[list[str]]:
    import click

    from oauthcli.commands import main_group

    found: list[list[str]] = [[]]

    def walk(group: click.Group, path: list[str]) -> None:
        for name, command in group.commands.items():
            found.append([*path, name])
            if isinstance(command, click.Group):
                walk(command, [*path, name])

    walk(main_group, [])
    return found


@pytest.mark.parametrize("command", _every_command(), ids=" ".join)
def test_help_works_for_every_command(command: list[str], oauthcli_home: Path) -> None:
    result = run(*command, "--help", home=oauthcli_home)
    assert result.returncode == 0
    assert result.stdout.startswith(f"Usage: {' '.join(['oauthcli', *command])}")


@pytest.mark.parametrize(
    "command",
    ["login", "token", "exec", "status", "whoami", "logout", "config", "profiles add"],
)
def test_help_shows_examples(command: str, oauthcli_home: Path) -> None:
    assert "Examples:" in run(*command.split(), "--help", home=oauthcli_home).stdout


def test_exit_codes_are_documented_in_help(oauthcli_home: Path) -> None:
    assert "3 login required" in run("--help", home=oauthcli_home).stdout


def test_login_without_issuer_is_a_one_line_error(oauthcli_home: Path) -> None:
    result = run("login", home=oauthcli_home)
    assert result.returncode == 2  # a usage error
    assert result.stderr.count("\n") == 1
    assert "--issuer and --client-id are required" in result.stderr


def test_login_names_what_is_missing_and_a_mistyped_default_profile(
    oauthcli_home: Path,
) -> None:
    (oauthcli_home / "config.toml").write_text(
        'default_profile = "wrok"\n[profiles.work]\nissuer = "https://idp.test"\n'
        '[profiles.half]\nissuer = "https://idp.test"\n'
    )

    typo = run("login", home=oauthcli_home)
    half = run("login", "--profile", "half", home=oauthcli_home)

    assert (typo.returncode, half.returncode) == (2, 2)
    assert typo.stderr == (
        "oauthcli: --issuer and --client-id are required for profile 'wrok': no "
        "profile 'wrok' is configured or stored; did you mean 'work'?\n"
    )
    assert half.stderr == (
        "oauthcli: --client-id is required for profile 'half' (as flags, "
        "OAUTHCLI_* variables or in its config.toml table)\n"
    )


@pytest.mark.parametrize("port", ["0", "70000", "9-1", "abc"])
def test_a_bad_port_is_refused_before_anything_happens(
    port: str, oauthcli_home: Path
) -> None:
    result = run(
        "login",
        "--issuer",
        "https://idp.test",
        "--client-id",
        "x",
        "--port",
        port,
        home=oauthcli_home,
    )
    assert result.returncode == 2
    assert "--port must be a port N, a range A-B or a list A,B" in result.stderr


def test_a_non_loopback_http_issuer_is_refused(oauthcli_home: Path) -> None:
    result = run(
        "login",
        "--issuer",
        "http://idp.example.com",
        "--client-id",
        "x",
        home=oauthcli_home,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "oauthcli: --issuer must start with https:// (http:// only for 127.0.0.1, "
        '::1 or localhost), got "http://idp.example.com"\n'
    )


def store_tokens(
    home: Path, expires_at: float | None, access_token: str = "at-123"
) -> None:
    os.environ["OAUTHCLI_HOME"] = str(home)
    write_entry(
        "default",
        {
            "settings": {"issuer": "https://idp.test", "client_id": "x"},
            "tokens": {"access_token": access_token, "expires_at": expires_at},
        },
    )


def test_token_prints_only_the_token_and_a_newline(oauthcli_home: Path) -> None:
    store_tokens(oauthcli_home, time.time() + 3600)
    result = run("token", home=oauthcli_home)
    assert result.returncode == 0
    assert result.stdout == "at-123\n"
    assert result.stderr == ""


def test_token_with_unknown_expiry_is_printed(oauthcli_home: Path) -> None:
    store_tokens(oauthcli_home, None)
    assert run("token", home=oauthcli_home).stdout == "at-123\n"


def test_an_expired_token_exits_3_and_is_not_printed(oauthcli_home: Path) -> None:
    store_tokens(oauthcli_home, time.time() - 1)
    result = run("token", home=oauthcli_home)
    assert result.returncode == 3
    assert result.stdout == ""
    assert "at-123" not in result.stderr
    assert "log in again" in result.stderr


def test_oauthcli_profile_selects_the_profile(oauthcli_home: Path) -> None:
    store_tokens(oauthcli_home, time.time() + 3600)
    result = run("token", home=oauthcli_home, OAUTHCLI_PROFILE="other")
    assert result.returncode == 3
    assert "'other'" in result.stderr


def test_c12_a_damaged_store_exits_3_without_a_traceback(oauthcli_home: Path) -> None:
    store_tokens(oauthcli_home, time.time() + 3600)
    path = oauthcli_home / "profiles" / "default.json"
    path.write_text(json.dumps({"version": 1}) + "}garbage")
    result = run("token", home=oauthcli_home)
    assert result.returncode == 3
    assert "damaged" in result.stderr
    assert "Traceback" not in result.stderr
    assert "garbage" not in result.stderr


def test_c12_login_replaces_a_damaged_store_and_keeps_the_bad_file_aside(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    store_tokens(oauthcli_home, time.time() + 3600)
    path = oauthcli_home / "profiles" / "default.json"
    path.write_bytes(b'{"version": 1, "tok')
    result = run(
        "login",
        "--issuer",
        provider.issuer,
        "--client-id",
        "cli-app",
        home=oauthcli_home,
        BROWSER=http_browser,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(path.read_text())["version"] == 1
    aside = list(path.parent.glob("default.json.damaged-*"))
    assert len(aside) == 1
    assert aside[0].read_bytes() == b'{"version": 1, "tok'
    assert oct(path.stat().st_mode)[-3:] == "600"


def test_debug_output_shows_the_steps_and_never_a_secret(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    result = run(
        "--debug",
        "login",
        "--issuer",
        provider.issuer,
        "--client-id",
        "cli-app",
        home=oauthcli_home,
        BROWSER=http_browser,
    )
    assert result.returncode == 0, result.stderr
    assert "POST http://127.0.0.1" in result.stderr
    assert "token endpoint" in result.stderr
    document = json.loads((oauthcli_home / "profiles" / "default.json").read_text())
    for name in ("access_token", "refresh_token", "id_token"):
        assert document["tokens"][name] not in result.stderr
    assert "code=" not in result.stderr.split("open this URL")[-1].split("Waiting")[-1]


def test_verbose_after_the_command_shows_the_steps(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    result = run(
        "login",
        "-v",
        "--issuer",
        provider.issuer,
        "--client-id",
        "cli-app",
        home=oauthcli_home,
        BROWSER=http_browser,
    )
    assert result.returncode == 0, result.stderr
    for step in (
        "found the provider's metadata",
        "listening for the redirect on http://127.0.0.1:",
        "redeeming the authorization code",
        "the ID token is valid",
        "stored the login in",
    ):
        assert step in result.stderr


def test_version_is_printed(oauthcli_home: Path) -> None:
    from oauthcli import __version__

    result = run("--version", home=oauthcli_home)
    assert result.stdout.strip() == f"oauthcli {__version__}"


@pytest.mark.parametrize("profile", ["../x", "a b/c", ""])
def test_a_bad_profile_name_fails_before_the_browser_opens(
    profile: str, oauthcli_home: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "browser-ran"
    result = run(
        "login",
        "--issuer",
        "http://127.0.0.1:9",
        "--client-id",
        "x",
        "--profile",
        profile,
        home=oauthcli_home,
        BROWSER=f"touch {marker} %s",
    )
    assert result.returncode == 2
    assert "profile" in result.stderr
    assert not marker.exists()


def test_an_unusable_oauthcli_home_fails_before_the_browser_opens(
    tmp_path: Path,
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    result = run(
        "login",
        "--issuer",
        "http://127.0.0.1:9",
        "--client-id",
        "x",
        home=not_a_directory,
    )
    # The config file is the first thing read, and its problem is named.
    assert result.returncode == 2
    assert f"cannot read {not_a_directory}/config.toml" in result.stderr


@pytest.mark.parametrize("timeout", ["nan", "inf", "0", "-1", "1e9"])
def test_a_timeout_that_is_not_a_sane_number_is_a_usage_error(
    timeout: str, oauthcli_home: Path
) -> None:
    result = run(
        "login",
        "--issuer",
        "http://127.0.0.1:9",
        "--client-id",
        "x",
        "--timeout",
        timeout,
        home=oauthcli_home,
    )
    assert result.returncode == 2
    assert "--timeout" in result.stderr


def test_an_unreachable_issuer_says_why(oauthcli_home: Path) -> None:
    result = run(
        "login",
        "--issuer",
        "http://127.0.0.1:9",
        "--client-id",
        "x",
        home=oauthcli_home,
    )
    assert result.returncode == 1
    assert "connection refused" in result.stderr
    assert "check the issuer URL" in result.stderr


def test_another_client_id_does_not_inherit_the_stored_ports(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    store_tokens(oauthcli_home, time.time() + 3600)
    entry = json.loads((oauthcli_home / "profiles" / "default.json").read_text())
    entry["settings"] = {
        "issuer": provider.issuer,
        "client_id": "cli-fixed-ports",
        "redirect_ports": [8020, 8021, 8022],
    }
    write_entry("default", entry)
    result = run(
        "login",
        "--client-id",
        "cli-app",
        "--issuer",
        provider.issuer,
        home=oauthcli_home,
        BROWSER=http_browser,
    )
    assert result.returncode == 0, result.stderr
    assert "return to http://127.0.0.1:802" not in result.stderr


def test_an_issuer_without_discovery_fails_at_once_and_says_what_to_check(
    oauthcli_home: Path,
) -> None:
    from clirun import server_without_metadata

    with server_without_metadata() as base:
        issuer = f"{base}/tenant-typo"
        started = time.monotonic()
        result = run(
            "login", "--issuer", issuer, "--client-id", "x", home=oauthcli_home
        )
    assert time.monotonic() - started < 20  # not the 300 s login timeout
    assert result.returncode == 1
    assert result.stderr == (
        f"oauthcli: {issuer} publishes no discovery document (nothing at "
        f"{issuer}/.well-known/openid-configuration): check the issuer URL for a "
        "typo in its path; for a provider without discovery, set its "
        "authorization_endpoint and token_endpoint and discovery = false\n"
    )


def test_configured_endpoints_without_discovery_are_used_with_a_warning(
    oauthcli_home: Path,
) -> None:
    from clirun import server_without_metadata

    with server_without_metadata() as issuer:
        result = run(
            "login",
            "--issuer",
            issuer,
            "--client-id",
            "x",
            "--no-browser",
            "--timeout",
            "1",
            home=oauthcli_home,
            OAUTHCLI_TOKEN_ENDPOINT=f"{issuer}/token",
        )
    assert result.returncode == 1  # nobody logs in within the second
    assert result.stderr.startswith(
        f"oauthcli: warning: {issuer} publishes no discovery document; using "
        f"{issuer}/authorize and {issuer}/token (set discovery = false to skip "
        "looking for it)\n"
    )


def test_provider_text_reaches_the_terminal_without_escape_sequences(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    login_name = "eve\x1b]0;pwned\x07\x1b[2J\u202e"
    result = run(
        "login",
        "--issuer",
        provider.issuer,
        "--client-id",
        "cli-app",
        home=oauthcli_home,
        BROWSER=http_browser,
        OAUTHCLI_TEST_LOGIN=login_name,
    )
    assert result.returncode == 0, result.stderr
    assert "Logged in to" in result.stderr
    status = run("status", home=oauthcli_home)
    for output in (result.stderr, status.stdout):
        assert "\x1b" not in output
        assert "\u202e" not in output
        assert "\x07" not in output


@pytest.mark.parametrize("min_ttl", ["nan", "-1", "inf"])
def test_a_min_ttl_that_is_not_a_sane_number_is_a_usage_error(
    min_ttl: str, oauthcli_home: Path
) -> None:
    store_tokens(oauthcli_home, time.time() + 3600)
    result = run("token", "--min-ttl", min_ttl, home=oauthcli_home)
    assert result.returncode == 2
    assert "--min-ttl" in result.stderr


def test_a_closed_pipe_is_not_a_traceback(oauthcli_home: Path) -> None:
    store_tokens(oauthcli_home, time.time() + 3600, access_token="a" * 200_000)
    environment = dict(os.environ, OAUTHCLI_HOME=str(oauthcli_home))
    result = subprocess.run(  # noqa: S602 - a fixed pipeline, as a user types it
        f"{sys.executable} -m oauthcli token | head -c 10 >/dev/null",
        shell=True,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "Traceback" not in result.stderr
    assert "BrokenPipe" not in result.stderr


def test_an_issuer_httpx_cannot_parse_is_a_clear_error(oauthcli_home: Path) -> None:
    result = run(
        "login",
        "--issuer",
        "http://[::1]evil.com",
        "--client-id",
        "x",
        home=oauthcli_home,
    )
    assert result.returncode == 2  # refused where it is read, before any request
    assert result.stderr == (
        'oauthcli: --issuer is not a valid URL, got "http://[::1]evil.com"\n'
    )


@pytest.mark.parametrize(
    "arguments",
    [
        ["token", "--format", "xml"],
        ["token", "--min-ttl", "abc"],
        ["no-such-command"],
        ["login", "--store", "bogus"],
        ["logout", "--all", "--profile", "x"],
    ],
)
def test_usage_errors_are_one_line_with_exit_2(
    arguments: list[str], oauthcli_home: Path
) -> None:
    result = run(*arguments, home=oauthcli_home)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("oauthcli: ")


def test_a_missing_ca_file_is_a_usage_error_before_anything_happens(
    oauthcli_home: Path,
) -> None:
    result = run(
        "login",
        "--issuer",
        "https://idp.example.test",
        "--client-id",
        "x",
        "--ca-file",
        "/nonexistent/ca.pem",
        home=oauthcli_home,
    )
    assert result.returncode == 2
    assert "--ca-file /nonexistent/ca.pem: no such file" in result.stderr


def test_profiles_without_any_says_so_on_stderr(oauthcli_home: Path) -> None:
    result = run("profiles", home=oauthcli_home)
    assert result.returncode == 0
    assert result.stdout == ""
    assert "No profiles yet" in result.stderr


def test_a_ca_file_that_is_a_directory_says_so(
    oauthcli_home: Path, tmp_path: Path
) -> None:
    result = run(
        "login",
        "--issuer",
        "https://idp.example.test",
        "--client-id",
        "x",
        "--ca-file",
        str(tmp_path),
        home=oauthcli_home,
    )
    assert result.returncode == 2
    assert f"--ca-file {tmp_path}: is not a file" in result.stderr


def test_the_command_does_not_load_httpxs_command_line_yet_keeps_it_working() -> None:
    code = """if True:
        import sys
        from oauthcli.cli import _defer_httpx_command_line
        _defer_httpx_command_line()
        import httpx
        assert "rich.console" not in sys.modules, "httpx loaded its CLI"
        try:
            httpx.main(["--help"])
        except SystemExit as exc:
            assert exc.code == 0
        assert "rich.console" in sys.modules
    """
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: httpx" in result.stdout


def test_the_command_leaves_its_objects_to_the_os_at_exit_and_still_flushes() -> None:
    """Tearing down httpx, cryptography and click would cost ~50 ms per login."""
    code = """if True:
        import atexit, gc, sys
        atexit.register(lambda: print("frozen", gc.get_freeze_count() > 0))
        from oauthcli.cli import main
        main(["--version"])
        main(["--version"])
        sys.stdout.write("unflushed")
    """
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "unflushedfrozen True"
    assert result.stdout.count("oauthcli ") == 2


def _work_profile(home: Path) -> None:
    (home / "config.toml").write_text(
        '[profiles.work]\nissuer = "https://idp.example"\nclient_id = "cli"\n'
    )


@pytest.mark.parametrize(
    "command",
    [("token",), ("whoami",), ("exec", "--", "true"), ("status",)],
)
def test_not_logged_in_hint_of_a_configured_profile_needs_only_the_profile(
    oauthcli_home: Path, command: tuple[str, ...]
) -> None:
    _work_profile(oauthcli_home)
    result = run(command[0], "--profile", "work", *command[1:], home=oauthcli_home)
    assert result.returncode == 3
    shown = result.stderr + result.stdout
    assert "`oauthcli login --profile work`" in shown
    assert "--issuer URL" not in shown


def test_not_logged_in_hint_of_a_git_credential_profile_needs_only_the_profile(
    oauthcli_home: Path,
) -> None:
    (oauthcli_home / "config.toml").write_text(
        '[profiles.work]\nissuer = "https://idp.example"\nclient_id = "cli"\n'
        'hosts = ["git.example.com"]\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "oauthcli", "git-credential", "get"],
        input="protocol=https\nhost=git.example.com\n\n",
        env={**os.environ, "OAUTHCLI_HOME": str(oauthcli_home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout == ""
    assert "`oauthcli login --profile work`" in result.stderr
    assert "--issuer URL" not in result.stderr


def test_a_mistyped_profile_gets_a_did_you_mean(oauthcli_home: Path) -> None:
    _work_profile(oauthcli_home)
    result = run("token", "--profile", "wrok", home=oauthcli_home)
    assert result.returncode == 3
    assert "did you mean 'work'?" in result.stderr
    assert "--profile wrok" in result.stderr


def test_a_damaged_store_says_to_log_in_with_the_profile(oauthcli_home: Path) -> None:
    _work_profile(oauthcli_home)
    (oauthcli_home / "profiles").mkdir(mode=0o700, exist_ok=True)
    path = oauthcli_home / "profiles" / "work.json"
    path.write_text("{garbage")
    path.chmod(0o600)
    result = run("token", "--profile", "work", home=oauthcli_home)
    assert result.returncode == 3
    assert "damaged" in result.stderr
    assert "`oauthcli login --profile work`" in result.stderr


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[profiles.default\n", "not valid TOML"),
        ('[profiles.default]\nisuer = "x"\n', "unknown key profiles.default.isuer"),
    ],
)
def test_token_refuses_a_config_every_other_command_refuses(
    oauthcli_home: Path, text: str, problem: str
) -> None:
    store_tokens(oauthcli_home, time.time() + 3600)
    (oauthcli_home / "config.toml").write_text(text)

    result = run("token", home=oauthcli_home)

    assert result.returncode == 2
    assert result.stdout == ""
    assert problem in result.stderr


def _token_and_path(home: Path) -> tuple[str, str]:
    """`oauthcli token`'s output, and which path gave it ("fast" or "full")."""
    code = (
        "import sys; from oauthcli.cli import main; status = main(['token']); "
        "print('full' if 'click' in sys.modules else 'fast', status)"
    )
    environment = {key: value for key, value in os.environ.items()}
    environment.pop("OAUTHCLI_PROFILE", None)
    environment["OAUTHCLI_HOME"] = str(home)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout, result.stderr


def test_token_takes_the_fast_path_only_for_a_config_the_full_path_checked(
    oauthcli_home: Path,
) -> None:
    store_tokens(oauthcli_home, time.time() + 3600)
    config = oauthcli_home / "config.toml"
    config.write_text('[profiles.default]\nusername = "u"\n')
    stamp = oauthcli_home / "config-checked"

    assert _token_and_path(oauthcli_home) == ("at-123\nfull 0\n", "")
    assert stat.S_IMODE(stamp.stat().st_mode) == 0o600
    assert _token_and_path(oauthcli_home) == ("at-123\nfast 0\n", "")

    config.write_text('[profiles.default]\nusername = "u"\nisuer = "x"\n')
    output, errors = _token_and_path(oauthcli_home)
    assert output == "full 2\n"
    assert "unknown key profiles.default.isuer" in errors

    config.write_text('[profiles.default]\nusername = "v"\n')
    assert _token_and_path(oauthcli_home) == ("at-123\nfull 0\n", "")
    assert _token_and_path(oauthcli_home) == ("at-123\nfast 0\n", "")


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("OAUTHCLI_ENV_VAR", "[bad", "must be a variable name"),
        ("OAUTHCLI_MIN_TTL", "soon", "OAUTHCLI_MIN_TTL"),
    ],
)
def test_token_refuses_a_bad_output_variable_on_the_fast_path_too(
    oauthcli_home: Path, variable: str, value: str, problem: str
) -> None:
    store_tokens(oauthcli_home, time.time() + 3600)
    assert run("token", home=oauthcli_home).stdout == "at-123\n"

    result = run("token", home=oauthcli_home, **{variable: value})

    assert (result.returncode, result.stdout) == (2, "")
    assert problem in result.stderr


@pytest.mark.parametrize(
    ("variables", "config", "said"),
    [
        (
            {"OAUTHCLI_CLIENT_ID": "y"},
            None,
            "environment OAUTHCLI_CLIENT_ID now says client_id y; "
            "the stored login is for x",
        ),
        (
            {"OAUTHCLI_ISSUER": "https://other.test"},
            None,
            "environment OAUTHCLI_ISSUER now says issuer https://other.test; "
            "the stored login is for https://idp.test",
        ),
        (
            {},
            '[profiles.default]\nissuer = "https://new.test"\n',
            "line 2 now says issuer https://new.test; "
            "the stored login is for https://idp.test",
        ),
        (
            {},
            '[profiles.default]\npreset = "google"\nclient_id = "x"\n',
            'preset "google" now says issuer https://accounts.google.com; '
            "the stored login is for https://idp.test",
        ),
        (
            {},
            '[profiles.default]\npreset = "okta"\ndomain = "acme.okta.com"\n',
            'preset "okta" now says issuer https://acme.okta.com/oauth2/default; '
            "the stored login is for https://idp.test",
        ),
    ],
)
def test_token_refuses_a_stored_login_for_another_issuer_or_client(
    oauthcli_home: Path, variables: dict[str, str], config: str | None, said: str
) -> None:
    """Its tokens are not the ones asked for: log in again (exit 3), on the
    fast path too (the second run), and in every output format."""
    store_tokens(oauthcli_home, time.time() + 3600)
    if config is not None:
        (oauthcli_home / "config.toml").write_text(config)

    runs = [
        run("token", home=oauthcli_home, **variables),
        run("token", home=oauthcli_home, **variables),
        run("token", "--format", "json", home=oauthcli_home, **variables),
        run("exec", "--", "true", home=oauthcli_home, **variables),
    ]

    for result in runs:
        assert (result.returncode, result.stdout) == (3, "")
        assert said in result.stderr
        assert "run `oauthcli login --profile default`" in result.stderr


def test_token_takes_the_fast_path_when_the_variables_name_the_stored_login(
    oauthcli_home: Path,
) -> None:
    store_tokens(oauthcli_home, time.time() + 3600)
    (oauthcli_home / "config.toml").write_text(
        '[profiles.default]\nissuer = "https://idp.test/"\nclient_id = "x"\n'
    )
    same = {"OAUTHCLI_ISSUER": "https://idp.test", "OAUTHCLI_CLIENT_ID": "x"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in same.items():
            patch.setenv(name, value)
        assert _token_and_path(oauthcli_home) == ("at-123\nfull 0\n", "")
        assert _token_and_path(oauthcli_home) == ("at-123\nfast 0\n", "")
        patch.setenv("OAUTHCLI_SCOPE", "openid")  # checked by the full path only
        assert _token_and_path(oauthcli_home) == ("at-123\nfull 0\n", "")


def test_token_refuses_a_mistyped_login_variable_with_a_fresh_token(
    oauthcli_home: Path,
) -> None:
    store_tokens(oauthcli_home, time.time() + 3600)
    assert run("token", home=oauthcli_home).stdout == "at-123\n"

    result = run("token", home=oauthcli_home, OAUTHCLI_GRANT_TYPE="client_credential")

    assert (result.returncode, result.stdout) == (2, "")
    assert "OAUTHCLI_GRANT_TYPE must be one of" in result.stderr


def test_status_warns_when_the_config_names_another_issuer_than_the_login(
    oauthcli_home: Path,
) -> None:
    store_tokens(oauthcli_home, time.time() + 3600)
    config = oauthcli_home / "config.toml"
    config.write_text('[profiles.default]\nissuer = "https://idp.test/"\n')
    assert run("status", home=oauthcli_home).stderr == ""

    config.write_text(
        '[profiles.default]\nissuer = "https://new.example"\nclient_id = "x"\n'
    )
    result = run("status", "--format", "json", home=oauthcli_home)

    assert result.returncode == 0
    assert json.loads(result.stdout)["issuer"] == "https://idp.test"
    assert result.stderr == (
        f"oauthcli: warning: {config}, line 2 now says issuer https://new.example; "
        "the stored login is for https://idp.test: "
        "run `oauthcli login --profile default`\n"
    )
    other = run("status", home=oauthcli_home, OAUTHCLI_CLIENT_ID="y")
    assert "environment OAUTHCLI_CLIENT_ID now says client_id y; the stored " in (
        other.stderr
    )


def test_a_readable_secret_is_warned_about_once_per_command(
    oauthcli_home: Path,
) -> None:
    path = oauthcli_home / "config.toml"
    path.write_text(
        '[profiles.work]\nissuer = "https://idp.test"\nclient_id = "x"\n'
        'client_secret = "s"\n'
    )
    path.chmod(0o644)

    result = run("token", "--profile", "work", home=oauthcli_home)

    assert result.returncode == 3
    assert result.stderr.count("holds a client secret and other users can read") == 1


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "1e400", ""])
def test_a_bad_min_ttl_flag_is_refused_in_the_variables_words(
    oauthcli_home: Path, value: str
) -> None:
    for command in (["token"], ["exec", "--", "true"]):
        result = run(*command[:1], "--min-ttl", value, *command[1:], home=oauthcli_home)
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr == (
            f"oauthcli: --min-ttl must be a number of seconds, 0 or more, "
            f"got {value!r}\n"
        )


def test_a_profile_whose_preset_cannot_expand_is_refused_on_every_run(
    oauthcli_home: Path,
) -> None:
    store_tokens(oauthcli_home, time.time() + 3600)
    (oauthcli_home / "config.toml").write_text(
        '[profiles.default]\npreset = "okta"\ndomain = "https://acme.okta.com"\n'
    )

    for _ in range(2):  # the second run would take the fast path
        result = run("token", home=oauthcli_home)
        assert (result.returncode, result.stdout) == (2, "")
        assert "domain must be a host name" in result.stderr


@pytest.mark.parametrize("tamper", ["mode", "owner", "hard link"])
def test_the_fast_path_ignores_a_record_of_the_config_it_did_not_write(
    oauthcli_home: Path, tmp_path: Path, tamper: str
) -> None:
    """A record another user could write (or did) is no record: it could name
    another default profile, or switch the issuer check off."""
    store_tokens(oauthcli_home, time.time() + 3600)
    write_entry(
        "other",
        {
            "settings": {"issuer": "https://idp.test", "client_id": "x"},
            "tokens": {"access_token": "at-other", "expires_at": time.time() + 3600},
        },
    )
    (oauthcli_home / "config.toml").write_text('[profiles.default]\nusername = "u"\n')
    assert _token_and_path(oauthcli_home) == ("at-123\nfull 0\n", "")
    record = oauthcli_home / "config-checked"
    stamp = record.read_bytes().split(b"\n")[0]
    forged = stamp + b'\n{"default_profile": "other", "profiles": {}}\n'
    record.unlink()
    record.write_bytes(forged)
    record.chmod(0o600)
    if tamper == "mode":
        record.chmod(0o666)
    elif tamper == "owner":
        if os.geteuid() != 0:
            pytest.skip("making a file another user's needs root")
        os.chown(record, 2000, 2000)
    else:
        os.link(record, tmp_path / "second-name")

    assert _token_and_path(oauthcli_home) == ("at-123\nfull 0\n", "")
