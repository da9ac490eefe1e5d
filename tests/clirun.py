"""Running the real ``oauthcli`` command from tests, as a user would."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from localprovider import LocalProvider

_DROPPED = (
    "BROWSER",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "SSH_CONNECTION",
    "OAUTHCLI_PROFILE",
)


def cli_env(home: Path, browser: str | None, **extra: str) -> dict[str, str]:
    """The environment of a user with this OAUTHCLI_HOME and BROWSER."""
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED}
    env["OAUTHCLI_HOME"] = str(home)
    if browser is not None:
        env["BROWSER"] = browser
    env.update(extra)
    return env


def oauthcli(
    *args: str,
    env: Mapping[str, str],
    timeout: float = 60,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m oauthcli ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "oauthcli", *args],
        env=dict(env),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def login_args(
    provider: LocalProvider, client_id: str = "cli-app", *more: str
) -> list[str]:
    return ["login", "--issuer", provider.issuer, "--client-id", client_id, *more]


def stored(home: Path, profile: str = "default") -> dict[str, Any] | None:
    """The profile's store document as JSON, or None."""
    path = home / "profiles" / f"{profile}.json"
    if not path.exists():
        return None
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@contextlib.contextmanager
def server_without_metadata() -> Iterator[str]:
    """An issuer on 127.0.0.1 that answers 404 to everything; yields its URL."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def log_in(
    provider: LocalProvider, home: Path, browser: str, *more: str
) -> dict[str, str]:
    """Log in for real at ``provider`` (scripted user); the user's environment."""
    env = cli_env(home, browser)
    result = oauthcli(*login_args(provider, "cli-app", *more), env=env)
    assert result.returncode == 0, result.stderr
    return env
