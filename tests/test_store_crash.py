"""Crash safety of the store: real processes, real SIGKILLs (ST-06, ST-07, ST-10).

ST-07 kills writers a thousand times (``OAUTHCLI_CRASH_KILLS``), half of them
in the middle of a plain store write, half in the middle of a real refresh
against a provider (tests/evilprovider.py, in this process). The writers are
children of one fork server (tests/crashworker.py): a fork costs milliseconds
where a new interpreter costs a tenth of a second. Each kill comes at a
random moment within the time the operation takes, and after each one the
store must parse and hold the old or the new token pair, whole.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from evilprovider import EvilProvider, ScriptedUser
from localprovider import TESTS_DIR
from oauthcli import OAuth2Constants
from oauthcli.session import login
from oauthcli.store import ORPHAN_AGE, list_profiles, read_entry, write_entry

WORKER: Path = TESTS_DIR / "crashworker.py"
KILLS = int(os.environ.get("OAUTHCLI_CRASH_KILLS", "1000"))
SEED = int(os.environ.get("OAUTHCLI_CRASH_SEED", "8"))
CALIBRATION_ROUNDS = 10  # unharmed rounds that set the moments of the kills
RECALIBRATE_EVERY = 50  # kills, after which one more unharmed round each
KILL_SPAN = 1.1  # kills fall within 1.1 times an operation's usual duration

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


class PairRecorder(EvilProvider):
    """The provider, noting every access and refresh token pair it hands out."""

    def __init__(self) -> None:
        super().__init__()
        self.rotate_refresh = False  # a refresh lost to a kill logs no one out
        self.pairs: dict[str, str] = {}  # access token -> its refresh token
        self.order: dict[str, int] = {}  # access token -> when it was issued

    def _answer(self, handler: Any, request: Any, *args: Any, **kwargs: Any) -> None:
        document = args[0] if args else kwargs["document"]
        access_token = document.get("access_token")
        if access_token and document.get("refresh_token"):
            with self._lock:
                self.pairs[access_token] = document["refresh_token"]
                self.order[access_token] = len(self.order)
        super()._answer(handler, request, *args, **kwargs)


class ForkServer:
    """tests/crashworker.py: one request per round, one JSON answer."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.ask_line() == "ready\n"

    def ask_line(self, line: str | None = None) -> str:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        if line is not None:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        return self.process.stdout.readline()

    def run(self, **request: Any) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self.ask_line(json.dumps(request)))
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        self.process.stdout.close()
        assert self.process.wait(timeout=30) == 0


@pytest.fixture
def fork_server(
    oauthcli_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ForkServer]:
    # A one-certificate trust store: every refresh builds a TLS context,
    # even for http://127.0.0.1, and the system bundle costs 20-40 ms.
    ca_file = tmp_path / "unrelated-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    server = ForkServer(dict(os.environ))
    yield server
    server.close()


def stored_pair(home: Path, profile: str) -> tuple[str, str]:
    """The profile's token pair; the file must parse and hold one."""
    path = home / "profiles" / f"{profile}.json"
    document = json.loads(path.read_bytes())  # never truncated, never nothing
    assert read_entry(profile) == document  # and oauthcli reads it as it is
    tokens = document["tokens"]
    return tokens["access_token"], tokens["refresh_token"]


def generation_document(generation: int) -> dict[str, Any]:
    """What tests/crashworker.py writes for a generation."""
    return {
        "settings": {"issuer": "https://idp.test", "client_id": "cli"},
        "tokens": {
            "access_token": f"at-{generation}",
            "refresh_token": f"rt-{generation}",
            "generation": generation,
        },
    }


def landed(answer: dict[str, Any]) -> str:
    """Where a kill landed, from the steps the child got through."""
    steps = answer["trace"]
    if not answer["killed"]:
        return "after the end"
    if steps.endswith("w"):
        return "mid-write"
    if "W" in steps:
        return "after a write"
    if "h" in steps:
        return "answer in, nothing stored"
    return "before any write"


