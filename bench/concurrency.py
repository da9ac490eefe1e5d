"""Many processes want a token at once, and it has expired.

For N in 1, 4, 16 and 64: the stored access token is marked expired, N
``oauthcli token`` processes are started and held at a barrier (each
announces itself on one pipe, then blocks reading another, which the bench
closes once all N are there), then released together. The provider must see
exactly one ``refresh_token`` grant per round, and every process must print
the same new token. Each process's wall time runs from the release to its
exit (its interpreter start included: ``exec`` follows the barrier); its
CPU time (user + system) says what the waiting costs on a 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    EXPIRE_SCRIPT,
    OAUTHCLI,
    PYTHON,
    Bench,
    markdown_table,
    ms,
    percentile,
    standalone,
    store_file,
)

LEVELS = (1, 4, 16, 64)
QUICK_LEVELS = (1, 4)
ROUNDS = 3
ROUND_TIMEOUT = 120.0

# argv: RELEASE_FD READY_FD COMMAND...; stdlib only, then exec.
GATE = """
import os, sys
release, ready = int(sys.argv[1]), int(sys.argv[2])
os.write(ready, b".")
os.close(ready)
os.read(release, 1)
os.close(release)
os.execv(sys.argv[3], sys.argv[3:])
"""


def one_round(bench: Bench, home: Path, processes: int) -> dict[str, Any]:
    """N processes released at once; their wall times and the grants it cost."""
    subprocess.run([PYTHON, "-c", EXPIRE_SCRIPT, str(store_file(home))], check=True)
    outputs = bench.workdir / "concurrency"
    outputs.mkdir(exist_ok=True)
    grants_before = bench.provider.count_grants("refresh_token")

    release_r, release_w = os.pipe()
    ready_r, ready_w = os.pipe()
    env = bench.env(home)
    children: dict[int, subprocess.Popen[bytes]] = {}
    group = 0
    for index in range(processes):
        with (
            open(outputs / f"{index}.out", "wb") as stdout,
            open(outputs / f"{index}.err", "wb") as stderr,
        ):
            child = subprocess.Popen(
                [PYTHON, "-c", GATE, str(release_r), str(ready_w), OAUTHCLI, "token"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                pass_fds=(release_r, ready_w),
                process_group=group,
            )
        group = group or child.pid
        children[child.pid] = child
    os.close(release_r)
    os.close(ready_w)

    arrived = 0
    while arrived < processes:
        chunk = os.read(ready_r, processes)
        if not chunk:
            raise RuntimeError("a process died before it reached the barrier")
        arrived += len(chunk)
    os.close(ready_r)

    released = time.monotonic()
    os.close(release_w)
    seconds: list[float] = []
    cpu: list[float] = []
    while len(seconds) < processes:
        if time.monotonic() - released > ROUND_TIMEOUT:
            raise RuntimeError(f"{processes} processes did not finish in time")
        pid, status, usage = os.wait4(-group, 0)
        seconds.append(time.monotonic() - released)
        cpu.append(usage.ru_utime + usage.ru_stime)
        children[pid].returncode = os.waitstatus_to_exitcode(status)

    failed = [child for child in children.values() if child.returncode != 0]
    if failed:
        index = list(children.values()).index(failed[0])
        error = (outputs / f"{index}.err").read_text(errors="replace")[-1500:]
        raise RuntimeError(f"{len(failed)} of {processes} processes failed:\n{error}")
    printed = {(outputs / f"{index}.out").read_bytes() for index in range(processes)}
    if len(printed) != 1:
        raise RuntimeError(f"{processes} processes printed {len(printed)} tokens")
    grants = bench.provider.count_grants("refresh_token") - grants_before
    return {"seconds": seconds, "cpu": cpu, "refresh_grants": grants}


def run(bench: Bench) -> dict[str, Any]:
    home = bench.log_in("concurrency")
    levels = QUICK_LEVELS if bench.quick else LEVELS
    rounds = 1 if bench.quick else ROUNDS
    results: dict[str, Any] = {}
    for processes in levels:
        outcomes = [one_round(bench, home, processes) for _ in range(rounds)]
        seconds = [value for outcome in outcomes for value in outcome["seconds"]]
        cpu = [value for outcome in outcomes for value in outcome["cpu"]]
        results[str(processes)] = {
            "rounds": rounds,
            "refresh_grants": [outcome["refresh_grants"] for outcome in outcomes],
            "p50_ms": round(percentile(seconds, 50) * 1000, 2),
            "p95_ms": round(percentile(seconds, 95) * 1000, 2),
            "max_ms": round(max(seconds) * 1000, 2),
            "cpu_p50_ms": round(percentile(cpu, 50) * 1000, 2),
        }
    one_each = all(
        grants == 1 for row in results.values() for grants in row["refresh_grants"]
    )
    return {"processes": results, "one_refresh_per_round": one_each}


def render(result: dict[str, Any]) -> str:
    rows = [
        [
            processes,
            ", ".join(str(grants) for grants in row["refresh_grants"]),
            ms(row["p50_ms"]),
            ms(row["p95_ms"]),
            ms(row["cpu_p50_ms"]),
        ]
        for processes, row in result["processes"].items()
    ]
    header = ["processes at once", "refresh grants per round", "p50", "p95", "CPU p50"]
    return markdown_table(header, rows)


if __name__ == "__main__":
    sys.exit(standalone(run, render))
