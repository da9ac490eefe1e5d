"""The config file: login options by profile, and where each option came from.

The file is ``$OAUTHCLI_HOME/config.toml`` when that variable is set, else
``config.toml`` in the platform's user config directory::

    default_profile = "work"

    [profiles.work]
    preset = "entra"
    tenant = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"
    client_id = "..."

Every key a profile may hold is listed once, in ``KEYS``, with its check
and its help text. A login's options come from, highest first: flags on the
command line, ``OAUTHCLI_<KEY>`` variables, the profile in the file, the
preset's defaults (``presets``). ``ResolvedOptions`` keeps where each value
came from.

The file decides which issuer a login trusts, so one that is a symlink, not a
regular file, or writable by other users is refused. Edits keep the user's
comments and layout (a small text edit, checked by parsing the result, or
tomlkit) and are written atomically, 0600.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import stat
import sys
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import _tomltext, presets
from .constants import DEFAULT_SCOPE, parse_ports
from .errors import ConfigError, LocalError, sanitize
from .store import (
    _valid_name,
    check_private_dir,
    config_file,
    private_lock,
    record_config_checked,
    replace_private_file,
)

__all__ = [
    "KEYS",
    "Config",
    "Key",
    "Origin",
    "ResolvedOptions",
    "config_path",
    "key_spec",
    "load_config",
    "login_hint",
    "output_settings",
    "remove_profile",
    "resolve_login_options",
    "resolve_profile_name",
    "set_default_profile",
    "set_value",
    "set_values",
    "unset_value",
]

MAX_CONFIG_BYTES = 1 << 20
_TOP_LEVEL = ("default_profile", "profiles")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})

Warn = Callable[[str], None]


class _Invalid(ValueError):
    """A value failed its key's check; ``reason`` follows the key's name."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# The checks: each takes a value as TOML (or a flag) gives it and returns it
# normalised, or raises _Invalid. The text parsers turn an environment
# variable or a `config set` argument into the TOML value it stands for.


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid("must be a string")
    if not value.strip():
        raise _Invalid("must not be empty")
    return value


def _token(value: object) -> str:
    """A string without spaces: an ID, a name, a host."""
    text = _string(value)
    if any(ch.isspace() for ch in text):
        raise _Invalid("must not contain spaces")
    return text


_SCHEME_RULE = "must start with https:// (http:// only for 127.0.0.1, ::1 or localhost)"


def _url(value: object) -> str:
    """An https URL, or http on a loopback host (the rule of ``urls``)."""
    from urllib.parse import urlsplit

    from .urls import check_authority, is_loopback_host

    text = _token(value)
    if not text.isascii() or any(ch < " " or ch == "\x7f" for ch in text):
        raise _Invalid(
            "must be ASCII without control characters (write hosts in punycode)"
        )
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
        check_authority(parts.netloc)
    except ValueError as exc:
        raise _Invalid("is not a valid URL") from exc
    scheme = parts.scheme.lower()
    if "://" not in text or scheme not in ("https", "http"):
        raise _Invalid(_SCHEME_RULE)
    if not parts.hostname:
        raise _Invalid("must name a host after https://")
    if scheme == "http" and not is_loopback_host(parts.hostname):
        raise _Invalid(_SCHEME_RULE)
    if parts.username is not None or parts.password is not None:
        raise _Invalid("must not carry a user name or password")
    if parts.fragment or text.endswith("#"):
        raise _Invalid("must not have a fragment (#...)")
    return text


def _issuer(value: object) -> str:
    """An issuer URL: ``_url`` without a query (RFC 8414 section 2)."""
    text = _url(value)
    if "?" in text:
        raise _Invalid("must not have a query (RFC 8414 section 2)")
    return text


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("must be true or false")
    return value