class Rounds:
    """One kind of round per profile: ``write`` on "writes", ``refresh`` on
    "default"; each checks the store after the child's end.

    The moment of a kill is drawn from how long the operation took in the
    last few rounds that nothing killed, so that it follows the machine's
    load: most kills land inside the operation, a few after its end.
    """

    def __init__(self, home: Path, server: ForkServer, provider: PairRecorder) -> None:
        self.home = home
        self.server = server
        self.provider = provider
        self.generation = 0
        self.tally: Counter[tuple[str, str, str]] = Counter()
        self.unharmed: dict[str, deque[float]] = {
            op: deque(maxlen=CALIBRATION_ROUNDS) for op in ("write", "refresh")
        }
        write_entry("writes", generation_document(0))

    def kill(self, op: str, rng: random.Random) -> None:
        """One round of ``op`` with a kill at a random moment."""
        usual = statistics.median(self.unharmed[op])
        answer, old = self.run(op, rng.uniform(0, usual * KILL_SPAN))
        assert answer["killed"] or answer["exit"] == 0, answer
        self.tally[op, landed(answer), "old" if old else "new"] += 1

    def calibrate(self, rounds: int = CALIBRATION_ROUNDS) -> None:
        """Rounds that nothing kills: how long each operation takes now."""
        for op in ("write", "refresh"):
            for _ in range(rounds):
                answer, _ = self.run(op, None)
                assert answer["exit"] == 0, answer
                assert answer["trace"].endswith("d"), answer
                self.unharmed[op].append(answer["seconds"])

    def run(self, op: str, kill_after: float | None) -> tuple[dict[str, Any], bool]:
        """Run ``op``, check the store; the answer, and whether it kept the old pair."""
        profile = "writes" if op == "write" else "default"
        old = stored_pair(self.home, profile)
        extra = {}
        if op == "write":
            self.generation += 1
            extra["generation"] = self.generation
        answer = self.server.run(op=op, profile=profile, kill_after=kill_after, **extra)
        pair = stored_pair(self.home, profile)
        if op == "write":
            new = (f"at-{self.generation}", f"rt-{self.generation}")
            assert pair in (old, new), "a mix, or an older pair than before"
        else:
            # Compared, never shown: a failure must not print tokens.
            issued = self.provider.order
            one_pair = self.provider.pairs.get(pair[0]) == pair[1]
            assert one_pair, "an access token stored with another's refresh token"
            assert issued[pair[0]] >= issued[old[0]], "an older pair than before"
        return answer, pair == old


def test_st_07_writers_killed_mid_write_or_mid_refresh_leave_old_or_new_tokens(
    oauthcli_home: Path, fork_server: ForkServer
) -> None:
    started = time.monotonic()
    rng = random.Random(SEED)  # noqa: S311 - the moments of the kills, no secret
    with PairRecorder() as provider:
        constants = OAuth2Constants(
            client_id=provider.client_id,
            authz_server_host=provider.issuer,
            login_timeout=10,
        )
        login(constants, opener=ScriptedUser(), notify=lambda _: None)
        rounds = Rounds(oauthcli_home, fork_server, provider)
        rounds.calibrate(1)  # warms the page cache up
        rounds.calibrate()
        answered = -len(provider.pairs)

        for kill in range(KILLS):
            if kill and kill % RECALIBRATE_EVERY == 0:
                rounds.calibrate(1)
                answered -= 1
            rounds.kill(("write", "refresh")[kill % 2], rng)
        answered += len(provider.pairs)
        usual = {op: statistics.median(times) for op, times in rounds.unharmed.items()}
    elapsed = time.monotonic() - started

    # The temporary files of killed writers are never read as a profile,
    # and the next write removes them once they are old.
    directory = oauthcli_home / "profiles"
    orphans = [path for path in directory.iterdir() if path.name.startswith(".tmp-")]
    assert list_profiles() == ["default", "writes"]
    for orphan in orphans:
        os.utime(orphan, (time.time() - ORPHAN_AGE - 1,) * 2)
    write_entry("writes", generation_document(rounds.generation + 1))
    assert not [path for path in directory.iterdir() if path.name.startswith(".tmp-")]

    tally = rounds.tally
    assert sum(tally.values()) == KILLS
    stored = sum(
        n for (op, _, kept), n in tally.items() if (op, kept) == ("refresh", "new")
    )
    print(
        f"\n{KILLS} kills in {elapsed:.1f} s (seed {SEED}); an unharmed write takes "
        f"{usual['write'] * 1000:.1f} ms, a refresh {usual['refresh'] * 1000:.1f} ms; "
        f"{len(orphans)} temp files orphaned; the provider answered {answered} "
        f"refreshes, {answered - stored} of them lost to the kill\n"
        + "\n".join(
            f"  {op:7} {where:26} {kept}: {n}"
            for (op, where, kept), n in sorted(tally.items())
        )
    )


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
