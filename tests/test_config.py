"""The config file: checks with file and line, precedence, origins, edits."""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from oauthcli import config
from oauthcli.config import (
    KEYS,
    Origin,
    config_path,
    load_config,
    remove_profile,
    resolve_login_options,
    resolve_profile_name,
    set_default_profile,
    set_value,
    unset_value,
)
from oauthcli.errors import ConfigError, LocalError

TENANT = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"


_SCHEME_RULE = "must start with https:// (http:// only for 127.0.0.1, ::1 or localhost)"


def write(home: Path, text: str, mode: int = 0o600) -> Path:
    path = home / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def load_error(home: Path, text: str) -> str:
    write(home, text)
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert caught.value.code == "invalid_config"
    return caught.value.message


def resolve(
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    profile: str = "work",
) -> config.ResolvedOptions:
    return resolve_login_options(profile, flags or {}, environ or {})


# Where the file is


def test_the_file_is_in_oauthcli_home_when_it_is_set(oauthcli_home: Path) -> None:
    assert config_path() == oauthcli_home / "config.toml"


def test_the_file_is_in_the_user_config_directory_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OAUTHCLI_HOME", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))

    if sys.platform != "linux":
        pytest.skip("XDG_CONFIG_HOME is the Linux convention")
    assert config_path() == tmp_path / "xdg" / "oauthcli" / "config.toml"


def test_a_missing_file_is_an_empty_config(oauthcli_home: Path) -> None:
    loaded = load_config()

    assert loaded.profiles == {}
    assert loaded.default_profile is None
    assert resolve().values == {}


def test_values_are_normalised_when_read(oauthcli_home: Path) -> None:
    write(
        oauthcli_home,
        """
[profiles.work]
scope = ["openid", "email"]
port = "8020-8022"
redirect_host = "::1"
timeout = 30
require_scope = "read write"
preset = "azure"
tenant = "consumers"
""",
    )

    work = load_config().profiles["work"]

    assert work["scope"] == "openid email"
    assert work["port"] == (8020, 8021, 8022)
    assert work["redirect_host"] == "[::1]"
    assert work["timeout"] == 30.0
    assert work["require_scope"] == ("read", "write")
    assert work["preset"] == "entra"


