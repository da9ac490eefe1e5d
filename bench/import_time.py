"""What ``oauthcli`` imports, and what that costs (``python -X importtime``).

Two paths, each as a whole process through the console script:

- token: ``oauthcli token`` with a fresh cached token (the fast path);
- login: a full ``oauthcli login`` with the scripted user.

Modules that a bare ``python -c pass`` imports too are left out. Reported:
the total import time, the self time of oauthcli's own modules, and the
top offenders: the modules imported by an oauthcli module or at run time
(an import inside a function, as oauthcli defers them), by cumulative time
(each includes what it imports in turn). Medians over a few runs.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from common import (
    OAUTHCLI,
    PYTHON,
    Bench,
    markdown_table,
    ms,
    standalone,
)

RUNS = {"token": 7, "login": 3}
TOP = 8


@dataclass(frozen=True)
class Import:
    """One line of ``-X importtime``: a module, its times, who imported it."""

    name: str
    self_us: int
    cumulative_us: int
    depth: int
    parent: str | None


def parse(stderr: str) -> list[Import]:
    """The import lines, with each module's importer.

    A module's line comes after the lines of what it imported (one level
    deeper), so the importer of a line is the next line one level up.
    """
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append((name.strip(), int(own), int(cumulative), depth))

    imports: list[Import] = []
    importer_at: dict[int, str] = {}
    for name, self_us, cumulative_us, depth in reversed(rows):
        importer_at[depth] = name
        parent = importer_at.get(depth - 1) if depth else None
        imports.append(Import(name, self_us, cumulative_us, depth, parent))
    imports.reverse()
    return imports


def importtime(argv: Sequence[str], env: Mapping[str, str]) -> list[Import]:
    done = subprocess.run(
        [PYTHON, "-X", "importtime", *argv],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{argv[:2]} exited {done.returncode}:\n{done.stderr[-1500:]}"
        )
    return parse(done.stderr)


def is_oauthcli(name: str | None) -> bool:
    return name is not None and (name == "oauthcli" or name.startswith("oauthcli."))


def summarize(runs: list[list[Import]], baseline: set[str]) -> dict[str, Any]:
    """Median totals and the top direct imports of oauthcli over the runs."""
    totals, own = [], []
    direct: dict[str, list[float]] = {}
    for imports in runs:
        extra = [entry for entry in imports if entry.name not in baseline]
        totals.append(sum(entry.cumulative_us for entry in extra if entry.depth == 0))
        own.append(sum(entry.self_us for entry in extra if is_oauthcli(entry.name)))
        for entry in extra:
            # Imported by an oauthcli module, or at run time (inside a
            # function: no importer), which is how oauthcli defers imports.
            by_oauthcli = is_oauthcli(entry.parent) or entry.depth == 0
            if is_oauthcli(entry.name) or not by_oauthcli:
                continue
            direct.setdefault(entry.name, []).append(entry.cumulative_us)
    medians = (
        (name, statistics.median(values) / 1000) for name, values in direct.items()
    )
    top = sorted(
        ((name, value) for name, value in medians if value >= 0.5),
        key=lambda item: item[1],
        reverse=True,
    )[:TOP]
    return {
        "runs": len(runs),
        "total_ms": round(statistics.median(totals) / 1000, 2),
        "oauthcli_self_ms": round(statistics.median(own) / 1000, 2),
        "top_imports_ms": {name: round(value, 2) for name, value in top},
    }


def run(bench: Bench) -> dict[str, Any]:
    runs = {path: 1 if bench.quick else count for path, count in RUNS.items()}
    baseline = {
        entry.name for entry in importtime(["-c", "pass"], bench.env(bench.workdir))
    }

    home = bench.log_in("import-time-token")
    env = bench.env(home)
    token = [importtime([OAUTHCLI, "token"], env) for _ in range(runs["token"])]

    login = []
    for index in range(runs["login"]):
        home = bench.home(f"import-time-login-{index}")
        env = bench.browser_env(home, home / "user.log")
        login.append(importtime(bench.login_argv(), env))
        shutil.rmtree(home)

    return {
        "token": summarize(token, baseline),
        "login": summarize(login, baseline),
    }


def render(result: dict[str, Any]) -> str:
    rows = []
    for path, row in result.items():
        top = ", ".join(
            f"{name} {value:.0f}"
            for name, value in list(row["top_imports_ms"].items())[:5]
        )
        rows.append([path, ms(row["total_ms"]), ms(row["oauthcli_self_ms"]), top])
    header = ["import time", "all imports", "oauthcli's own", "top imports (ms)"]
    return markdown_table(header, rows)


if __name__ == "__main__":
    sys.exit(standalone(run, render))
