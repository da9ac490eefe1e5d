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
import contextvars

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

# The embedding program's choice, for every thread; the oauthcli command's
# own, for the command it runs only (a context variable: a program that runs
# the command in one thread keeps its own words in the others).
_program: dict[str, str | None] = {"login": None, "device": None}
_command: contextvars.ContextVar[dict[str, str | None] | None] = contextvars.ContextVar(
    "oauthcli_hint_commands", default=None
)


def set_commands(*, login: str | None, device: str | None = None) -> None:
    """Name the commands that messages suggest: ``login`` logs the user in
    (``"mytool login"``), ``device`` does so with a code (``"mytool login
    --device"``); None leaves a command out of the messages."""
    _program.update(login=login, device=device)


@contextlib.contextmanager
def commands(*, login: str | None, device: str | None) -> Iterator[None]:
    """These commands in messages within the ``with`` block (this context)."""
    token = _command.set({"login": login, "device": device})
    try:
        yield
    finally:
        _command.reset(token)


def _current() -> dict[str, str | None]:
    return _command.get() or _program


def login_command() -> str | None:
    return _current()["login"]


def device_command() -> str | None:
    return _current()["device"]


def login_again(profile: str) -> str:
    """What to do to log ``profile`` in again, in the running program's words."""
    login = login_command()
    if login == OAUTHCLI_LOGIN:
        return f"run `{OAUTHCLI_LOGIN} --profile {profile}`"
    if login is not None:
        return f"run `{login}`"
    return f"call oauthcli.login() for profile {profile!r}"