def test_a_relative_ca_file_is_relative_to_the_config_file(
    oauthcli_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    write(
        oauthcli_home,
        '[profiles.a]\nca_file = "certs/ca.pem"\n[profiles.b]\nca_file = "~/ca.pem"\n',
    )

    profiles = load_config().profiles

    assert profiles["a"]["ca_file"] == str(oauthcli_home / "certs" / "ca.pem")
    assert profiles["b"]["ca_file"] == str(tmp_path / "user" / "ca.pem")


# Every check, with the file, the line and the key


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('timeout = "soon"', 'timeout must be a number of seconds, got "soon"'),
        ("timeout = true", "timeout must be a number of seconds, got true"),
        ("timeout = 0", "timeout must be more than 0 and at most 86400 seconds, got 0"),
        (
            "timeout = nan",
            "timeout must be more than 0 and at most 86400 seconds, got nan",
        ),
        ("min_ttl = -1", "min_ttl must be a number of seconds, 0 or more, got -1"),
        (
            "port = 70000",
            "port must be a port N, a range A-B or a list A,B (1-65535), got 70000",
        ),
        (
            'port = "a-b"',
            'port must be a port N, a range A-B or a list A,B (1-65535), got "a-b"',
        ),
        ('device = "yes"', 'device must be true or false, got "yes"'),
        ("no_browser = 1", "no_browser must be true or false, got 1"),
        ("dpop = []", "dpop must be true or false, got a list"),
        ("discovery = 0", "discovery must be true or false, got 0"),
        ('store = "disk"', 'store must be one of file, keyring, auto, got "disk"'),
        (
            'token_endpoint_auth_method = "tls_client_auth"',
            "token_endpoint_auth_method must be one of none, client_secret_basic, "
            'client_secret_post, private_key_jwt, got "tls_client_auth"',
        ),
        (
            'grant_type = "password"',
            "grant_type must be one of authorization_code, client_credentials, "
            'got "password"',
        ),
        (
            'redirect_host = "example.com"',
            "redirect_host must be one of 127.0.0.1, localhost, [::1], ::1, got "
            '"example.com"',
        ),
        (
            'redirect_path = "callback"',
            'redirect_path must start with /, got "callback"',
        ),
        (
            "scope = 3",
            "scope must be space-separated scopes or a list of scopes, got 3",
        ),
        (
            'scope = ["a b"]',
            "scope must be space-separated scopes or a list of scopes, got a list",
        ),
        (
            "require_scope = [1]",
            "require_scope must be a list of strings without spaces, got a list",
        ),
        (
            'param = "prompt=login"',
            'param must be a table of parameters (name = "value"), got "prompt=login"',
        ),
        (
            "param = { max_age = 0 }",
            "param must be a table of parameters (name = \"value\"); 'max_age' is not, "
            "got a table",
        ),
        ('issuer = ""', 'issuer must not be empty, got ""'),
        ('issuer = "https://a b"', 'issuer must not contain spaces, got "https://a b"'),
        ("audience = false", "audience must be a string, got false"),
        ("connection = 1979-05-27", "connection must be a string, got a date or time"),
        (
            'env_var = "MY-TOKEN"',
            'env_var must be a variable name (letters, digits and _), got "MY-TOKEN"',
        ),
        (
            'hosts = "github.com"',
            'hosts must be a list of strings without spaces, got "github.com"',
        ),
        (
            'id_token_issuers = ["a", ""]',
            "id_token_issuers must be a list of strings without spaces, got a list",
        ),
        ('username = " "', 'username must not be empty, got " "'),
        (
            'preset = "ping"',
            "preset must be one of auth0, entra, github, google, keycloak, okta, "
            'got "ping"',
        ),
        (
            'token_endpoint = "ftp://idp.example/token"',
            f'token_endpoint {_SCHEME_RULE}, got "ftp://idp.example/token"',
        ),
        ('base_url = "sso.example"', f'base_url {_SCHEME_RULE}, got "sso.example"'),
        ('issuer = "ftp://x"', f'issuer {_SCHEME_RULE}, got "ftp://x"'),
        ('issuer = "notaurl"', f'issuer {_SCHEME_RULE}, got "notaurl"'),
        (
            'issuer = "127.0.0.1:40637"',
            f'issuer {_SCHEME_RULE}, got "127.0.0.1:40637"',
        ),
        (
            'issuer = "http://example.com"',
            f'issuer {_SCHEME_RULE}, got "http://example.com"',
        ),
        (
            'issuer = "https://"',
            'issuer must name a host after https://, got "https://"',
        ),
        (
            'issuer = "https://[::1]x"',
            'issuer is not a valid URL, got "https://[::1]x"',
        ),
        (
            'issuer = "https://[v1.fe]"',
            'issuer is not a valid URL, got "https://[v1.fe]"',
        ),
        (
            'token_endpoint = "https://1.2.3.999/token"',
            'token_endpoint is not a valid URL, got "https://1.2.3.999/token"',
        ),
        (
            'issuer = "https://idp.example/?tenant=a"',
            "issuer must not have a query (RFC 8414 section 2), "
            'got "https://idp.example/?tenant=a"',
        ),
        (
            'jwks_uri = "https://u:p@idp.example/jwks"',
            "jwks_uri must not carry a user name or password, "
            'got "https://u:p@idp.example/jwks"',
        ),
        (
            'userinfo_endpoint = "https://idp.example/me#x"',
            "userinfo_endpoint must not have a fragment (#...), "
            'got "https://idp.example/me#x"',
        ),
        ('scope_separator = ";"', 'scope_separator must be " " or ",", got ";"'),
        ("tenant = 42", "tenant must be a string, got 42"),
    ],
)
def test_a_bad_value_is_named_with_file_line_and_key(
    oauthcli_home: Path, line: str, problem: str
) -> None:
    message = load_error(oauthcli_home, f'[profiles.work]\nclient_id = "c"\n{line}\n')

    path = oauthcli_home / "config.toml"
    assert message == f"{path}, line 3: profiles.work.{problem}"


def test_a_bad_client_id_is_named_on_its_line(oauthcli_home: Path) -> None:
    message = load_error(oauthcli_home, "[profiles.work]\nclient_id = 5\n")

    path = oauthcli_home / "config.toml"
    assert message == f"{path}, line 2: profiles.work.client_id must be a string, got 5"


@pytest.mark.parametrize("secret", ['"   "', "12345", '["s3cr3t"]'])
def test_a_bad_client_secret_is_never_shown(oauthcli_home: Path, secret: str) -> None:
    message = load_error(oauthcli_home, f"[profiles.work]\nclient_secret = {secret}\n")

    assert "s3cr3t" not in message
    assert "12345" not in message
    assert message.startswith(
        f"{oauthcli_home / 'config.toml'}, line 2: profiles.work.client_secret must"
    )
    assert message.endswith(("got a string", "got a number", "got a list"))


def test_values_with_control_characters_are_shown_sanitised(
    oauthcli_home: Path,
) -> None:
    message = load_error(oauthcli_home, '[profiles.w]\nstore = "\\u001b[31mx"\n')

    assert "\x1b" not in message
    assert message.endswith('got "\\u001b[31mx"')


def test_an_unknown_key_with_a_bidi_override_is_shown_escaped(
    oauthcli_home: Path,
) -> None:
    # The key was shown raw: U+202E reorders the rest of the terminal line.
    message = load_error(oauthcli_home, '[profiles.work]\n"\\u202eissuer" = 1\n')

    assert "\u202e" not in message
    assert message == (
        f"{oauthcli_home / 'config.toml'}, line 2: unknown key "
        'profiles.work."\\u202eissuer" (did you mean issuer?)'
    )


