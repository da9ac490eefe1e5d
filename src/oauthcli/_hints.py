"""The commands that messages suggest, named as the running program names them.

The library's errors and prompts reach the users of whatever program embeds
it, and ``oauthcli login --device`` means nothing to the users of another
CLI. The ``oauthcli`` command names its own commands (``commands.run``); an
embedding program names its own with :func:`set_commands`; without either,
messages say what is needed without naming a command.

Standard library only: the store reads it on ``oauthcli token``'s path.
"""

from __future__ import annotations

import contextlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "commands",
    "device_command",
    "login_again",
    "login_command",
    "set_commands",
]

OAUTHCLI_LOGIN = "oauthcli login"

_commands: dict[str, str | None] = {"login": None, "device": None}


def set_commands(*, login: str | None, device: str | None = None) -> None:
    """Name the commands that messages suggest: ``login`` logs the user in
    (``"mytool login"``), ``device`` does so with a code (``"mytool login
    --device"``); None leaves a command out of the messages."""
    _commands.update(login=login, device=device)


@contextlib.contextmanager
def commands(*, login: str | None, device: str | None) -> Iterator[None]:
    """:func:`set_commands` for the duration of a ``with`` block."""
    before = dict(_commands)
    set_commands(login=login, device=device)
    try:
        yield
    finally:
        _commands.update(before)


def login_command() -> str | None:
    return _commands["login"]


def device_command() -> str | None:
    return _commands["device"]


def login_again(profile: str) -> str:
    """What to do to log ``profile`` in again, in the running program's words."""
    login = _commands["login"]
    if login == OAUTHCLI_LOGIN:
        return f"run `{OAUTHCLI_LOGIN} --profile {profile}`"
    if login is not None:
        return f"run `{login}`"
    return f"call oauthcli.login() for profile {profile!r}"
