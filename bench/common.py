"""What every benchmark here shares: the provider, homes, timing, statistics.

One ``Bench`` per run: it compiles bytecode, starts the local OpenID provider
(tests/localprovider.py) on 127.0.0.1 with the test clients plus one for
google-auth-oauthlib, and hands out an isolated ``OAUTHCLI_HOME`` per
measurement. Whole processes are timed by ``proctimer.py`` in a small
process of its own (see there why), rounds interleaved. The machine is
noisy: the figures that count are ratios within one run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import marshal
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

BENCH_DIR: Final = Path(__file__).resolve().parent
ROOT: Final = BENCH_DIR.parent
PEERS: Final = BENCH_DIR / "peers"
RESULTS: Final = BENCH_DIR / "results"
TESTS_DIR: Final = ROOT / "tests"

sys.path.insert(0, str(TESTS_DIR))

from localprovider import (  # noqa: E402 - tests/ is not a package
    CLI_SECRET_POST,
    DEFAULT_CLIENTS,
    LocalProvider,
)

PYTHON: Final = sys.executable
OAUTHCLI: Final = str(Path(PYTHON).with_name("oauthcli"))
PROCTIMER: Final = BENCH_DIR / "proctimer.py"
TIMED_USER: Final = BENCH_DIR / "timed_user.py"

DEFAULT_RUNS: Final = 30
PUBLIC_CLIENT: Final = "cli-app"
# google-auth-oauthlib's InstalledAppFlow always sends a client secret and
# redirects to http://HOST:PORT/ (path "/"), which the test clients (path
# /callback) refuse; so the bench registers a client of its own for it.
INSTALLED_APP_CLIENT: Final = "bench-installed-app"
INSTALLED_APP_SECRET: Final = CLI_SECRET_POST
BENCH_CLIENTS: Final[Sequence[Mapping[str, Any]]] = (
    *DEFAULT_CLIENTS,
    {
        "client_id": INSTALLED_APP_CLIENT,
        "client_secret": INSTALLED_APP_SECRET,
        "application_type": "native",
        "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": ["http://127.0.0.1/"],
    },
)

# Variables that would change what the children do: a desktop browser, a
# profile, proxies (all traffic stays on 127.0.0.1).
_DROPPED: Final = frozenset(
    {
        "BROWSER",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "SSH_CONNECTION",
        "SSH_TTY",
        "OAUTHCLI_PROFILE",
        "OAUTHCLI_MIN_TTL",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    }
)

# Marks the stored access token expired, keeping the file as it is otherwise
# (same inode, so its 0600 mode and single link stay).
EXPIRE_SCRIPT: Final = """
import json, sys, time
path = sys.argv[1]
with open(path, encoding="utf-8") as handle:
    document = json.load(handle)
document["tokens"]["expires_at"] = time.time() - 10
with open(path, "w", encoding="utf-8") as handle:
    json.dump(document, handle)
"""


def has_module(name: str) -> bool:
    """Whether ``name`` can be imported here (a bench extra may be missing)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def browser_command(log: Path) -> str:
    """BROWSER for the scripted user, with timestamps in ``log``.

    bash notes the moment the browser is launched (``$EPOCHREALTIME``, no
    interpreter start-up in between), then runs tests/browsers/http_user.py
    through timed_user.py, which notes when it sends the callback. The
    trailing ``&`` makes ``webbrowser`` start it in the background and
    return at once, as a desktop browser launcher does, for every client.
    """
    script = f'echo "launch $EPOCHREALTIME" >> {shlex.quote(str(log))}; exec "$@"'
    bash = shutil.which("bash") or "/bin/bash"
    parts = [bash, "-c", script, "bash", PYTHON, str(TIMED_USER), str(log), "%s"]
    return " ".join(shlex.quote(part) for part in parts) + " &"


def user_events(log: Path) -> list[tuple[str, float]]:
    """The scripted user's (event, wall time) lines, oldest first."""
    if not log.exists():
        return []
    events = []
    for line in log.read_text(encoding="utf-8").splitlines():
        name, _, when = line.partition(" ")
        events.append((name, float(when)))
    return events