# Lines, whatever way the key was written


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[profiles.work]\n\ntimeout = "soon"\n', 3),
        ('[profiles."work"]\ntimeout = "soon"\n', 2),
        ("[ profiles . 'work' ]\n# note\ntimeout = 'soon'\n", 3),
        ('# top\nprofiles.work.timeout = "soon"\n', 2),
        ('[profiles]\nwork.issuer = "https://i"\nwork.timeout = "soon"\n', 3),
        ('profiles = { work = { timeout = "soon" } }\n', 1),
        ('[profiles.work]\ntimeout = """\nsoon"""\n', 2),
        ('[profiles.work.param]\nx = "y"\n[profiles.work]\ntimeout = "soon"\n', 4),
    ],
)
def test_the_line_is_found_however_the_key_is_written(
    oauthcli_home: Path, text: str, line: int
) -> None:
    message = load_error(oauthcli_home, text)

    assert message.startswith(
        f"{oauthcli_home / 'config.toml'}, line {line}: profiles.work.timeout must be"
    )


def test_a_header_inside_a_multiline_string_is_not_taken_for_a_table(
    oauthcli_home: Path,
) -> None:
    message = load_error(
        oauthcli_home,
        '[profiles.other]\naudience = """\n[profiles.work]\ntimeout = 1\n"""\n'
        '[profiles.work]\ntimeout = "soon"\n',
    )

    assert message.startswith(f"{oauthcli_home / 'config.toml'}, line 7: ")


def test_a_profile_name_with_a_dot_is_quoted_in_messages(oauthcli_home: Path) -> None:
    message = load_error(oauthcli_home, '[profiles."my.home"]\ndevice = "y"\n')

    assert message == (
        f'{oauthcli_home / "config.toml"}, line 2: profiles."my.home".device '
        'must be true or false, got "y"'
    )


# Unknown keys and bad structure


def test_an_unknown_key_suggests_the_closest_one(oauthcli_home: Path) -> None:
    message = load_error(oauthcli_home, '[profiles.work]\nisuer = "https://i"\n')

    assert message == (
        f"{oauthcli_home / 'config.toml'}, line 2: unknown key profiles.work.isuer "
        "(did you mean issuer?)"
    )


def test_an_unknown_key_without_a_close_one_suggests_nothing(
    oauthcli_home: Path,
) -> None:
    message = load_error(oauthcli_home, "[profiles.work]\nzzzz = 1\n")

    assert message == (
        f"{oauthcli_home / 'config.toml'}, line 2: unknown key profiles.work.zzzz"
    )


def test_an_unknown_top_level_key_suggests_profiles(oauthcli_home: Path) -> None:
    message = load_error(oauthcli_home, '[profile.work]\nissuer = "i"\n')

    assert message == (
        f"{oauthcli_home / 'config.toml'}, line 1: unknown key profile "
        "(did you mean profiles?)"
    )


def test_a_login_option_at_the_top_level_is_sent_to_a_profile(
    oauthcli_home: Path,
) -> None:
    message = load_error(oauthcli_home, '\nissuer = "https://i"\n')

    assert message == (
        f"{oauthcli_home / 'config.toml'}, line 2: issuer belongs in a profile, "
        "under [profiles.NAME]"
    )


def test_a_profile_name_must_pass_the_store_s_rule(oauthcli_home: Path) -> None:
    message = load_error(oauthcli_home, '[profiles."../x"]\nissuer = "i"\n')

    assert message == (
        f'{oauthcli_home / "config.toml"}, line 1: profile "../x" is not a valid '
        "profile name: use up to 64 letters, digits, '.', '_' or '-', not starting "
        "with '.' or '-'"
    )


def test_default_profile_must_be_a_valid_name(oauthcli_home: Path) -> None:
    message = load_error(oauthcli_home, 'default_profile = "a b"\n')

    assert message.startswith(
        f'{oauthcli_home / "config.toml"}, line 1: default_profile "a b" is not a valid'
    )


