"""Opening the browser: never blocking, never claiming what did not happen."""

from __future__ import annotations

import shlex
import threading
from pathlib import Path

import pytest

from oauthcli.browser import browser_unavailable_reason, open_browser


def test_a_launcher_that_blocks_does_not_block_the_caller() -> None:
    release = threading.Event()
    launch = open_browser("http://127.0.0.1:1/", opener=lambda _: release.wait(5))
    assert launch.wait(timeout=0.05) is None  # still running, and we are not
    release.set()
    assert launch.wait(timeout=5) is True


@pytest.mark.parametrize("outcome", [False, RuntimeError("no launcher")])
def test_c05_a_failing_launcher_reports_not_opened(outcome: bool | Exception) -> None:
    reported: list[bool] = []

    def opener(_: str) -> bool:
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    launch = open_browser(
        "http://127.0.0.1:1/", opener=opener, on_result=reported.append
    )
    assert launch.wait(timeout=5) is False
    assert reported == [False]


def test_c11_the_launcher_gets_the_url_unchanged() -> None:
    url = "https://idp.test/authorize?a=1&b=%25^+" + "x" * 2000
    seen: list[str] = []

    def opener(received: str) -> bool:
        seen.append(received)
        return True

    open_browser(url, opener=opener).wait(5)
    assert seen == [url]


def test_a_browser_command_that_exits_non_zero_is_reported_by_its_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # It may have shown the page anyway: "Could not open a browser" said more
    # than anyone knew.
    monkeypatch.setenv("BROWSER", "sh -c 'exit 3' %s")
    said: list[str] = []

    launch = open_browser("http://127.0.0.1:1/", on_failure=said.append)

    assert launch.wait(timeout=10) is False
    assert said == [
        "The browser command exited with status 3; if no login page appeared, "
        "open the URL above yourself."
    ]
    assert launch.failure == said[0]


def test_a_browser_command_that_exits_0_gets_the_url_and_no_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen = tmp_path / "url"
    script = f'echo "$1" > {shlex.quote(str(seen))}'
    monkeypatch.setenv("BROWSER", f"sh -c {shlex.quote(script)} sh %s")
    said: list[str] = []
    url = "http://127.0.0.1:1/authorize?a=1&b=%25"

    launch = open_browser(url, on_failure=said.append)

    assert launch.wait(timeout=10) is True
    assert launch.failure is None
    assert said == []
    assert seen.read_text() == url + "\n"


def test_a_callers_opener_that_fails_says_only_not_opened() -> None:
    said: list[str] = []

    open_browser(
        "http://127.0.0.1:1/", opener=lambda _: False, on_failure=said.append
    ).wait(5)

    assert said == ["Could not open a browser; open the URL above yourself."]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"BROWSER": "firefox", "SSH_CONNECTION": "1 2 3 4"}, None),
        ({"SSH_CONNECTION": "10.0.0.1 5555 10.0.0.2 22", "DISPLAY": ":0"}, "SSH"),
        ({"SSH_TTY": "/dev/pts/1"}, "SSH"),
    ],
)
def test_no_browser_is_tried_over_ssh_unless_browser_is_set(
    env: dict[str, str], expected: str | None
) -> None:
    reason = browser_unavailable_reason(env)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None
        assert expected in reason


def test_no_browser_is_tried_on_linux_without_a_display(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    assert "display" in (browser_unavailable_reason({}) or "")
    assert browser_unavailable_reason({"WAYLAND_DISPLAY": "wayland-0"}) is None
