"""Shared fixtures: the local OpenID provider, isolated homes, scripted users.

The scripted users are used through the BROWSER variable, the way a person's
browser is found by Python's ``webbrowser``:

- ``http_browser``: tests/browsers/http_user.py, plain HTTP, fast;
- ``chromium_browser``: tests/browsers/chromium_user.py, headless Chromium.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from localprovider import (
    CHROMIUM_USER,
    DEFAULT_CLIENTS,
    HTTP_USER,
    LocalProvider,
    ProviderFactory,
    browser_command,
    chromium_missing,
    in_ci,
)

__all__ = ["browser_command"]

# Property tests (tests/test_properties.py): "ci", the default, keeps each
# parser to a second or two; HYPOTHESIS_PROFILE=long tries a hundred times
# more examples and keeps failing ones in .hypothesis/ to replay first. The
# deadline is per example: a parser that needs longer than that for a small
# input fails the test even when it finally answers.
settings.register_profile(
    "ci", max_examples=200, deadline=timedelta(seconds=1), database=None
)
settings.register_profile(
    "long", max_examples=20_000, deadline=timedelta(seconds=2), print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProvider]:
    """One provider with the default clients, shared by the whole session."""
    with LocalProvider.start(tmp_path_factory.mktemp("provider")) as running:
        yield running


@pytest.fixture
def make_provider(tmp_path: Path) -> Iterator[ProviderFactory]:
    """Start providers with their own clients or TTLs; stopped after the test."""
    started: list[LocalProvider] = []

    def make(
        clients: Sequence[Mapping[str, Any]] = DEFAULT_CLIENTS,
        ttl: Mapping[str, int] | None = None,
    ) -> LocalProvider:
        workdir = tmp_path / f"provider-{len(started)}"
        started.append(LocalProvider.start(workdir, clients, ttl))
        return started[-1]

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def oauthcli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, private OAUTHCLI_HOME for this test."""
    home = tmp_path / "oauthcli-home"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("OAUTHCLI_HOME", str(home))
    return home


@pytest.fixture
def http_browser() -> str:
    """BROWSER value for the plain-HTTP scripted user."""
    return browser_command(HTTP_USER)


@pytest.fixture
def chromium_browser() -> str:
    """BROWSER value for the headless Chromium user.

    Skipped where Chromium is not installed, except under CI, where a missing
    browser is a failure.
    """
    reason = chromium_missing()
    if reason is not None:
        if in_ci():
            pytest.fail(f"CI is set and {reason}")
        pytest.skip(reason)
    return browser_command(CHROMIUM_USER)