def test_profiles_and_each_profile_must_be_tables(oauthcli_home: Path) -> None:
    path = oauthcli_home / "config.toml"

    assert load_error(oauthcli_home, "profiles = 3\n") == (
        f"{path}, line 1: profiles must be a table"
    )
    assert load_error(oauthcli_home, "[profiles]\nwork = 3\n") == (
        f"{path}, line 2: profiles.work must be a table"
    )


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "[profiles.work]\nissuer = https://x\n",
            "line 2, column 10: not valid TOML: Invalid value",
        ),
        (
            "[profiles.work\n",
            "line 1, column 15: not valid TOML: Expected ']' at the "
            "end of a table declaration",
        ),
        ('a = "x', "not valid TOML: Unterminated string at the end of the file"),
    ],
)
def test_a_syntax_error_names_the_line_and_column(
    oauthcli_home: Path, text: str, where: str
) -> None:
    message = load_error(oauthcli_home, text)

    separator = ", " if where.startswith("line") else ": "
    assert message == f"{oauthcli_home / 'config.toml'}{separator}{where}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # tomllib let int()'s ValueError through, and deep nesting a RecursionError.
        pytest.param(
            f"x = {'9' * 5000}",
            "an integer has more than 4300 digits",
            id="5000 digits",
        ),
        pytest.param(
            "x = " + "[" * 5000 + "]" * 5000,
            "arrays or tables nested too deeply",
            id="5000 arrays deep",
        ),
        pytest.param(
            "x = " + "{a=" * 5000 + "1" + "}" * 5000,
            "arrays or tables nested too deeply",
            id="5000 tables deep",
        ),
    ],
)
def test_a_file_tomllib_cannot_hold_is_refused_not_a_crash(
    oauthcli_home: Path, text: str, problem: str
) -> None:
    message = load_error(oauthcli_home, text)

    assert message == f"{oauthcli_home / 'config.toml'} cannot be read: {problem}"


