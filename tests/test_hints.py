"""The commands messages suggest (_hints): the running program's own."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from oauthcli import set_commands
from oauthcli._hints import OAUTHCLI_LOGIN, commands, login_again


@pytest.fixture(autouse=True)
def no_program_commands() -> Iterator[None]:
    set_commands(login=None)
    yield
    set_commands(login=None)


def test_a_library_without_commands_names_none() -> None:
    assert login_again("work") == "call oauthcli.login() for profile 'work'"


def test_the_oauthcli_command_names_its_own_flags() -> None:
    with commands(login=OAUTHCLI_LOGIN, device=None):
        assert login_again("work") == "run `oauthcli login --profile work`"
    assert login_again("work") == "call oauthcli.login() for profile 'work'"


def test_the_command_in_one_thread_leaves_the_program_its_words_elsewhere() -> None:
    """A program that runs the oauthcli command in a thread: its other
    threads keep its own words, and a set_commands meanwhile is kept."""
    inside = threading.Event()
    release = threading.Event()
    seen: list[str] = []

    def cli() -> None:
        with commands(login=OAUTHCLI_LOGIN, device=None):
            inside.set()
            release.wait(5)
            seen.append(login_again("work"))

    thread = threading.Thread(target=cli)
    thread.start()
    assert inside.wait(5)
    assert login_again("work") == "call oauthcli.login() for profile 'work'"
    set_commands(login="mytool login")
    release.set()
    thread.join(5)

    assert seen == ["run `oauthcli login --profile work`"]
    assert login_again("work") == "run `mytool login`"
