"""Time whole processes and read their peak memory, from a small process.

    python -S -I proctimer.py < plan.marshal > timings.marshal

Linux counts the RSS of the process that calls exec into the new program's
``ru_maxrss`` (the spawning parent's pages, under vfork or fork). Measured
from a big parent, every child would report the parent's size; so the
timing runs here, in an interpreter without ``site`` that imports nothing
but builtin modules (``marshal`` rather than ``json``, which pulls in
``re``); its own peak is reported next to the results, and a child's peak
below that figure reads as that figure.

The plan (marshalled): ``{"runs": N, "warmup": W, "cases": [{"name", "argv", "env",
"stdout", "stderr", "before"}]}``. Rounds are interleaved (every case once
per round), so that a slow patch of a noisy machine hits all cases alike.
``before`` is an argv run untimed ahead of each run of its case. A child that
exits non-zero stops everything, exit 1, with its stderr's tail.
"""

from __future__ import annotations

import marshal
import os
import sys
import time

TYPE_CHECKING = False  # typing is not imported here: it would grow this process
if TYPE_CHECKING:
    from typing import Any


def spawn(argv: list[str], env: dict[str, str], stdout: str, stderr: str) -> int:
    """Start ``argv`` with stdin from /dev/null and its output in files."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        (os.POSIX_SPAWN_OPEN, 2, stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
    ]
    return os.posix_spawn(argv[0], argv, env, file_actions=actions)


def fail(case: dict[str, Any], status: int) -> None:
    with open(case["stderr"], "rb") as log:
        tail = log.read()[-1500:].decode("utf-8", "replace")
    sys.stderr.write(f"{case['name']}: {case['argv']} exited {status}\n{tail}\n")
    sys.exit(1)


def run_once(case: dict[str, Any]) -> dict[str, float]:
    """One untimed ``before`` step, then one timed run of the case."""
    env = case["env"]
    if case.get("before"):
        pid = spawn(case["before"], env, os.devnull, case["stderr"])
        _, status, _ = os.wait4(pid, 0)
        if status:
            fail({**case, "argv": case["before"]}, os.waitstatus_to_exitcode(status))

    wall = time.time()
    started = time.perf_counter()
    pid = spawn(case["argv"], env, case["stdout"] or os.devnull, case["stderr"])
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    if status:
        fail(case, os.waitstatus_to_exitcode(status))
    return {
        "start": wall,
        "end": wall + seconds,
        "seconds": seconds,
        "max_rss_kib": usage.ru_maxrss,  # KiB on Linux
    }


def own_peak_kib() -> int:
    """The peak RSS of this process's memory, which a child's exec inherits.

    Not ``getrusage(RUSAGE_SELF)``: that includes the figure this process
    itself inherited from its parent when it started.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main() -> int:
    plan = marshal.loads(sys.stdin.buffer.read())  # noqa: S302 - from our parent
    cases = plan["cases"]
    results: dict[str, list[dict[str, Any]]] = {case["name"]: [] for case in cases}
    for round_number in range(plan["warmup"] + plan["runs"]):
        for case in cases:
            run = run_once(case)
            run["warmup"] = round_number < plan["warmup"]
            results[case["name"]].append(run)

    answer = {"runner_max_rss_kib": own_peak_kib(), "cases": results}
    sys.stdout.buffer.write(marshal.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