@dataclass
class Bench:
    """One benchmark run: a provider, a work directory, the run's settings."""

    provider: LocalProvider
    workdir: Path
    runs: int
    warmup: int
    quick: bool
    skipped: list[str] = field(default_factory=list)
    _homes: int = 0

    @classmethod
    @contextlib.contextmanager
    def start(cls, runs: int, *, quick: bool = False) -> Iterator[Bench]:
        compile_bytecode()
        with tempfile.TemporaryDirectory(prefix="oauthcli-bench-") as tmp:
            workdir = Path(tmp)
            provider = LocalProvider.start(workdir / "provider", BENCH_CLIENTS)
            try:
                yield cls(provider, workdir, runs, 0 if quick else 3, quick)
            finally:
                provider.stop()

    @property
    def issuer(self) -> str:
        return self.provider.issuer

    def home(self, name: str) -> Path:
        """A new, empty, private directory for one measurement."""
        self._homes += 1
        path = self.workdir / "homes" / f"{self._homes:02d}-{name}"
        path.mkdir(mode=0o700, parents=True)
        return path

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """The environment of a user whose oauthcli files are in ``home``."""
        env = {key: value for key, value in os.environ.items() if key not in _DROPPED}
        env["OAUTHCLI_HOME"] = str(home)
        env["NO_PROXY"] = "127.0.0.1,localhost"
        env.update(extra)
        return env

    def browser_env(self, home: Path, log: Path, **extra: str) -> dict[str, str]:
        """``env`` plus BROWSER: the scripted user, noting times in ``log``."""
        return self.env(home, BROWSER=browser_command(log), **extra)

    def login_argv(self, *more: str) -> list[str]:
        return [
            OAUTHCLI,
            "login",
            "--issuer",
            self.issuer,
            "--client-id",
            PUBLIC_CLIENT,
            *more,
        ]

    def log_in(self, name: str) -> Path:
        """A home where ``oauthcli login`` (scripted user) has just succeeded."""
        home = self.home(name)
        env = self.browser_env(home, home / "user.log")
        result = subprocess.run(
            self.login_argv(),
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"oauthcli login failed:\n{result.stderr[-2000:]}")
        return home

    def log(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    def time_processes(
        self, cases: Sequence[Case], runs: int | None = None, warmup: int | None = None
    ) -> dict[str, Timings]:
        """Time each case ``runs`` times after ``warmup`` rounds, interleaved."""
        (self.workdir / "logs").mkdir(exist_ok=True)
        plan = {
            "runs": self.runs if runs is None else runs,
            "warmup": self.warmup if warmup is None else warmup,
            "cases": [
                {
                    "name": case.name,
                    "argv": list(case.argv),
                    "env": dict(case.env),
                    "before": list(case.before) if case.before else None,
                    "stdout": str(case.stdout) if case.stdout else None,
                    "stderr": str(self.log(case.name.replace(" ", "_"))),
                }
                for case in cases
            ],
        }
        done = subprocess.run(
            [PYTHON, "-S", "-I", str(PROCTIMER)],
            input=marshal.dumps(plan),
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace")
            raise RuntimeError(f"a timed process failed:\n{stderr}")
        answer = marshal.loads(done.stdout)  # noqa: S302 - from our own child
        runner_kib = int(answer["runner_max_rss_kib"])
        return {
            name: Timings(
                runs=[run for run in measured if not run["warmup"]],
                all_runs=measured,
                runner_max_rss_kib=runner_kib,
            )
            for name, measured in answer["cases"].items()
        }


@dataclass(frozen=True)
class Case:
    """One command to time: its argv, environment, and an untimed step."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    before: Sequence[str] | None = None
    stdout: Path | None = None


@dataclass(frozen=True)
class Timings:
    """The measured runs of one case (warm-up runs only in ``all_runs``)."""

    runs: list[dict[str, Any]]
    all_runs: list[dict[str, Any]]
    runner_max_rss_kib: int

    @property
    def seconds(self) -> list[float]:
        return [float(run["seconds"]) for run in self.runs]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def max_rss_kib(self) -> int:
        return max(int(run["max_rss_kib"]) for run in self.runs)

    def summary(self) -> dict[str, Any]:
        return {
            "median_ms": round(self.median_ms, 2),
            "p95_ms": round(percentile(self.seconds, 95) * 1000, 2),
            "runs": len(self.runs),
            "max_rss_kib": self.max_rss_kib,
        }


def compile_bytecode() -> None:
    """Write bytecode for oauthcli and the bench's own modules.

    This machine sets PYTHONDONTWRITEBYTECODE=1, so an editable checkout
    would otherwise compile its modules in every timed run (an installed
    package ships bytecode).
    """
    import compileall

    import oauthcli

    for directory in (
        Path(oauthcli.__file__).parent,
        TESTS_DIR / "browsers",
        BENCH_DIR,
    ):
        compileall.compile_dir(directory, quiet=1)
    compileall.compile_file(TESTS_DIR / "localprovider.py", quiet=1)


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (``pct`` in 0-100) of ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ratio(value: float, reference: float) -> float:
    return value / reference if reference else math.nan


def ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def times(value: float) -> str:
    return f"{value:.2f}x"


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table padded to line up in a terminal too."""
    widths = [
        max(len(str(cell)) for cell in column)
        for column in zip(header, *rows, strict=True)
    ]

    def line(cells: Sequence[str]) -> str:
        padded = (
            str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def check_output(argv: Sequence[str], env: Mapping[str, str], expected: str) -> None:
    """Run ``argv`` once and insist that it prints ``expected`` (and exits 0)."""
    done = subprocess.run(
        list(argv),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0 or done.stdout.strip() != expected:
        raise RuntimeError(
            f"{argv[-2:]} exited {done.returncode} and printed something else "
            f"than the expected token:\n{done.stderr[-1500:]}"
        )


def read_json(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def store_file(home: Path, profile: str = "default") -> Path:
    return home / "profiles" / f"{profile}.json"


def standalone(
    run: Callable[[Bench], dict[str, Any]], render: Callable[[dict[str, Any]], str]
) -> int:
    """``python bench/NAME.py [--runs N] [--quick]``: one benchmark alone."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS)
    parser.add_argument("--quick", action="store_true", help="few runs, few rounds")
    args = parser.parse_args()
    with Bench.start(args.runs, quick=args.quick) as bench:
        result = run(bench)
    print(render(result))
    return 0
