"""scripts/demo.py: the README's demo and `make provider-up`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent.parent / "scripts" / "demo.py"


def provider_up(tmp: Path, watched: str) -> subprocess.Popen[str]:
    """`make provider-up`'s process, its temporary files in ``tmp``, with its
    ``watched`` stream ("stdout" or "stderr") piped and the other dropped."""

    def stream(name: str) -> int:
        return subprocess.PIPE if name == watched else subprocess.DEVNULL

    return subprocess.Popen(
        [sys.executable, str(DEMO), "--keep"],
        env={**os.environ, "TMPDIR": str(tmp)},
        stdout=stream("stdout"),
        stderr=stream("stderr"),
        text=True,
    )


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["term", "int"])
def test_provider_up_cleans_up_its_directory_when_stopped(
    tmp_path: Path, stop: signal.Signals
) -> None:
    # SIGTERM stopped it without leaving the `with` blocks, so its
    # oauthcli-provider-* directory stayed behind.
    process = provider_up(tmp_path, "stdout")
    assert process.stdout is not None
    first = process.stdout.readline()
    assert "The local OpenID provider runs at http://127.0.0.1:" in first
    assert any(tmp_path.glob("oauthcli-provider-*"))

    process.send_signal(stop)
    assert process.wait(timeout=30) == 0
    process.stdout.close()
    assert list(tmp_path.glob("oauthcli-provider-*")) == []


def test_provider_up_stopped_while_starting_says_so_without_a_traceback(
    tmp_path: Path,
) -> None:
    process = provider_up(tmp_path, "stderr")
    deadline = time.monotonic() + 30
    while not any(tmp_path.glob("oauthcli-provider-*")):  # it is starting
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)

    assert "Traceback" not in stderr
    assert process.returncode in (0, 130)  # 0 when it was up already
    assert list(tmp_path.glob("oauthcli-provider-*")) == []