def test_an_integer_too_big_for_a_float_is_out_of_range_not_an_overflow(
    oauthcli_home: Path,
) -> None:
    # float() raised OverflowError for both.
    huge = "9" * 400
    message = load_error(oauthcli_home, f"[profiles.work]\ntimeout = {huge}\n")
    assert message.endswith(
        f"line 2: profiles.work.timeout must be more than 0 and at most 86400 "
        f"seconds, got {'9' * 57}..."
    )

    write(oauthcli_home, "")
    with pytest.raises(ConfigError) as caught:
        resolve(environ={"OAUTHCLI_MIN_TTL": huge})
    assert caught.value.message == (
        f"OAUTHCLI_MIN_TTL must be a number of seconds, 0 or more, got {'9' * 57}..."
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # str.isdigit() said yes, then int() raised ValueError.
        pytest.param("\u00b2", '"\u00b2"', id="superscript two"),
        pytest.param("1" * 5000, '"' + "1" * 57 + '..."', id="5000 digits"),
    ],
)
def test_a_port_variable_of_other_digits_is_refused_not_a_crash(
    oauthcli_home: Path, text: str, shown: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(environ={"OAUTHCLI_PORT": text})

    assert caught.value.message == (
        "OAUTHCLI_PORT must be a port N, a range A-B or a list A,B (1-65535), "
        f"got {shown}"
    )


def test_a_file_that_is_not_utf8_is_refused(oauthcli_home: Path) -> None:
    (oauthcli_home / "config.toml").write_bytes(b"issuer = '\xff'\n")
    (oauthcli_home / "config.toml").chmod(0o600)

    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config()


# A file that could redirect logins


def test_a_symlinked_config_is_refused(oauthcli_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.toml"
    target.write_text('[profiles.work]\nissuer = "https://evil.example"\n')
    (oauthcli_home / "config.toml").symlink_to(target)

    with pytest.raises(ConfigError, match="is a symlink; oauthcli reads its config"):
        load_config()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_in_place_of_the_config_is_refused_without_hanging(
    oauthcli_home: Path,
) -> None:
    os.mkfifo(oauthcli_home / "config.toml", 0o600)

    with pytest.raises(ConfigError, match="is not a regular file; refusing it"):
        load_config()


def test_a_directory_in_place_of_the_config_is_refused(oauthcli_home: Path) -> None:
    (oauthcli_home / "config.toml").mkdir()

    with pytest.raises(ConfigError, match="is not a regular file"):
        load_config()


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
def test_a_config_others_can_write_is_refused(oauthcli_home: Path, mode: int) -> None:
    path = write(oauthcli_home, '[profiles.work]\nissuer = "https://i"\n', mode)

    with pytest.raises(ConfigError) as caught:
        load_config()

    assert caught.value.message == (
        f"{path} is writable by other users (mode {mode:04o}), who could send your "
        f"logins to another issuer; run `chmod go-w {path}`"
    )


def test_a_readable_config_with_a_client_secret_gets_a_warning(
    oauthcli_home: Path,
) -> None:
    path = write(oauthcli_home, '[profiles.work]\nclient_secret = "s"\n', 0o644)
    warnings: list[str] = []

    load_config(warn=warnings.append)

    assert warnings == [
        f"{path} holds a client secret and other users can read it (mode 0644); "
        f"run `chmod 600 {path}`"
    ]


def test_a_readable_config_without_secrets_or_a_private_one_is_quiet(
    oauthcli_home: Path,
) -> None:
    warnings: list[str] = []
    write(oauthcli_home, '[profiles.work]\nissuer = "https://i"\n', 0o644)
    load_config(warn=warnings.append)
    write(oauthcli_home, '[profiles.work]\nclient_secret = "s"\n', 0o600)
    load_config(warn=warnings.append)

    assert warnings == []


# Precedence: flag > environment > file > preset


def test_each_layer_wins_over_the_ones_below(oauthcli_home: Path) -> None:
    path = write(
        oauthcli_home,
        f"""[profiles.work]
preset = "entra"
tenant = "{TENANT}"
client_id = "from-file"
audience = "file-audience"
store = "keyring"
""",
    )
    environ = {"OAUTHCLI_AUDIENCE": "env-audience", "OAUTHCLI_STORE": "auto"}

    resolved = resolve({"store": "file"}, environ)

    assert resolved["scope"] == "openid profile email offline_access"
    assert resolved.origins["scope"] == Origin("preset", "entra")
    assert resolved["client_id"] == "from-file"
    assert resolved.origins["client_id"] == Origin("config", str(path), 4)
    assert resolved["audience"] == "env-audience"
    assert resolved.origins["audience"] == Origin("env", "OAUTHCLI_AUDIENCE")
    assert resolved["store"] == "file"
    assert resolved.origins["store"] == Origin("flag", "--store")
    assert resolved.in_config


def test_the_file_wins_over_the_preset(oauthcli_home: Path) -> None:
    write(
        oauthcli_home,
        f'[profiles.work]\npreset = "entra"\ntenant = "{TENANT}"\nscope = "openid"\n',
    )

    assert resolve()["scope"] == "openid"


def test_origins_print_as_the_cli_shows_them(oauthcli_home: Path) -> None:
    path = oauthcli_home / "config.toml"

    assert str(Origin("flag", "--scope")) == "flag --scope"
    assert str(Origin("env", "OAUTHCLI_SCOPE")) == "environment OAUTHCLI_SCOPE"
    assert str(Origin("config", str(path), 7)) == f"{path}, line 7"
    assert str(Origin("config", str(path))) == str(path)
    assert str(Origin("preset", "google")) == 'preset "google"'


def test_params_merge_entry_by_entry_across_layers(oauthcli_home: Path) -> None:
    path = write(
        oauthcli_home,
        '[profiles.work]\npreset = "google"\n\n[profiles.work.param]\nhd = "ex.com"\n'
        'prompt = "select_account"\n',
    )

    resolved = resolve({"param": ["login_hint=a@ex.com", "hd=other.com"]})

    assert resolved["param"] == {
        "access_type": "offline",
        "prompt": "select_account",
        "hd": "other.com",
        "login_hint": "a@ex.com",
    }
    assert resolved.origins["param.access_type"] == Origin("preset", "google")
    assert resolved.origins["param.prompt"] == Origin("config", str(path), 4)
    assert resolved.origins["param.hd"] == Origin("flag", "--param")


def test_the_other_profiles_do_not_leak_in(oauthcli_home: Path) -> None:
    write(oauthcli_home, '[profiles.home]\nissuer = "https://home.example"\n')

    resolved = resolve(profile="work")

    assert resolved.values == {}
    assert not resolved.in_config


def test_values_come_in_the_order_of_the_key_table(oauthcli_home: Path) -> None:
    write(oauthcli_home, '[profiles.work]\nusername = "u"\nissuer = "https://i"\n')

    assert list(resolve({"scope": "openid"}).values) == ["issuer", "scope", "username"]


def test_a_preset_error_names_where_the_preset_was_set(oauthcli_home: Path) -> None:
    path = write(oauthcli_home, '[profiles.work]\nclient_id = "c"\npreset = "entra"\n')

    with pytest.raises(ConfigError) as caught:
        resolve()

    assert caught.value.message == (
        f'{path}, line 3: preset "entra" needs tenant (--tenant)'
    )


def test_a_refused_preset_parameter_names_its_own_line(oauthcli_home: Path) -> None:
    path = write(
        oauthcli_home, '[profiles.work]\npreset = "entra"\n\ntenant = "common"\n'
    )

    with pytest.raises(ConfigError) as caught:
        resolve()

    assert caught.value.message.startswith(
        f'{path}, line 4: preset "entra": tenant "common" has no fixed issuer'
    )
    assert caught.value.key == "tenant"


def test_a_preset_parameter_from_the_environment_is_named(oauthcli_home: Path) -> None:
    write(oauthcli_home, '[profiles.work]\npreset = "okta"\n')

    with pytest.raises(ConfigError) as caught:
        resolve(environ={"OAUTHCLI_DOMAIN": "https://acme.okta.com"})

    assert caught.value.message.startswith(
        'environment OAUTHCLI_DOMAIN: preset "okta": domain must be a host name'
    )


def test_the_resolved_repr_redacts_the_client_secret(oauthcli_home: Path) -> None:
    write(oauthcli_home, '[profiles.work]\nclient_secret = "s3cr3t-value"\n')

    resolved = resolve()

    assert "s3cr3t-value" not in repr(resolved)
    assert "s3cr3t-value" not in repr(load_config())
    assert resolved.shown("client_secret") == "[redacted]"
    assert resolved["client_secret"] == "s3cr3t-value"


# Environment variables


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        ("On", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("OFF", False),
    ],
)
def test_boolean_variables_take_the_usual_spellings(
    oauthcli_home: Path, text: str, value: bool
) -> None:
    resolved = resolve(environ={"OAUTHCLI_DEVICE": text, "OAUTHCLI_NO_BROWSER": text})

    assert resolved["device"] is value
    assert resolved["no_browser"] is value


def test_a_bad_boolean_variable_is_named(oauthcli_home: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(environ={"OAUTHCLI_DEVICE": "maybe"})

    assert caught.value.message == (
        'OAUTHCLI_DEVICE must be 1, 0, true, false, yes, no, on or off, got "maybe"'
    )


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("OAUTHCLI_TIMEOUT", "soon", 'must be a number of seconds, got "soon"'),
        (
            "OAUTHCLI_TIMEOUT",
            "inf",
            "must be more than 0 and at most 86400 seconds, got inf",
        ),
        ("OAUTHCLI_STORE", "disk", 'must be one of file, keyring, auto, got "disk"'),
        (
            "OAUTHCLI_PORT",
            "99999",
            "must be a port N, a range A-B or a list A,B (1-65535), got 99999",
        ),
        (
            "OAUTHCLI_PRESET",
            "ping",
            'must be one of auth0, entra, github, google, keycloak, okta, got "ping"',
        ),
        (
            "OAUTHCLI_PRESET",
            "oktaa",
            "must be one of auth0, entra, github, google, keycloak, okta "
            '(did you mean okta?), got "oktaa"',
        ),
        ("OAUTHCLI_MIN_TTL", "-5", "must be a number of seconds, 0 or more, got -5"),
    ],
)
def test_a_bad_variable_is_named(
    oauthcli_home: Path, name: str, text: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(environ={name: text})

    assert caught.value.message == f"{name} {problem}"


def test_variables_are_parsed_like_the_file(oauthcli_home: Path) -> None:
    environ = {
        "OAUTHCLI_ISSUER": "https://env.example",
        "OAUTHCLI_CLIENT_ID": "env-client",
        "OAUTHCLI_CLIENT_SECRET": "env-secret",
        "OAUTHCLI_SCOPE": " openid   email ",
        "OAUTHCLI_PORT": "8020-8021",
        "OAUTHCLI_TIMEOUT": "90",
        "OAUTHCLI_MIN_TTL": "2.5",
        "OAUTHCLI_PRESET": "google",
    }

    values = resolve(environ=environ).values

    assert values["issuer"] == "https://env.example"
    assert values["client_secret"] == "env-secret"
    assert values["scope"] == "openid email"
    assert values["port"] == (8020, 8021)
    assert values["timeout"] == 90.0
    assert values["min_ttl"] == 2.5
    assert values["token_endpoint_auth_method"] == "client_secret_post"


def test_empty_variables_and_other_oauthcli_variables_are_ignored(
    oauthcli_home: Path,
) -> None:
    environ = {
        "OAUTHCLI_ISSUER": "",
        "OAUTHCLI_HOSTS": "github.com",
        "OAUTHCLI_PARAM": "a=b",
        "OAUTHCLI_PROFILE": "work",
        "OAUTHCLI_TEST_LOGIN": "x",
    }

    assert resolve(environ=environ).values == {}


def test_every_scalar_key_has_a_variable_and_no_list_or_table_does() -> None:
    with_variables = {key.env_var for key in KEYS.values() if key.env}

    assert {"OAUTHCLI_ISSUER", "OAUTHCLI_DEVICE", "OAUTHCLI_PRESET"} <= with_variables
    assert "OAUTHCLI_HOME" not in with_variables
    assert "OAUTHCLI_PROFILE" not in with_variables
    assert not KEYS["param"].env
    assert not KEYS["hosts"].env


# Flags


def test_flag_strings_are_parsed_and_bad_ones_name_the_flag(
    oauthcli_home: Path,
) -> None:
    resolved = resolve({"port": "8020", "timeout": 12, "device": False})

    assert resolved["port"] == (8020,)
    assert resolved["device"] is False
    with pytest.raises(ConfigError) as caught:
        resolve({"timeout": "soon"})
    assert caught.value.message == '--timeout must be a number of seconds, got "soon"'


def test_flags_not_given_leave_the_lower_layers_alone(oauthcli_home: Path) -> None:
    write(oauthcli_home, '[profiles.work]\nrequire_scope = ["a"]\nscope = "x"\n')

    resolved = resolve({"scope": None, "require_scope": [], "param": []})

    assert resolved["scope"] == "x"
    assert resolved["require_scope"] == ("a",)


def test_a_flag_that_is_not_a_key_is_a_programming_error(oauthcli_home: Path) -> None:
    with pytest.raises(ValueError, match="'verbose' is not a config key"):
        resolve({"verbose": True})


# Which profile


def test_the_profile_comes_from_the_flag_then_the_variable_then_the_file(
    oauthcli_home: Path,
) -> None:
    write(oauthcli_home, 'default_profile = "from-file"\n')
    environ = {"OAUTHCLI_PROFILE": "from-env"}

    assert resolve_profile_name("explicit", environ=environ) == "explicit"
    assert resolve_profile_name(None, environ=environ) == "from-env"
    assert resolve_profile_name(None, environ={}) == "from-file"


def test_the_profile_is_default_when_nothing_names_one(oauthcli_home: Path) -> None:
    assert resolve_profile_name(None, environ={}) == "default"


def test_an_empty_profile_flag_is_refused(oauthcli_home: Path) -> None:
    with pytest.raises(LocalError, match="--profile must not be empty"):
        resolve_profile_name("", environ={})


# Edits


COMMENTED = """\
# oauthcli profiles
default_profile = "work"  # the usual one

[profiles.work]  # the company IdP
issuer = "https://idp.example"  # production
scope = "openid"

# at home
[profiles.home]
issuer = "https://home.example"
"""


def test_setting_a_value_keeps_comments_and_order(oauthcli_home: Path) -> None:
    path = write(oauthcli_home, COMMENTED)

    set_value("work", "issuer", "https://idp2.example")
    set_value("work", "timeout", "45")
    set_value("home", "device", "yes")

    assert path.read_text() == COMMENTED.replace(
        '"https://idp.example"', '"https://idp2.example"'
    ).replace('scope = "openid"\n', 'scope = "openid"\ntimeout = 45\n').replace(
        'issuer = "https://home.example"\n',
        'issuer = "https://home.example"\ndevice = true\n',
    )
    assert load_config().profiles["work"]["timeout"] == 45.0


def test_a_new_profile_is_added_at_the_end(oauthcli_home: Path) -> None:
    path = write(oauthcli_home, COMMENTED)

    set_value("new.one", "scope", ["openid", "email"])

    assert path.read_text() == (
        COMMENTED + '\n[profiles."new.one"]\nscope = ["openid", "email"]\n'
    )


def test_unsetting_a_value_keeps_the_rest(oauthcli_home: Path) -> None:
    path = write(oauthcli_home, COMMENTED)

    assert unset_value("work", "scope") is True
    assert unset_value("work", "scope") is False

    assert path.read_text() == COMMENTED.replace('scope = "openid"\n', "")


def test_removing_a_profile_keeps_the_comments_about_the_next_one(
    oauthcli_home: Path,
) -> None:
    path = write(oauthcli_home, COMMENTED)

    assert remove_profile("work") is True
    assert remove_profile("work") is False

    assert path.read_text() == (
        '# oauthcli profiles\ndefault_profile = "work"  # the usual one\n\n'
        '# at home\n[profiles.home]\nissuer = "https://home.example"\n'
    )


def test_removing_a_profile_removes_its_subtables(oauthcli_home: Path) -> None:
    path = write(
        oauthcli_home,
        '[profiles.work]\nissuer = "i"\n\n[profiles.work.param]\nhd = "x"\n\n'
        '[profiles.home]\nissuer = "h"\n',
    )

    remove_profile("work")

    assert path.read_text() == '[profiles.home]\nissuer = "h"\n'


def test_the_default_profile_is_set_above_the_tables_and_removed(
    oauthcli_home: Path,
) -> None:
    text = "# mine\n\n# work\n[profiles.work]\nissuer = 'i'\n"
    path = write(oauthcli_home, text)

    set_default_profile("work")
    assert path.read_text() == (
        '# mine\n\ndefault_profile = "work"\n\n'
        "# work\n[profiles.work]\nissuer = 'i'\n"
    )
    set_default_profile(None)
    assert path.read_text() == "# mine\n\n\n# work\n[profiles.work]\nissuer = 'i'\n"


def test_one_authorization_parameter_can_be_set_and_unset(oauthcli_home: Path) -> None:
    write(oauthcli_home, '[profiles.work]\nissuer = "https://i"\n')

    set_value("work", "param.prompt", "login")
    set_value("work", "param.hd", "ex.com")
    unset_value("work", "param.prompt")

    assert load_config().profiles["work"]["param"] == {"hd": "ex.com"}


@pytest.mark.parametrize(
    "text",
    [
        'profiles.work.issuer = "i"  # dotted\n',
        'profiles = { work = { issuer = "i" } }  # inline\n',
        '[profiles]\nwork.issuer = "i"\n',
        '[profiles.work]\nparam = { hd = "x" }\n',
    ],
)
def test_edits_work_whatever_way_the_profile_is_written(
    oauthcli_home: Path, text: str
) -> None:
    write(oauthcli_home, text)

    set_value("work", "scope", "openid")
    set_value("work", "param.prompt", "login")
    unset_value("work", "issuer")

    work = load_config().profiles["work"]
    assert work["scope"] == "openid"
    assert work["param"]["prompt"] == "login"
    assert "issuer" not in work


def test_a_bad_value_is_refused_before_anything_is_written(oauthcli_home: Path) -> None:
    path = write(oauthcli_home, COMMENTED)

    with pytest.raises(ConfigError) as caught:
        set_value("work", "timeout", "soon")

    assert caught.value.message == (
        'profiles.work.timeout must be a number of seconds, got "soon"'
    )
    assert path.read_text() == COMMENTED


def test_an_unknown_key_is_refused_with_a_suggestion(oauthcli_home: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"unknown key isuer \(did you mean issuer\?\)"
    ):
        set_value("work", "isuer", "https://i")
    with pytest.raises(ConfigError, match=r"unknown key scope\.x"):
        set_value("work", "scope.x", "a")


def test_a_bad_profile_name_is_refused_before_editing(oauthcli_home: Path) -> None:
    with pytest.raises(ConfigError, match="is not a valid profile name"):
        set_value("../evil", "issuer", "https://i")

    assert not (oauthcli_home / "config.toml").exists()


def test_a_relative_ca_file_is_stored_absolute(
    oauthcli_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)

    set_value("work", "ca_file", "ca.pem")

    assert load_config().profiles["work"]["ca_file"] == str(tmp_path / "ca.pem")


def test_an_edit_of_a_broken_file_names_the_syntax_error(oauthcli_home: Path) -> None:
    write(oauthcli_home, "[profiles.work\n")

    with pytest.raises(ConfigError, match="line 1, column 15: not valid TOML"):
        set_value("work", "issuer", "https://i")


def test_an_edit_may_remove_an_unknown_key(oauthcli_home: Path) -> None:
    write(oauthcli_home, '[profiles.work]\nisuer = "i"\n')

    assert unset_value("work", "isuer") is True
    assert load_config().profiles == {"work": {}}


def test_edits_write_a_new_0600_file_atomically(
    oauthcli_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(oauthcli_home, COMMENTED, 0o644)
    before = path.stat().st_ino
    old_umask = os.umask(0)
    try:
        set_value("work", "device", True)
    finally:
        os.umask(old_umask)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_ino != before  # a new file, renamed over the old one
    # No temporary file is left; the lock file (empty, 0600) stays for the next edit.
    assert sorted(p.name for p in oauthcli_home.iterdir()) == [
        "config.toml",
        "config.toml.lock",
    ]
    assert (oauthcli_home / "config.toml.lock").read_bytes() == b""
    assert stat.S_IMODE((oauthcli_home / "config.toml.lock").stat().st_mode) == 0o600
    assert tomllib.loads(path.read_text())["profiles"]["work"]["device"] is True


def test_the_first_edit_creates_private_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "a" / "b"
    monkeypatch.setenv("OAUTHCLI_HOME", str(home))
    old_umask = os.umask(0)
    try:
        set_value("work", "issuer", "https://i")
    finally:
        os.umask(old_umask)

    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(home.parent.stat().st_mode) == 0o700
    assert (
        home / "config.toml"
    ).read_text() == '[profiles.work]\nissuer = "https://i"\n'


def test_edits_refuse_a_symlinked_config(oauthcli_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.toml"
    target.write_text("")
    (oauthcli_home / "config.toml").symlink_to(target)

    with pytest.raises(ConfigError, match="is a symlink"):
        set_value("work", "issuer", "https://i")

    assert target.read_text() == ""


def test_edits_refuse_a_config_others_can_write(oauthcli_home: Path) -> None:
    path = write(oauthcli_home, COMMENTED, 0o666)

    with pytest.raises(ConfigError, match="writable by other users"):
        set_value("work", "issuer", "https://i")

    assert path.read_text() == COMMENTED


def test_a_relative_key_path_from_a_flag_or_variable_is_made_absolute(
    oauthcli_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored with the login, a relative path would name another file, or
    a planted one, when `oauthcli token` runs in another directory."""
    monkeypatch.chdir(tmp_path)
    from_flag = resolve({"client_assertion_key": "key.pem", "ca_file": "ca.pem"})
    from_variable = resolve(environ={"OAUTHCLI_CLIENT_ASSERTION_KEY": "keys/k.pem"})

    assert from_flag.values["client_assertion_key"] == str(tmp_path / "key.pem")
    assert from_flag.values["ca_file"] == str(tmp_path / "ca.pem")
    assert from_variable.values["client_assertion_key"] == str(
        tmp_path / "keys" / "k.pem"
    )