def _number(value: object, reason: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(reason)
    try:
        return float(value)
    except OverflowError:  # an integer beyond float's range: out of range, too
        return math.inf


def _timeout(value: object) -> float:
    seconds = _number(value, "must be a number of seconds")
    if not (math.isfinite(seconds) and 0 < seconds <= 86400):
        raise _Invalid("must be more than 0 and at most 86400 seconds")
    return seconds


def _min_ttl(value: object) -> float:
    seconds = _number(value, "must be a number of seconds")
    if not (math.isfinite(seconds) and seconds >= 0):
        raise _Invalid("must be a number of seconds, 0 or more")
    return seconds


def _choice(*choices: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        if value not in choices:
            raise _Invalid(f"must be one of {', '.join(choices)}")
        return str(value)

    return check


def _scope(value: object) -> str:
    """A space-separated string, or a list of scope tokens."""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, list | tuple) and all(
        isinstance(item, str) and item and not any(ch.isspace() for ch in item)
        for item in value
    ):
        return " ".join(value)
    raise _Invalid("must be space-separated scopes or a list of scopes")


def _token_list(value: object) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        try:
            return tuple(_token(item) for item in value)
        except _Invalid:
            pass
    raise _Invalid("must be a list of strings without spaces")


def _scope_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    return _token_list(value)


def _param(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _Invalid('must be a table of parameters (name = "value")')
    for name, item in value.items():
        if not name or not isinstance(item, str):
            raise _Invalid(
                f'must be a table of parameters (name = "value"); {name!r} is not'
            )
    return dict(value)


def _port(value: object) -> tuple[int, ...]:
    reason = "must be a port N, a range A-B or a list A,B (1-65535)"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Invalid(reason)
    try:
        return parse_ports(str(value))
    except LocalError as exc:
        raise _Invalid(reason) from exc


def _redirect_host(value: object) -> str:
    host = _choice("127.0.0.1", "localhost", "[::1]", "::1")(value)
    return "[::1]" if host == "::1" else host


def _redirect_path(value: object) -> str:
    path = _token(value)
    if not path.startswith("/"):
        raise _Invalid("must start with /")
    return path


def _env_var(value: object) -> str:
    name = _string(value)
    if not _ENV_NAME.fullmatch(name):
        raise _Invalid("must be a variable name (letters, digits and _)")
    return name


def _preset(value: object) -> str:
    name = _string(value)
    try:
        return presets.get_preset(name).name
    except ConfigError as exc:
        known = ", ".join(sorted(presets.PRESETS))
        close = presets.closest_preset(name)
        meant = f" (did you mean {close}?)" if close else ""
        raise _Invalid(f"must be one of {known}{meant}") from exc


def _scope_separator(value: object) -> str:
    if value not in (" ", ","):
        raise _Invalid('must be " " or ","')
    return str(value)


def _text(text: str) -> object:
    return text


def _text_bool(text: str) -> object:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _Invalid("must be 1, 0, true, false, yes, no, on or off")


def _text_number(text: str) -> object:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text  # the check then says what was expected


def _text_port(text: str) -> object:
    # ASCII digits only: str.isdigit() takes "²", and int() no 5000 digits.
    return int(text) if re.fullmatch(r"\s*[0-9]{1,12}\s*", text) else text


_LIST_SYNTAX = (
    'must be words separated by commas or spaces, or an array like ["a", "b"]'
)


def _text_list(text: str) -> object:
    """``a b``, ``a,b`` or a TOML (or JSON) array literal ``["a", "b"]``."""
    if text.lstrip().startswith("["):
        try:
            return tomllib.loads(f"value = {text.strip()}")["value"]
        except (ValueError, RecursionError) as exc:  # int()'s limit: ValueError
            raise _Invalid(_LIST_SYNTAX) from exc
    words = text.replace(",", " ").split()
    if any(mark in word for word in words for mark in "[]\"'"):
        raise _Invalid(_LIST_SYNTAX)  # half an array, not a name
    return words


def _text_param(text: str) -> object:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise _Invalid("must be NAME=VALUE")
    return {name: value}


_TEXT_PARSERS: dict[str, Callable[[str], object]] = {
    "boolean": _text_bool,
    "seconds": _text_number,
    "port": _text_port,
    "list": _text_list,
    "table": _text_param,
}


@dataclass(frozen=True)
class Key:
    """One option a profile may set.

    ``kind`` names the type for help and completion: ``string``, ``url``,
    ``path``, ``boolean``, ``seconds``, ``port``, ``choice`` (one of
    ``choices``), ``list`` or ``table``. ``check`` normalises a value or
    raises; without one the kind's check applies. ``default`` applies when
    nothing sets the key: the resolver leaves it out, so that the CLI can put
    the stored settings of the last login in between.
    """

    name: str
    kind: str
    help: str
    check: Callable[[object], Any] | None = field(default=None, repr=False)
    choices: tuple[str, ...] = ()
    default: Any = None
    secret: bool = False
    group: str = "login"  # or preset, endpoints, output

    def validate(self, value: object) -> Any:
        """``value`` normalised; _Invalid says why not."""
        if self.check is not None:
            return self.check(value)
        if self.kind == "choice":
            return _choice(*self.choices)(value)
        return {"boolean": _boolean, "url": _url, "list": _token_list}.get(
            self.kind, _string
        )(value)

    def parse_text(self, text: str) -> object:
        """What a variable's or argument's text stands for (``"yes"``: true)."""
        return _TEXT_PARSERS.get(self.kind, _text)(text)

    @property
    def env(self) -> bool:
        """Whether ``OAUTHCLI_<NAME>`` overrides it: every key but lists and tables."""
        return self.kind not in ("list", "table")

    @property
    def env_var(self) -> str:
        return f"OAUTHCLI_{self.name.upper()}"

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


_AUTH_METHODS = (
    "none",
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
)
_GRANT_TYPES = ("authorization_code", "client_credentials")
_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_PRESETS = tuple(sorted(presets.PRESETS))
_ENDPOINT = "(default: from discovery)"

KEYS: dict[str, Key] = {
    key.name: key
    for key in (
        Key("issuer", "url", "the provider's issuer URL (discovery is used)", _issuer),
        Key("client_id", "string", "the client ID registered at the provider"),
        Key("client_secret", "string", "for confidential clients only", secret=True),
        Key(
            "scope",
            "string",
            "scopes, space-separated or a list",
            _scope,
            default=DEFAULT_SCOPE,
        ),
        Key(
            "token_endpoint_auth_method",
            "choice",
            "how the client authenticates (default: none, or client_secret_basic "
            "with a secret, or private_key_jwt with a client_assertion_key)",
            choices=_AUTH_METHODS,
        ),
        Key(
            "grant_type",
            "choice",
            "client_credentials: the client's own token, no user and no browser "
            "(CI machines, RFC 6749 section 4.4)",
            choices=_GRANT_TYPES,
            default="authorization_code",
        ),
        Key(
            "client_assertion_key",
            "path",
            "PEM private key (RSA, EC or Ed25519) that signs private_key_jwt "
            "client assertions (RFC 7523)",
        ),
        Key(
            "client_assertion_kid",
            "string",
            "the kid header of client assertions (the registered key's ID)",
            _token,
        ),
        Key("audience", "string", "the audience parameter (Auth0 APIs)"),
        Key("connection", "string", "the Auth0 connection parameter"),
        Key("organization", "string", "the Auth0 organization parameter"),
        Key("param", "table", "extra authorization request parameters", _param),
        Key(
            "require_scope", "list", "fail unless these scopes are granted", _scope_list
        ),
        Key("port", "port", "callback port N, range A-B or list A,B", _port),
        Key(
            "redirect_host",
            "choice",
            "host in the redirect URI",
            _redirect_host,
            choices=_HOSTS,
            default="127.0.0.1",
        ),
        Key(
            "redirect_path",
            "string",
            "path in the redirect URI",
            _redirect_path,
            default="/callback",
        ),
        Key("no_browser", "boolean", "print the URL; open no browser", default=False),
        Key(
            "device", "boolean", "log in with the device flow (RFC 8628)", default=False
        ),
        Key(
            "timeout",
            "seconds",
            "how long to wait for the browser",
            _timeout,
            default=300.0,
        ),
        Key("ca_file", "path", "extra CA bundle for the provider's TLS"),
        Key(
            "store",
            "choice",
            "where the refresh token lives: the 0600 file, the OS keyring, or "
            "the keyring when one works",
            choices=("file", "keyring", "auto"),
            default="file",
        ),
        Key(
            "dpop",
            "boolean",
            "bind the tokens to a key of this login (DPoP, RFC 9449)",
            default=False,
        ),
        Key(
            "par",
            "boolean",
            "push the authorization request first (PAR, RFC 9126)",
            default=False,
        ),
        Key(
            "preset",
            "choice",
            "a provider preset",
            _preset,
            choices=_PRESETS,
            group="preset",
        ),
        Key("domain", "string", "Auth0 or Okta domain", _token, group="preset"),
        Key(
            "authorization_server",
            "string",
            "Okta authorization server: default, org or an ID",
            _token,
            group="preset",
        ),
        Key(
            "tenant", "string", "Entra tenant ID, or consumers", _token, group="preset"
        ),
        Key("base_url", "url", "Keycloak server URL", group="preset"),
        Key("realm", "string", "Keycloak realm", group="preset"),
        Key("authorization_endpoint", "url", _ENDPOINT, group="endpoints"),
        Key("token_endpoint", "url", _ENDPOINT, group="endpoints"),
        Key("device_authorization_endpoint", "url", _ENDPOINT, group="endpoints"),
        Key("userinfo_endpoint", "url", _ENDPOINT, group="endpoints"),
        Key("revocation_endpoint", "url", _ENDPOINT, group="endpoints"),
        Key("jwks_uri", "url", _ENDPOINT, group="endpoints"),
        Key(
            "discovery",
            "boolean",
            "fetch the provider's metadata (off: set the endpoints)",
            default=True,
            group="endpoints",
        ),
        Key(
            "scope_separator",
            "choice",
            'how granted scopes are separated: " " or "," (GitHub)',
            _scope_separator,
            choices=(" ", ","),
            default=" ",
            group="endpoints",
        ),
        Key(
            "id_token_issuers",
            "list",
            "more iss values an ID token may carry",
            group="endpoints",
        ),
        Key(
            "min_ttl",
            "seconds",
            "refresh when the token expires within this many seconds",
            _min_ttl,
            default=60.0,
            group="output",
        ),
        Key(
            "env_var",
            "string",
            "the variable `oauthcli exec` puts the token in",
            _env_var,
            default="OAUTHCLI_ACCESS_TOKEN",
            group="output",
        ),
        Key(
            "hosts",
            "list",
            "hosts served as git/docker credential helper",
            group="output",
        ),
        Key(
            "username",
            "string",
            "user name given to git",
            default="oauth2",
            group="output",
        ),
    )
}


# Where a value came from.


@dataclass(frozen=True)
class Origin:
    """A flag, an environment variable, a line of the config file or a preset."""

    kind: Literal["flag", "env", "config", "preset"]
    name: str  # --scope, OAUTHCLI_SCOPE, the file's path, the preset's name
    line: int | None = None

    def __str__(self) -> str:
        if self.kind == "flag":
            return f"flag {self.name}"
        if self.kind == "env":
            return f"environment {self.name}"
        if self.kind == "preset":
            return f'preset "{self.name}"'
        return self.name if self.line is None else f"{self.name}, line {self.line}"


def _shown(value: object, secret: bool = False) -> str:
    """A value for an error message; never a secret."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "a string" if secret else _quoted(value)
    if isinstance(value, float) and value.is_integer() and not secret:
        return _cut(repr(int(value)))  # --timeout 0 says 0, not 0.0
    if isinstance(value, int | float):
        return "a number" if secret else _cut(repr(value))
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return "a date or time"


def _quoted(text: str, limit: int = 60) -> str:
    """``text`` in double quotes, control and bidi characters escaped."""
    import unicodedata

    return "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch)[0] == "C" else ch
        for ch in json.dumps(_cut(text, limit), ensure_ascii=False)
    )


def _cut(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _invalid(
    where: str, subject: str, problem: _Invalid, value: object, key: Key | None
) -> ConfigError:
    secret = key is not None and key.secret
    prefix = f"{where}: " if where else ""
    return ConfigError(
        f"{prefix}{subject} {problem.reason}, got {_shown(value, secret)}",
        key=key.name if key else None,
    )


def _unknown(where: str, dotted: str, name: str, known: Iterable[str]) -> ConfigError:
    prefix = f"{where}: " if where else ""
    message = f"{prefix}unknown key {dotted}"
    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        message += f" (did you mean {close[0]}?)"
    return ConfigError(message, key=name)


# Reading the file.


def config_path() -> Path:
    """``$OAUTHCLI_HOME/config.toml``, else the user config directory's."""
    return Path(config_file())  # one rule, shared with the token fast path


def _read(path: Path) -> tuple[str, int, os.stat_result] | None:
    """The text, mode and ``fstat`` of the config file; None if there is none."""
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_NONBLOCK", 0)  # a FIFO planted here must not hang us
    )
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(path):
            raise ConfigError(
                f"{path} is a symlink; oauthcli reads its config only from a regular "
                "file (a link could point logins at another issuer): put the file "
                "itself there"
            ) from exc
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        problem = None
        if not stat.S_ISREG(info.st_mode):
            problem = "is not a regular file; refusing it"
        elif hasattr(os, "getuid") and info.st_uid not in (os.getuid(), 0):
            problem = "belongs to another user; refusing it"
        mode = stat.S_IMODE(info.st_mode)
        if problem is None and mode & 0o022:
            problem = (
                f"is writable by other users (mode {mode:04o}), who could send "
                f"your logins to another issuer; run `chmod go-w {path}`"
            )
        if problem is not None:
            raise ConfigError(f"{path} {problem}")
        with os.fdopen(os.dup(fd), "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        return raw.decode("utf-8"), mode, info
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text") from exc


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except RecursionError as exc:
        raise ConfigError(
            f"{path} cannot be read: arrays or tables nested too deeply"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message)
        if found:
            reason, line, column = found.groups()
            raise ConfigError(
                f"{path}, line {line}, column {column}: not valid TOML: {reason}"
            ) from exc
        message = message.replace(" (at end of document)", " at the end of the file")
        raise ConfigError(f"{path}: not valid TOML: {message}") from exc
    except ValueError as exc:  # tomllib lets int()'s limit through
        raise ConfigError(
            f"{path} cannot be read: an integer has more than 4300 digits"
        ) from exc


@dataclass(frozen=True)
class Config:
    """The checked contents of the config file (empty if there is none).

    ``profiles`` maps each profile to its values, normalised by ``KEYS``.
    """

    path: Path
    default_profile: str | None = None
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, repr=False)
    lines: Mapping[tuple[str, ...], int] = field(default_factory=dict, repr=False)

    def origin(self, *path: str) -> Origin:
        """Where ``path`` (``"profiles", "work", "scope"``) is in the file."""
        return Origin("config", str(self.path), self.lines.get(path))

    def where(self, *path: str) -> str:
        return str(self.origin(*path))


_warned: set[str] = set()  # each warning once per process, however often read


def _stderr_warning(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        print(f"oauthcli: warning: {message}", file=sys.stderr)


def load_config(path: Path | None = None, *, warn: Warn | None = None) -> Config:
    """Read and check the config file; a missing file is an empty config.

    ``warn`` (default: a line on stderr) hears about a client secret in a
    file other users can read.
    """
    path = config_path() if path is None else path
    found = _read(path)
    if found is None:
        return Config(path)
    text, mode, info = found
    document = _parse(path, text)
    config = Config(path, lines=_tomltext.scan(text).lines)

    for name in document:
        if name not in _TOP_LEVEL:
            where = config.where(name)
            if name in KEYS:
                raise ConfigError(
                    f"{where}: {name} belongs in a profile, under [profiles.NAME]",
                    key=name,
                )
            raise _unknown(where, _tomltext.dotted((name,)), name, _TOP_LEVEL)

    default = document.get("default_profile")
    if default is not None:
        where = config.where("default_profile")
        try:
            default = _string(default)
        except _Invalid as exc:
            raise _invalid(where, "default_profile", exc, default, None) from exc
        if not _valid_name(default):
            raise ConfigError(f"{where}: default_profile {_bad_name(default)}")

    tables = document.get("profiles", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{config.where('profiles')}: profiles must be a table")
    profiles = {
        name: _check_profile(config, name, table) for name, table in tables.items()
    }

    if mode & 0o044 and any("client_secret" in p for p in profiles.values()):
        (warn or _stderr_warning)(
            f"{path} holds a client secret and other users can read it "
            f"(mode {mode:04o}); run `chmod 600 {path}`"
        )
    checked = Config(path, default, profiles, config.lines)
    if path == config_path():
        # `oauthcli token` may now skip the checks, and takes these from here.
        record_config_checked(info, _fast_path_summary(checked))
    return checked


def _fast_path_summary(config: Config) -> dict[str, Any]:
    """What ``oauthcli token``'s fast path needs of a checked config.toml:
    its default profile, and each profile's min_ttl, issuer and client_id
    (a preset's issuer included), so that it never parses TOML itself."""
    profiles: dict[str, dict[str, Any]] = {}
    for name, values in config.profiles.items():
        try:
            resolved = resolve_login_options(
                name, {}, {}, config=config, incomplete_preset_ok=True
            )
        except LocalError:  # the full path says what is wrong
            profiles[name] = {"unusable": True}
            continue
        keys = ("min_ttl", "issuer", "client_id")
        summary = {key: resolved.get(key, values.get(key)) for key in keys}
        profiles[name] = {key: value for key, value in summary.items() if value}
    return {"default_profile": config.default_profile, "profiles": profiles}


def _bad_name(name: str) -> str:
    return (
        f"{_shown(name)} is not a valid profile name: use up to 64 letters, digits, "
        "'.', '_' or '-', not starting with '.' or '-'"
    )


def _check_profile(config: Config, name: str, table: object) -> dict[str, Any]:
    dotted = _tomltext.dotted(("profiles", name))
    if not _valid_name(name):
        raise ConfigError(
            f"{config.where('profiles', name)}: profile {_bad_name(name)}"
        )
    if not isinstance(table, dict):
        raise ConfigError(f"{config.where('profiles', name)}: {dotted} must be a table")

    values: dict[str, Any] = {}
    for key, value in table.items():
        path = ("profiles", name, key)
        where = config.where(*path)
        spec = KEYS.get(key)
        if spec is None:
            raise _unknown(where, _tomltext.dotted(path), key, KEYS)
        try:
            values[key] = spec.validate(value)
        except _Invalid as exc:
            raise _invalid(where, _tomltext.dotted(path), exc, value, spec) from exc
        if spec.kind == "path":
            values[key] = str(config.path.parent / os.path.expanduser(values[key]))
    return values


# Resolving a login's options.


def resolve_profile_name(
    explicit: str | None,
    *,
    environ: Mapping[str, str] | None = None,
    config: Config | None = None,
) -> str:
    """``--profile``, else ``OAUTHCLI_PROFILE``, else the file's default, else default.

    The file is read only when it has to be.
    """
    if explicit is not None:
        if not explicit:
            raise LocalError("--profile must not be empty", code="invalid_argument")
        return explicit
    environ = os.environ if environ is None else environ
    if environ.get("OAUTHCLI_PROFILE"):
        return environ["OAUTHCLI_PROFILE"]
    config = load_config() if config is None else config
    return config.default_profile or "default"


@dataclass(frozen=True, repr=False)
class ResolvedOptions:
    """A login's options after flags, environment, config file and preset.

    ``values`` holds only what one of those set (defaults are in ``KEYS``);
    ``origins`` says where each came from, ``param`` entries one by one as
    ``param.NAME``. ``in_config`` says whether the file has the profile.
    """

    profile: str
    values: Mapping[str, Any]
    origins: Mapping[str, Origin]
    config_path: Path
    in_config: bool = False

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def shown(self, key: str) -> str:
        """``key``'s value for a terminal; secrets as ``[redacted]``."""
        spec = KEYS.get(key)
        if spec is not None and spec.secret:
            return "[redacted]"
        value = self.values[key]
        if isinstance(value, tuple):
            return " ".join(str(item) for item in value)
        if isinstance(value, dict):
            return " ".join(f"{name}={item}" for name, item in value.items())
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    def __repr__(self) -> str:
        shown = {key: self.shown(key) for key in self.values}
        return f"ResolvedOptions(profile={self.profile!r}, values={shown!r})"


def _from_text(key: Key, value: object, subject: str) -> object:
    if not isinstance(value, str):
        return value
    try:
        return key.parse_text(value)
    except _Invalid as exc:
        raise _invalid("", subject, exc, value, key) from exc


def _layer_value(key: Key, value: object, subject: str) -> Any:
    """A flag's or variable's value, checked like the file's."""
    if key.name == "param" and isinstance(value, list | tuple):
        pairs: dict[str, str] = {}
        for item in value:
            parsed = _from_text(key, item, subject)
            pairs.update(parsed if isinstance(parsed, dict) else {})
        value = pairs
    value = _from_text(key, value, subject)
    try:
        checked = key.validate(value)
    except _Invalid as exc:
        raise _invalid("", subject, exc, value, key) from exc
    if key.kind == "path":  # absolute: a stored login is used from anywhere
        checked = os.path.abspath(os.path.expanduser(checked))
    return checked


def _given(value: object) -> bool:
    if value is None:
        return False
    return not (isinstance(value, list | tuple | dict) and not value)


def resolve_login_options(
    profile: str,
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    config: Config | None = None,
    warn: Warn | None = None,
    incomplete_preset_ok: bool = False,
) -> ResolvedOptions:
    """Merge flags over ``OAUTHCLI_<KEY>`` over the profile over its preset.

    ``incomplete_preset_ok``: a preset missing a parameter or the client
    secret its provider needs adds what it can instead of raising (for
    commands that only hand out stored tokens).

    ``flags`` maps ``KEYS`` names to what the command line gave; None (or an
    empty list) means not given. Strings are parsed like variables, so
    ``{"port": "8020-8040"}`` works. ``param`` merges entry by entry, every
    other key is taken whole from the highest layer that sets it.
    """
    environ = os.environ if environ is None else environ
    config = load_config(warn=warn) if config is None else config
    values: dict[str, Any] = {}
    origins: dict[str, Origin] = {}

    def put(key: str, value: Any, origin: Origin) -> None:
        if key == "param":
            values["param"] = {**values.get("param", {}), **value}
            for name in value:
                origins[f"param.{name}"] = origin
        else:
            values[key] = value
        origins[key] = origin

    for key, value in config.profiles.get(profile, {}).items():
        put(key, value, config.origin("profiles", profile, key))

    for spec in KEYS.values():
        text = environ.get(spec.env_var)
        if spec.env and text:
            checked = _layer_value(spec, text, spec.env_var)
            put(spec.name, checked, Origin("env", spec.env_var))

    for name, value in flags.items():
        if name not in KEYS:
            raise ValueError(f"{name!r} is not a config key")
        flag = KEYS[name].flag
        if _given(value):
            put(name, _layer_value(KEYS[name], value, flag), Origin("flag", flag))

    try:
        expanded = presets.expand_preset(values, lenient=incomplete_preset_ok)
    except ConfigError as exc:
        origin = origins.get(exc.key or "") or origins.get("preset")
        raise ConfigError(f"{origin}: {exc.message}", key=exc.key) from exc
    preset_origin = Origin("preset", str(values.get("preset")))
    for key in expanded:
        if key not in values:
            origins[key] = preset_origin
    for name in expanded.get("param", {}):
        origins.setdefault(f"param.{name}", preset_origin)

    return ResolvedOptions(
        profile=profile,
        values={key: expanded[key] for key in KEYS if key in expanded},
        origins=origins,
        config_path=config.path,
        in_config=profile in config.profiles,
    )


def login_conflicts(
    profile: str,
    stored: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Where the options now name another issuer or client_id than the
    stored login's ``stored`` settings: one phrase per key ("OAUTHCLI_CLIENT_ID
    now says client_id b; the stored login is for a"), [] when they agree.

    Raises ConfigError for a variable or config.toml that cannot be used, as
    every command does; a preset missing a parameter is not an error here.
    """
    resolved = resolve_login_options(
        profile, {}, environ, warn=lambda message: None, incomplete_preset_ok=True
    )
    found = []
    for key in ("issuer", "client_id"):
        configured, login = resolved.get(key), stored.get(key)
        if configured is None or login is None:
            continue
        configured, login = str(configured), str(login)
        if key == "issuer":
            configured, login = configured.rstrip("/"), login.rstrip("/")
        if configured != login:
            where = resolved.origins.get(key)
            found.append(
                f"{sanitize(str(where))} now says {key} {sanitize(configured)}; "
                f"the stored login is for {sanitize(login)}"
            )
    return found


def login_hint(profile: str) -> str:
    """What to run to log ``profile`` in: one wording for every command.

    ``--profile NAME`` alone when the file, an ``OAUTHCLI_*`` variable or a
    stored login says which issuer; else the flags a first login needs, and
    a did-you-mean when no profile of that name is stored or configured.
    Never raises: it is part of an error message already. In a program that
    embeds the library, that program's own words (``_hints``).
    """
    from ._hints import OAUTHCLI_LOGIN, login_again, login_command
    from .store import StoreDamaged, list_profiles, read_entry

    if login_command() != OAUTHCLI_LOGIN:
        return login_again(profile)

    try:
        config = load_config(warn=lambda message: None)
        known = set(list_profiles()) | set(config.profiles)
    except LocalError:
        return f"run `oauthcli login --profile {profile}`"
    try:
        stored = read_entry(profile) is not None
    except StoreDamaged:
        stored = False
    try:
        configured = "issuer" in resolve_login_options(profile, {}, config=config)
    except LocalError:
        configured = profile in config.profiles  # login --profile says what is wrong
    if stored or configured:
        return f"run `oauthcli login --profile {profile}`"

    hint = f"run `oauthcli login --issuer URL --client-id ID --profile {profile}`"
    close = _closest(profile, known)
    return f"did you mean {close!r}? Else {hint}" if close else hint


def closest_profile(profile: str) -> str | None:
    """A configured or stored profile whose name ``profile`` may be a typo
    of; None when ``profile`` is one of them, or none is close."""
    from .store import list_profiles

    try:
        known = set(list_profiles()) | set(load_config(warn=lambda m: None).profiles)
    except LocalError:
        return None
    return _closest(profile, known)


def _closest(profile: str, known: set[str]) -> str | None:
    if profile in known:
        return None
    close = difflib.get_close_matches(profile, sorted(known), n=1)
    return close[0] if close else None


# Editing the file.


def _check_name(profile: str) -> None:
    if not _valid_name(profile):
        raise ConfigError(f"profile {_bad_name(profile)}", key="profile")


def _render(value: Any) -> str:
    import tomlkit  # only edits need it

    if isinstance(value, Mapping):
        table = tomlkit.inline_table()
        table.update(value)
        return str(table.as_string())
    if isinstance(value, tuple):
        value = list(value)
    return str(tomlkit.item(value).as_string())


_REMOVE: Any = object()  # the value that deletes a key


def _apply(document: dict[str, Any], path: tuple[str, ...], value: Any) -> bool:
    """Set (or, with ``_REMOVE``, delete) ``path`` in a parsed document."""
    *parents, last = path
    for part in parents:
        child = document.get(part)
        if not isinstance(child, dict):
            if value is _REMOVE:
                return False
            child = document[part] = {}
        document = child
    if value is _REMOVE:
        return document.pop(last, _REMOVE) is not _REMOVE
    document[last] = value
    return True


def _lock(path: Path) -> private_lock:
    """Edits of one config file, one at a time (read, change, replace)."""
    try:
        check_private_dir(str(path.parent), what="config directory")
    except LocalError as exc:
        raise ConfigError(exc.message) from exc
    return private_lock(str(path) + ".lock", f"the config file {path}")


def _edit(path: Path | None, key_path: tuple[str, ...], value: Any) -> bool:
    """Set or remove one key path under the config file's lock."""
    path = config_path() if path is None else path
    with _lock(path):
        return _edit_locked(path, key_path, value)


def _edit_locked(path: Path, key_path: tuple[str, ...], value: Any) -> bool:
    """Set or remove one key path, keep everything else as written.

    The small text edit is tried first and kept only if the file then parses
    to exactly the expected document; tomlkit is the fallback, checked the
    same way.
    """
    found = _read(path)
    text = found[0] if found else ""
    expected = _parse(path, text)
    if not _apply(expected, key_path, value):
        return False

    rendered = None if value is _REMOVE else _render(value)
    for attempt in ("text", "tomlkit"):
        if attempt == "text":
            new_text = (
                _tomltext.remove_key(text, key_path)
                if rendered is None
                else _tomltext.set_key(text, key_path, rendered)
            )
        else:
            new_text = _tomlkit_edit(text, key_path, value)
        if new_text is not None and _parses_to(new_text, expected):
            _write(path, new_text)
            return True
    raise ConfigError(
        f"{path}: cannot change {_tomltext.dotted(key_path)} without rewriting "
        "the file; edit it by hand"
    )


def _pruned(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` without empty tables: ``[profiles]`` alone means nothing."""
    pruned = {}
    for key, value in document.items():
        if isinstance(value, dict):
            value = _pruned(value)
            if not value:
                continue
        pruned[key] = value
    return pruned


def _parses_to(text: str, expected: dict[str, Any]) -> bool:
    try:
        return _pruned(tomllib.loads(text)) == _pruned(expected)
    except (ValueError, RecursionError):  # TOMLDecodeError is a ValueError
        return False


def _tomlkit_edit(text: str, key_path: tuple[str, ...], value: Any) -> str | None:
    import tomlkit

    try:
        document = tomlkit.parse(text)
        container: Any = document
        *parents, last = key_path
        for depth, part in enumerate(parents, 1):
            if part not in container:
                if isinstance(container, tomlkit.items.InlineTable):
                    container[part] = tomlkit.inline_table()
                else:
                    super_table = depth < len(parents)
                    container[part] = tomlkit.table(is_super_table=super_table)
            container = container[part]
        if value is _REMOVE:
            del container[last]
        else:
            container[last] = list(value) if isinstance(value, tuple) else value
        return tomlkit.dumps(document)
    except (KeyError, TypeError, ValueError, tomlkit.exceptions.TOMLKitError):
        return None


def _write(path: Path, text: str) -> None:
    try:
        check_private_dir(str(path.parent), what="config directory")
    except LocalError as exc:
        raise ConfigError(exc.message) from exc
    if path.is_symlink():
        raise ConfigError(f"{path} is a symlink; refusing to write through it")
    try:
        replace_private_file(str(path), text.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc


def key_spec(name: str) -> Key:
    """The ``KEYS`` entry of ``name``; ConfigError with a did-you-mean if none."""
    spec = KEYS.get(name)
    if spec is None:
        raise _unknown("", name, name, KEYS)
    return spec


def _key_path(profile: str, key: str) -> tuple[Key, tuple[str, ...]]:
    _check_name(profile)
    name, dot, entry = key.partition(".")
    spec = KEYS.get(name)
    if spec is None or (dot and (name != "param" or not entry)):
        raise _unknown("", key, key, KEYS)
    return spec, ("profiles", profile, name, *([entry] if dot else []))


def _checked(profile: str, key: str, value: Any) -> tuple[tuple[str, ...], Any]:
    """``key``'s path in the file and ``value`` as it will be written."""
    spec, key_path = _key_path(profile, key)
    subject = _tomltext.dotted(key_path)
    if len(key_path) == 4:
        if not isinstance(value, str):
            raise ConfigError(f"{subject} must be a string, got {_shown(value)}")
        return key_path, value
    toml_value: Any = _from_text(spec, value, subject)
    if isinstance(toml_value, tuple):
        toml_value = list(toml_value)
    try:
        spec.validate(toml_value)
    except _Invalid as exc:
        raise _invalid("", subject, exc, toml_value, spec) from exc
    if spec.kind == "path" and not toml_value.startswith("~"):
        toml_value = os.path.abspath(toml_value)
    return key_path, toml_value


def set_value(profile: str, key: str, value: Any, *, path: Path | None = None) -> None:
    """Set ``key`` of ``profile`` in the file (creating both if needed).

    ``value`` is checked like the file's values; a string for a non-string
    key is parsed like an environment variable (``"30"``, ``"yes"``,
    ``"8020-8040"``). ``param.NAME`` sets one authorization parameter. A
    relative ``ca_file`` is made absolute, since it was relative to here.
    """
    set_values(profile, [(key, value)], path=path)


def set_values(
    profile: str,
    pairs: Sequence[tuple[str, Any]],
    *,
    default: bool = False,
    path: Path | None = None,
) -> None:
    """Set several keys (and, with ``default``, the default profile) at once.

    Every value is checked before the file changes, so a bad one changes
    nothing; the edits happen under the file's lock.
    """
    edits = [_checked(profile, key, value) for key, value in pairs]
    if default:
        _check_name(profile)
        edits.append((("default_profile",), profile))
    path = config_path() if path is None else path
    with _lock(path):
        for key_path, toml_value in edits:
            _edit_locked(path, key_path, toml_value)


def output_settings(
    profile: str, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What ``token``, ``exec`` and the credential helpers read of a profile.

    Only the output keys (``min_ttl``, ``env_var``, ``hosts``, ``username``)
    from ``OAUTHCLI_<KEY>`` or the file: handing out a stored token must not
    depend on the login options (a preset's parameters, say) being complete.
    """
    environ = os.environ if environ is None else environ
    config = load_config()
    values = {
        key: value
        for key, value in config.profiles.get(profile, {}).items()
        if KEYS[key].group == "output"
    }
    for spec in KEYS.values():
        text = environ.get(spec.env_var)
        if spec.group == "output" and spec.env and text:
            values[spec.name] = _layer_value(spec, text, spec.env_var)
    return values


def unset_value(profile: str, key: str, *, path: Path | None = None) -> bool:
    """Remove ``key`` (any name, so typos can go) from ``profile``; False if absent."""
    _check_name(profile)
    name, dot, entry = key.partition(".")
    key_path = ("profiles", profile, name, *([entry] if dot else []))
    return _edit(path, key_path, _REMOVE)


def remove_profile(profile: str, *, path: Path | None = None) -> bool:
    """Remove ``profile`` and all its keys from the file; False if absent."""
    _check_name(profile)
    return _edit(path, ("profiles", profile), _REMOVE)


def set_default_profile(name: str | None, *, path: Path | None = None) -> None:
    """Set the file's ``default_profile``; None removes it."""
    if name is None:
        _edit(path, ("default_profile",), _REMOVE)
        return
    _check_name(name)
    _edit(path, ("default_profile",), name)
