"""Run the fuzz harnesses under atheris for a bounded time and report figures.

    python fuzz/run.py [--seconds 300] [--only NAME] [--workdir DIR]

Each harness (``fuzz/fuzz_*.py``) runs in its own process, on a corpus in
``DIR/NAME/corpus`` seeded with the harness's ``SEEDS`` and kept between
runs; crash, hang and out-of-memory inputs land in ``DIR/NAME/artifacts``.
Prints one line per harness (runs, seconds, corpus entries, crashes, hangs),
writes the same figures to ``DIR/results.json``, and exits non-zero when any
harness found something. ``make fuzz`` runs it for five minutes a harness;
tests/test_fuzz_smoke.py for a few seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["HARNESSES", "Result", "harnesses", "main", "run_harness"]

HERE = Path(__file__).resolve().parent
DEFAULT_WORKDIR = HERE / "work"
HANG_SECONDS = 10  # one input taking longer is a hang
RSS_LIMIT_MB = 2048
MAX_LEN = 8192  # bytes per input: the listener reads at most 64 KiB anyway

_DONE = re.compile(r"^Done (\d+) runs in (\d+) second", re.MULTILINE)
_STATUS = re.compile(r"^#(\d+)\s", re.MULTILINE)  # the last one before a crash
_NEW_UNITS = re.compile(r"^stat::new_units_added:\s+(\d+)", re.MULTILINE)
_PEAK_RSS = re.compile(r"^stat::peak_rss_mb:\s+(\d+)", re.MULTILINE)


def harnesses(directory: Path = HERE) -> tuple[str, ...]:
    """The harness names in ``directory``: its ``fuzz_*.py`` files."""
    return tuple(sorted(path.stem for path in directory.glob("fuzz_*.py")))


HARNESSES = harnesses()


@dataclass(frozen=True)
class Result:
    """What one bounded run of one harness did."""

    name: str
    runs: int
    seconds: float
    corpus: int  # entries after the run
    new_units: int
    peak_rss_mb: int
    crashes: list[str]
    hangs: list[str]
    ooms: list[str]
    returncode: int

    @property
    def ok(self) -> bool:
        found = self.crashes or self.hangs or self.ooms
        return self.returncode == 0 and not found and self.runs > 0

    def line(self) -> str:
        return (
            f"{self.name}: {self.runs} runs in {self.seconds:.0f} s "
            f"({self.runs / max(self.seconds, 1):.0f}/s), corpus {self.corpus} "
            f"({self.new_units} new), peak RSS {self.peak_rss_mb} MB, "
            f"{len(self.crashes)} crashes, {len(self.hangs)} hangs, "
            f"{len(self.ooms)} out-of-memory"
        )


def seed_corpus(script: Path, corpus: Path) -> None:
    """Write the harness's seeds into ``corpus`` (named by content: idempotent)."""
    sys.path.insert(0, str(script.parent))
    try:
        module = importlib.import_module(script.stem)
    finally:
        sys.path.remove(str(script.parent))
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in module.SEEDS:
        digest = hashlib.sha1(seed, usedforsecurity=False).hexdigest()
        (corpus / f"seed-{digest}").write_bytes(seed)


def run_harness(
    name: str,
    seconds: int,
    workdir: Path = DEFAULT_WORKDIR,
    directory: Path = HERE,
    hang_seconds: int = HANG_SECONDS,
) -> tuple[Result, str]:
    """Fuzz ``name`` for ``seconds`` (plus start-up); its figures and output."""
    script = directory / f"{name}.py"
    corpus = workdir / name / "corpus"
    artifacts = workdir / name / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    seed_corpus(script, corpus)
    before = set(artifacts.iterdir())
    command = [
        sys.executable,
        str(script),
        str(corpus),
        f"-max_total_time={seconds}",
        f"-timeout={hang_seconds}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-max_len={MAX_LEN}",
        f"-artifact_prefix={artifacts}/",
        "-print_final_stats=1",
    ]
    started = time.monotonic()
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
        timeout=seconds + 120,
    )
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    found = sorted(path.name for path in set(artifacts.iterdir()) - before)
    runs = _DONE.search(output)
    statuses = _STATUS.findall(output)
    new_units = _NEW_UNITS.search(output)
    peak = _PEAK_RSS.search(output)
    result = Result(
        name=name,
        runs=int(runs.group(1)) if runs else int((statuses or ["0"])[-1]),
        seconds=float(runs.group(2)) if runs else elapsed,
        corpus=sum(1 for _ in corpus.iterdir()),
        new_units=int(new_units.group(1)) if new_units else 0,
        peak_rss_mb=int(peak.group(1)) if peak else 0,
        crashes=[f for f in found if f.startswith("crash-")],
        hangs=[f for f in found if f.startswith("timeout-")],
        ooms=[f for f in found if f.startswith("oom-")],
        returncode=done.returncode,
    )
    return result, output


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=300, help="per harness")
    parser.add_argument("--only", action="append", default=[], help="a harness")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument(
        "--directory", type=Path, default=HERE, help="where the harnesses are"
    )
    parser.add_argument(
        "--hang-seconds", type=int, default=HANG_SECONDS, help="per input"
    )
    args = parser.parse_args(argv)
    names = args.only or harnesses(args.directory)
    unknown = set(names) - set(harnesses(args.directory))
    if unknown:
        parser.error(f"no harness {', '.join(sorted(unknown))} in {args.directory}")

    results: list[dict[str, Any]] = []
    failed = False
    for name in names:
        print(f"{name}: fuzzing for {args.seconds} s", flush=True)
        result, output = run_harness(
            name, args.seconds, args.workdir, args.directory, args.hang_seconds
        )
        print(result.line(), flush=True)
        results.append(asdict(result))
        if not result.ok:
            failed = True
            print(output[-4000:], file=sys.stderr)
            artifacts = args.workdir / name / "artifacts"
            for found in (*result.crashes, *result.hangs, *result.ooms):
                script = args.directory / f"{name}.py"
                print(
                    f"  reproduce: python {script} {artifacts / found}", file=sys.stderr
                )
    args.workdir.mkdir(parents=True, exist_ok=True)
    report = json.dumps({"seconds": args.seconds, "harnesses": results}, indent=2)
    (args.workdir / "results.json").write_text(report + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
