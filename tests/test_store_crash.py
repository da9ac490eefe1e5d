"""Crash safety of the store: real processes, real SIGKILLs (ST-06, ST-07, ST-10)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

WRITER = """
import os, sys, time
from oauthcli.store import write_entry
n = 0
while True:
    n += 1
    write_entry(sys.argv[1], {
        "settings": {"issuer": "https://idp.test", "client_id": "cli"},
        "tokens": {"access_token": f"at-{n}", "refresh_token": f"rt-{n}",
                   "padding": "x" * 20000},
    })
"""


def read_store(path: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads(path.read_text())
    return document


def test_st_07_writers_killed_at_random_moments_never_leave_a_damaged_store(
    oauthcli_home: Path,
) -> None:
    path = oauthcli_home / "profiles" / "default.json"
    kills = 0
    last = 0
    for round_number in range(60):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, "default"])
        time.sleep(0.15 + (round_number % 7) * 0.013)  # spread the kill points
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        kills += 1
        if not path.exists():
            continue
        document = read_store(path)  # never truncated, never a mix
        tokens = document["tokens"]
        assert isinstance(tokens, dict)
        number = int(str(tokens["access_token"]).removeprefix("at-"))
        assert tokens["refresh_token"] == f"rt-{number}"  # a pair, not a mix
        last = number
    assert kills == 60
    assert last > 0
    leftovers = [p.name for p in path.parent.iterdir() if p.name.startswith(".tmp-")]
    assert len(leftovers) <= kills  # orphans are only ever temp files


def test_st_06_a_reader_always_sees_a_whole_document(oauthcli_home: Path) -> None:
    writer = subprocess.Popen([sys.executable, "-c", WRITER, "default"])
    path = oauthcli_home / "profiles" / "default.json"
    try:
        deadline = time.monotonic() + 10
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        seen = set()
        for _ in range(1000):
            tokens = read_store(path)["tokens"]
            assert isinstance(tokens, dict)
            seen.add(tokens["access_token"])
        assert len(seen) > 1  # the writer really was writing meanwhile
    finally:
        writer.kill()
        writer.wait()


@pytest.mark.parametrize("processes", [20])
def test_st_10_concurrent_writers_of_different_profiles_lose_nothing(
    oauthcli_home: Path, processes: int
) -> None:
    code = (
        "import sys; from oauthcli.store import write_entry; "
        "write_entry(sys.argv[1], "
        "{'settings': {}, 'tokens': {'access_token': sys.argv[1]}})"
    )
    running = [
        subprocess.Popen([sys.executable, "-c", code, f"p{n}"], env=dict(os.environ))
        for n in range(processes)
    ]
    for process in running:
        assert process.wait(timeout=60) == 0
    for n in range(processes):
        tokens = read_store(oauthcli_home / "profiles" / f"p{n}.json")["tokens"]
        assert tokens == {"access_token": f"p{n}"}
