"""``oauthcli config`` and ``oauthcli profiles``, and logins from config.toml."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from clirun import cli_env, log_in, oauthcli, stored
from localprovider import LocalProvider
from oauthcli.store import write_entry


def home_env(home: Path) -> dict[str, str]:
    return cli_env(home, None)


def test_login_with_a_configured_profile_needs_no_flags(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    (oauthcli_home / "config.toml").write_text(
        "[profiles.work]\n"
        f'issuer = "{provider.issuer}"\n'
        'client_id = "cli-app"\n'
        'scope = "openid email offline_access"\n'
    )
    env = cli_env(oauthcli_home, http_browser)

    result = oauthcli("login", "--profile", "work", "-v", env=env)

    assert result.returncode == 0, result.stderr
    document = stored(oauthcli_home, "work")
    assert document is not None
    assert document["settings"]["issuer"] == provider.issuer
    assert document["settings"]["scope"] == "openid email offline_access"
    assert f"setting scope from {oauthcli_home / 'config.toml'}, line 4" in (
        result.stderr
    )


def test_a_flag_beats_the_environment_which_beats_the_file(
    oauthcli_home: Path,
) -> None:
    (oauthcli_home / "config.toml").write_text(
        '[profiles.default]\nissuer = "https://file.example"\nclient_id = "c"\n'
        'scope = "openid"\n'
    )
    env = {**home_env(oauthcli_home), "OAUTHCLI_SCOPE": "openid email"}

    shown = oauthcli("config", "show", env=env).stdout

    assert re.search(
        r"^scope     = openid email +# environment OAUTHCLI_SCOPE$", shown, re.M
    )
    assert f"issuer    = https://file.example  # {oauthcli_home}" in shown
    # The comments line up (a value shorter than the longest is padded).
    columns = {line.index("  # ") for line in shown.splitlines()}
    assert len(columns) == 1


def test_an_invalid_config_names_the_file_line_and_key(oauthcli_home: Path) -> None:
    path = oauthcli_home / "config.toml"
    path.write_text(
        '[profiles.work]\nissuer = "https://idp.example"\ntimeout = "soon"\n'
    )

    result = oauthcli("login", "--profile", "work", env=home_env(oauthcli_home))

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"{path}, line 3" in result.stderr
    assert "profiles.work.timeout" in result.stderr


def test_config_set_then_get_round_trips_and_keeps_comments(
    oauthcli_home: Path,
) -> None:
    path = oauthcli_home / "config.toml"
    path.write_text(
        '# my providers\n[profiles.work]\n# the tenant\'s issuer\nissuer = "https://a.example"\n'
    )
    env = home_env(oauthcli_home)

    assert (
        oauthcli(
            "config", "set", "--profile", "work", "client_id", "abc", env=env
        ).returncode
        == 0
    )
    result = oauthcli("config", "get", "--profile", "work", "client_id", env=env)

    assert result.stdout == "abc\n"
    text = path.read_text()
    assert "# my providers" in text
    assert "# the tenant's issuer" in text
    assert oct(path.stat().st_mode)[-3:] == "600"


def test_a_client_secret_is_set_from_stdin_and_never_printed(
    oauthcli_home: Path,
) -> None:
    env = home_env(oauthcli_home)
    result = oauthcli(
        "config",
        "set",
        "--profile",
        "ci",
        "client_secret",
        "-",
        env=env,
        input="s3cret-value\n",
    )
    assert result.returncode == 0, result.stderr
    assert (
        'client_secret = "s3cret-value"' in (oauthcli_home / "config.toml").read_text()
    )

    shown = oauthcli("config", "show", "--profile", "ci", env=env)
    got = oauthcli("config", "get", "--profile", "ci", "client_secret", env=env)

    assert "s3cret-value" not in shown.stdout + shown.stderr
    assert "[redacted]" in shown.stdout
    assert got.returncode == 2
    assert "s3cret-value" not in got.stdout + got.stderr


def test_profiles_add_show_and_remove(oauthcli_home: Path) -> None:
    env = home_env(oauthcli_home)
    added = oauthcli(
        "profiles",
        "add",
        "corp",
        "--preset",
        "keycloak",
        "--set",
        "base_url=https://sso.example.com",
        "--set",
        "realm=staff",
        "--set",
        "client_id=cli",
        "--default",
        env=env,
    )
    assert added.returncode == 0, added.stderr

    listed = oauthcli("profiles", env=env)
    shown = oauthcli("profiles", "show", "corp", env=env)
    removed = oauthcli("profiles", "remove", "corp", env=env)
    after = oauthcli("profiles", env=env)

    assert listed.stdout == "* corp\n"
    issuer = next(
        line for line in shown.stdout.splitlines() if line.startswith("issuer")
    )
    assert issuer.split() == [
        "issuer",
        "=",
        "https://sso.example.com/realms/staff",
        "#",
        "preset",
        '"keycloak"',
    ]
    assert removed.returncode == 0, removed.stderr
    assert after.stdout == ""


def test_adding_a_profile_twice_is_refused(oauthcli_home: Path) -> None:
    env = home_env(oauthcli_home)
    first = oauthcli(
        "profiles", "add", "p", "--set", "issuer=https://a.example", env=env
    )
    second = oauthcli(
        "profiles", "add", "p", "--set", "issuer=https://b.example", env=env
    )
    assert first.returncode == 0, first.stderr
    assert second.returncode == 2
    assert "already in the config file" in second.stderr


def test_removing_a_profile_logs_it_out_too(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = log_in(provider, oauthcli_home, http_browser)
    result = oauthcli("profiles", "remove", "default", env=env)
    assert result.returncode == 0, result.stderr
    assert stored(oauthcli_home) is None
    assert "logged it out" in result.stderr


def store_fresh(profile: str, token: str, left: float = 3600, age: float = 0) -> None:
    now = time.time()
    write_entry(
        profile,
        {
            "settings": {"issuer": "https://idp.test", "client_id": "x"},
            "tokens": {
                "access_token": token,
                "expires_at": now + left,
                "obtained_at": now - age,
            },
        },
    )


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ('default_profile = "work"\n', "work"),
        ("default_profile = 'work'  # mine\n", "work"),
        ('"default_profile" = "work"\n', "work"),
        ('default_profile = """work"""\n', "work"),
        ('default_profile="work"\n[profiles.work]\nscope = "x"\n', "work"),
        ('"default\\u005fprofile" = "work"\n', "work"),
        # U+2028 ends a line for str.splitlines, not for TOML: all one comment.
        (
            '# a\u2028default_profile = "work"\n[profiles.default]\nscope = "x"\n',
            "default",
        ),
        # A line of a multi-line string, not a key.
        (
            '[profiles.default]\naudience = """\ndefault_profile = "work"\n"""\n',
            "default",
        ),
        (
            'profiles = { default = { audience = """\ndefault_profile = "work"\n""" } }'
            "\n",
            "default",
        ),
    ],
)
def test_the_fast_path_and_the_full_path_agree_on_the_default_profile(
    config: str, expected: str, oauthcli_home: Path
) -> None:
    os.environ["OAUTHCLI_HOME"] = str(oauthcli_home)
    store_fresh("default", "token-of-default")
    store_fresh("work", "token-of-work")
    (oauthcli_home / "config.toml").write_text(config)
    env = home_env(oauthcli_home)

    full = oauthcli("token", "--format", "json", env=env)
    first = oauthcli("token", env=env)  # the full path, which records the file
    again = oauthcli("token", env=env)  # the fast path, from that record

    assert f'"access_token": "token-of-{expected}"' in full.stdout, full.stderr
    assert first.stdout == again.stdout == f"token-of-{expected}\n", again.stderr
    assert (oauthcli_home / "config-checked").exists()


def test_a_profiles_min_ttl_in_the_config_is_honoured_by_token(
    oauthcli_home: Path,
) -> None:
    os.environ["OAUTHCLI_HOME"] = str(oauthcli_home)
    store_fresh("default", "half-used", left=1800, age=1800)
    store_fresh("work", "also-half-used", left=1800, age=1800)
    env = home_env(oauthcli_home)
    assert oauthcli("token", env=env).stdout == "half-used\n"
    # 30 minutes left, but the profile wants 40: the token must be refreshed,
    # and with no refresh token that means "log in again". The second round
    # takes the fast path, with the min_ttl the full path recorded.
    (oauthcli_home / "config.toml").write_text(
        "[profiles.default]\nmin_ttl = 2400\n[profiles.work]\nmin_ttl = 600\n"
    )
    for _ in range(2):
        result = oauthcli("token", env=env)
        assert result.returncode == 3
        assert result.stdout == ""
        work = oauthcli("token", "--profile", "work", env=env)
        assert work.stdout == "also-half-used\n"
    assert oauthcli("token", "--min-ttl", "60", env=env).stdout == "half-used\n"


def test_removing_the_only_profile_leaves_an_empty_config(oauthcli_home: Path) -> None:
    """It used to fail: the file without [profiles.a] parses to no "profiles"
    table at all, which the edit check took for a different document."""
    path = oauthcli_home / "config.toml"
    path.write_text('[profiles.a]\nissuer = "https://a.example"\n')
    path.chmod(0o600)

    result = oauthcli(
        "profiles", "remove", "a", "--keep-login", env=home_env(oauthcli_home)
    )

    assert result.returncode == 0, result.stderr
    assert "[profiles.a]" not in path.read_text()


def test_the_fast_path_does_not_trust_a_config_others_can_write(
    oauthcli_home: Path,
) -> None:
    os.environ["OAUTHCLI_HOME"] = str(oauthcli_home)
    store_fresh("default", "token-of-default")
    store_fresh("work", "token-of-work")
    path = oauthcli_home / "config.toml"
    path.write_text('default_profile = "work"\n')
    path.chmod(0o666)

    result = oauthcli("token", env=home_env(oauthcli_home))

    assert result.returncode == 2
    assert result.stdout == ""
    assert "writable by other users" in result.stderr


def test_token_does_not_need_the_login_options_to_be_complete(
    oauthcli_home: Path,
) -> None:
    """A preset missing its parameter breaks `login`, not handing out tokens."""
    os.environ["OAUTHCLI_HOME"] = str(oauthcli_home)
    store_fresh("work", "token-of-work")
    (oauthcli_home / "config.toml").write_text(
        '[profiles.work]\npreset = "entra"\nclient_id = "x"\n'  # the stored client
    )
    env = home_env(oauthcli_home)

    result = oauthcli("token", "--profile", "work", "--format", "json", env=env)
    login = oauthcli("login", "--profile", "work", env=env)

    assert result.returncode == 0, result.stderr
    assert '"access_token": "token-of-work"' in result.stdout
    assert login.returncode == 2
    assert 'preset "entra" needs tenant' in login.stderr


def test_a_login_that_names_issuer_and_client_inherits_nothing_from_the_last(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = log_in(provider, oauthcli_home, http_browser, "--param", "ui_locales=de")
    first = stored(oauthcli_home)
    assert first is not None
    assert first["settings"]["params"] == {"ui_locales": "de"}

    again = oauthcli(
        "login", "--issuer", provider.issuer, "--client-id", "cli-app", env=env
    )
    bare = oauthcli("login", "-v", env=env)

    assert again.returncode == 0, again.stderr
    assert bare.returncode == 0, bare.stderr
    second = stored(oauthcli_home)
    assert second is not None
    assert "params" not in second["settings"]
    assert "setting issuer from the profile's last login" in bare.stderr


def test_concurrent_config_edits_all_land(oauthcli_home: Path) -> None:
    import subprocess
    import sys

    env = home_env(oauthcli_home)
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "oauthcli",
                "config",
                "set",
                "--profile",
                f"p{i}",
                "client_id",
                f"c{i}",
            ],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        for i in range(8)
    ]
    assert [process.wait(timeout=60) for process in processes] == [0] * 8
    result = oauthcli("profiles", env=env)
    assert result.stdout.split() == [f"p{i}" for i in range(8)]


def test_profiles_add_with_a_mistyped_preset_suggests_the_preset(
    oauthcli_home: Path,
) -> None:
    result = oauthcli(
        "profiles",
        "add",
        "x",
        "--preset",
        "oktaa",
        "--set",
        "client_id=1",
        env=home_env(oauthcli_home),
    )
    assert result.returncode == 2
    assert "did you mean okta?" in result.stderr
    assert not (oauthcli_home / "config.toml").exists()


@pytest.mark.parametrize("flow", ["--no-browser", "--device"])
def test_a_google_profile_without_its_secret_cannot_log_in_and_says_why(
    oauthcli_home: Path, flow: str
) -> None:
    env = home_env(oauthcli_home)
    added = oauthcli(
        "profiles", "add", "g", "--preset", "google", "--set", "client_id=1", env=env
    )
    assert added.returncode == 0, added.stderr

    login = oauthcli("login", "--profile", "g", flow, env=env, timeout=30)

    assert login.returncode == 2
    assert "needs the client secret" in login.stderr
    assert "--client-secret" in login.stderr
    assert "OAUTHCLI_CLIENT_SECRET" in login.stderr
    assert "open this URL" not in login.stderr  # refused before any request
    assert "enter the code" not in login.stderr


def test_profiles_add_with_one_bad_value_changes_nothing(oauthcli_home: Path) -> None:
    env = home_env(oauthcli_home)
    bad = oauthcli(
        "profiles",
        "add",
        "work",
        "--preset",
        "keycloak",
        "--set",
        "realm=staff",
        "--set",
        "bogus=1",
        "--default",
        env=env,
    )
    assert bad.returncode == 2
    assert not (oauthcli_home / "config.toml").exists()
    good = oauthcli(
        "profiles",
        "add",
        "work",
        "--preset",
        "keycloak",
        "--set",
        "realm=staff",
        env=env,
    )
    assert good.returncode == 0, good.stderr


_SCHEME_RULE = "must start with https:// (http:// only for 127.0.0.1, ::1 or localhost)"


@pytest.mark.parametrize(
    ("issuer", "flag"),
    [
        ("127.0.0.1:40637", "--issuer"),
        ("notaurl", "--issuer"),
        ("http://example.com", "--issuer"),
        ("notaurl", "OAUTHCLI_ISSUER"),
    ],
)
def test_an_issuer_that_is_not_an_https_url_is_a_usage_error_before_any_request(
    oauthcli_home: Path, issuer: str, flag: str
) -> None:
    env = home_env(oauthcli_home)
    args = ["login", "--client-id", "cli-app", "--timeout", "5"]
    if flag == "--issuer":
        args += ["--issuer", issuer]
    else:
        env[flag] = issuer

    result = oauthcli(*args, env=env)

    assert result.returncode == 2, result.stderr
    assert result.stderr == f'oauthcli: {flag} {_SCHEME_RULE}, got "{issuer}"\n'


def test_config_set_refuses_an_issuer_that_is_not_a_url(oauthcli_home: Path) -> None:
    result = oauthcli(
        "config",
        "set",
        "--profile",
        "z",
        "issuer",
        "notaurl",
        env=home_env(oauthcli_home),
    )

    assert result.returncode == 2
    assert f'profiles.z.issuer {_SCHEME_RULE}, got "notaurl"' in result.stderr
    assert not (oauthcli_home / "config.toml").exists()


def test_a_config_issuer_with_another_scheme_names_file_line_and_key(
    oauthcli_home: Path,
) -> None:
    path = oauthcli_home / "config.toml"
    path.write_text('[profiles.z]\nclient_id = "cli-app"\nissuer = "ftp://x"\n')

    result = oauthcli("login", "--profile", "z", env=home_env(oauthcli_home))

    assert result.returncode == 2
    assert result.stderr == (
        f'oauthcli: {path}, line 3: profiles.z.issuer {_SCHEME_RULE}, got "ftp://x"\n'
    )


def test_config_set_takes_a_toml_array_for_a_list_key(oauthcli_home: Path) -> None:
    env = home_env(oauthcli_home)
    array = '["git.example.com", "registry.example.com"]'

    result = oauthcli("config", "set", "--profile", "work", "hosts", array, env=env)

    assert result.returncode == 0, result.stderr
    assert (
        'hosts = ["git.example.com", "registry.example.com"]'
        in (oauthcli_home / "config.toml").read_text()
    )
    got = oauthcli("config", "get", "--profile", "work", "hosts", env=env)
    assert got.stdout == "git.example.com registry.example.com\n"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("hosts", '"git.example.com"]'),
        ("hosts", "[" + "1" * 5000 + "]"),  # int() refuses over 4300 digits
        ("require_scope", "[" * 2000 + "]" * 2000),
    ],
)
def test_config_set_refuses_half_an_array_or_an_unreadable_one(
    oauthcli_home: Path, key: str, value: str
) -> None:
    env = home_env(oauthcli_home)
    result = oauthcli("config", "set", "--profile", "work", key, value, env=env)
    assert result.returncode == 2
    assert 'or an array like ["a", "b"]' in result.stderr
    assert "Traceback" not in result.stderr
    assert not (oauthcli_home / "config.toml").exists()


def test_profiles_add_refuses_an_unreadable_array(oauthcli_home: Path) -> None:
    env = home_env(oauthcli_home)
    value = "hosts=[" + "1" * 5000 + "]"
    result = oauthcli("profiles", "add", "w2", "--set", value, env=env)
    assert result.returncode == 2
    assert 'or an array like ["a", "b"]' in result.stderr
    assert not (oauthcli_home / "config.toml").exists()


def test_config_set_help_documents_the_list_syntax(oauthcli_home: Path) -> None:
    shown = oauthcli("config", "set", "--help", env=home_env(oauthcli_home)).stdout
    assert "TOML array" in " ".join(shown.split())
    assert "Examples:" in shown


def test_config_set_says_when_it_creates_a_profile(oauthcli_home: Path) -> None:
    env = home_env(oauthcli_home)
    first = oauthcli("config", "set", "--profile", "new", "scope", "openid", env=env)
    again = oauthcli("config", "set", "--profile", "new", "scope", "email", env=env)
    assert "Created profile 'new'" in first.stderr
    assert "Created profile" not in again.stderr


def test_profiles_show_of_no_profile_exits_2_like_remove(oauthcli_home: Path) -> None:
    env = home_env(oauthcli_home)
    shown = oauthcli("profiles", "show", "nosuch", env=env)
    removed = oauthcli("profiles", "remove", "nosuch", env=env)
    assert shown.returncode == removed.returncode == 2
    assert "there is no profile 'nosuch'" in shown.stderr


def test_profiles_show_of_a_stored_login_only_shows_what_is_stored(
    oauthcli_home: Path,
) -> None:
    os.environ["OAUTHCLI_HOME"] = str(oauthcli_home)
    write_entry(
        "old",
        {
            "settings": {"issuer": "https://idp.test", "client_id": "x"},
            "tokens": {},
        },
    )
    result = oauthcli("profiles", "show", "old", env=home_env(oauthcli_home))
    assert result.returncode == 0, result.stderr
    assert re.search(r"^client_id = x +# stored login$", result.stdout, re.M)
    assert "issuer    = https://idp.test  # stored login" in result.stdout


def test_config_show_of_a_profile_only_stored_shows_the_stored_settings(
    oauthcli_home: Path,
) -> None:
    # It said only "Profile 'default' sets nothing in .../config.toml".
    os.environ["OAUTHCLI_HOME"] = str(oauthcli_home)
    write_entry(
        "default",
        {"settings": {"issuer": "https://idp.test", "client_id": "x"}, "tokens": {}},
    )
    result = oauthcli("config", "show", env=home_env(oauthcli_home))
    assert result.returncode == 0, result.stderr
    assert "its stored login has" in result.stderr
    assert "issuer    = https://idp.test  # stored login" in result.stdout


def test_config_get_of_an_unset_key_says_so_and_exits_1(oauthcli_home: Path) -> None:
    (oauthcli_home / "config.toml").write_text(
        '[profiles.dev]\nissuer = "https://idp.test"\n'
    )
    result = oauthcli(
        "config", "get", "--profile", "dev", "scope", env=home_env(oauthcli_home)
    )
    assert result.returncode == 1
    assert result.stdout == ""
    # Prefixed like every other message oauthcli writes to stderr.
    assert result.stderr == "oauthcli: scope is not set in profile dev\n"


def test_config_get_in_a_profile_that_does_not_exist_says_so(
    oauthcli_home: Path,
) -> None:
    # A mistyped profile name read as a key that is not set.
    (oauthcli_home / "config.toml").write_text(
        '[profiles.dev]\nissuer = "https://idp.test"\n'
    )
    result = oauthcli(
        "config", "get", "--profile", "dve", "issuer", env=home_env(oauthcli_home)
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("oauthcli: there is no profile dve ")
    assert "oauthcli profiles list" in result.stderr


def test_config_get_of_a_mistyped_key_suggests_the_key(oauthcli_home: Path) -> None:
    result = oauthcli(
        "config", "get", "--profile", "dev", "isuer", env=home_env(oauthcli_home)
    )
    assert result.returncode == 2
    assert "did you mean issuer?" in result.stderr


def test_config_show_warns_once_about_a_readable_secret(oauthcli_home: Path) -> None:
    path = oauthcli_home / "config.toml"
    path.write_text('[profiles.default]\nclient_secret = "not-shown"\n')
    path.chmod(0o644)
    result = oauthcli("config", "show", env=home_env(oauthcli_home))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("holds a client secret") == 1
    assert "not-shown" not in result.stdout + result.stderr


def test_config_keys_quotes_the_choices(oauthcli_home: Path) -> None:
    shown = oauthcli("config", "keys", env=home_env(oauthcli_home)).stdout
    line = next(x for x in shown.splitlines() if x.startswith("scope_separator"))
    assert 'one of " ", ",":' in line


@pytest.mark.parametrize(
    "command",
    [
        ("profiles", "list"),
        ("profiles", "show"),
        ("profiles", "remove"),
        ("config", "path"),
        ("config", "show"),
        ("config", "get"),
        ("config", "set"),
        ("config", "unset"),
        ("config", "keys"),
        ("config", "presets"),
        ("docker-credential",),
    ],
)
def test_help_shows_examples(oauthcli_home: Path, command: tuple[str, ...]) -> None:
    result = oauthcli(*command, "--help", env=home_env(oauthcli_home))
    assert result.returncode == 0, result.stderr
    assert "\nExamples:\n" in result.stdout.replace("  Examples:", "Examples:")


def test_a_usage_error_points_to_the_subcommands_help(oauthcli_home: Path) -> None:
    env = home_env(oauthcli_home)
    token = oauthcli("token", "--format", env=env)
    logout = oauthcli("logout", "--profile", env=env)
    assert token.returncode == logout.returncode == 2
    assert "(see `oauthcli token --help`)" in token.stderr
    assert "(see `oauthcli logout --help`)" in logout.stderr


def test_a_zero_timeout_is_shown_as_0(oauthcli_home: Path) -> None:
    result = oauthcli(
        "login",
        "--timeout",
        "0",
        "--issuer",
        "https://idp.example",
        "--client-id",
        "x",
        env=home_env(oauthcli_home),
    )
    assert result.returncode == 2
    assert result.stderr.rstrip().endswith("got 0")


def test_a_preset_parameter_is_named_with_its_flag(oauthcli_home: Path) -> None:
    result = oauthcli(
        "login",
        "--preset",
        "keycloak",
        "--client-id",
        "x",
        env=home_env(oauthcli_home),
    )
    assert result.returncode == 2
    assert "needs base_url and realm (--base-url and --realm)" in result.stderr


def test_config_show_of_a_stored_login_names_every_setting_by_its_config_key(
    oauthcli_home: Path,
) -> None:
    # params, redirect_ports and redirect_url were left out: the store's
    # names are not config.toml's.
    os.environ["OAUTHCLI_HOME"] = str(oauthcli_home)
    (oauthcli_home / "config.toml").write_text("[profiles.st]\n")
    write_entry(
        "st",
        {
            "settings": {
                "issuer": "https://idp.test",
                "client_id": "x",
                "params": {"max_age": "300", "login_hint": "bob"},
                "redirect_ports": [18120, 18121],
                "redirect_url": "http://[::1]/cb",
                "device": True,
            },
            "tokens": {},
        },
    )
    result = oauthcli("config", "show", "--profile", "st", env=home_env(oauthcli_home))
    assert result.returncode == 0, result.stderr
    assert "Profile 'st' sets nothing in config.toml; its stored login has" in (
        result.stderr
    )
    shown = {
        line.split(" = ")[0].strip(): line.split(" = ")[1].split("  # ")[0].strip()
        for line in result.stdout.splitlines()
    }
    assert shown == {
        "client_id": "x",
        "device": "true",  # as config.toml writes it, not Python's True
        "issuer": "https://idp.test",
        "param": "max_age=300 login_hint=bob",
        "port": "18120,18121",
        "redirect_host": "[::1]",
        "redirect_path": "/cb",
    }


def test_config_get_tells_an_unset_key_from_a_missing_profile(
    oauthcli_home: Path,
) -> None:
    os.environ["OAUTHCLI_HOME"] = str(oauthcli_home)
    write_entry("st", {"settings": {"issuer": "https://idp.test"}, "tokens": {}})
    env = home_env(oauthcli_home)
    only_env = {
        **env,
        "OAUTHCLI_PROFILE": "ci",
        "OAUTHCLI_ISSUER": "https://id.example.com",
    }

    from_env = oauthcli("config", "get", "audience", env=only_env)
    stored_only = oauthcli("config", "get", "--profile", "st", "issuer", env=env)
    escaped = oauthcli("config", "get", "--profile", "a\u202eb", "issuer", env=env)
    invalid = oauthcli("config", "get", "--profile", "../etc", "issuer", env=env)

    assert (from_env.returncode, from_env.stderr) == (
        1,
        "oauthcli: audience is not set in profile ci\n",
    )
    assert stored_only.returncode == 1
    assert "its stored login has one" in stored_only.stderr
    assert escaped.returncode != 0
    assert "\u202e" not in escaped.stderr
    assert invalid.returncode == 2
    assert "there is no profile" not in invalid.stderr


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8080/cb", "127.0.0.1"),
        ("http://[::1]/cb", "[::1]"),
        ("http://[::1]:8080/cb", "[::1]"),
        ("http://localhost:99999/cb", "localhost"),  # urlsplit's .port raises here
    ],
)
def test_a_stored_redirect_url_is_shown_as_host_and_path(url: str, host: str) -> None:
    from oauthcli.commands.config import _as_config_keys

    keys = _as_config_keys({"redirect_url": url})
    assert (keys["redirect_host"], keys["redirect_path"]) == (host, "/cb")
