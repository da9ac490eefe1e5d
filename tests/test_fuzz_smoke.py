"""The fuzz harnesses still work: a few seconds each under atheris.

`make fuzz` runs them for minutes, on purpose; this keeps them from rotting
in between. Every seed passes its harness's checks when called directly; each
harness runs under libFuzzer through fuzz/run.py and finds nothing; and a
harness that crashes or hangs is reported as such, so that "0 crashes" from
the runner means something.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"
HARNESSES = sorted(path.stem for path in FUZZ.glob("fuzz_*.py"))
SECONDS = 3  # per harness, plus about a second to start and instrument


@pytest.fixture
def atheris_installed() -> None:
    if importlib.util.find_spec("atheris") is not None:
        return
    if sys.platform == "linux" and platform.machine() == "x86_64":
        pytest.fail("atheris is missing: pip install -e '.[fuzz]' (make install)")
    pytest.skip("atheris publishes wheels for Linux x86_64 only")


def run(*options: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """fuzz/run.py with ``options``; its process and its results.json."""
    workdir = Path(options[options.index("--workdir") + 1])
    done = subprocess.run(
        [sys.executable, str(FUZZ / "run.py"), *options],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(FUZZ)},
    )
    report = json.loads((workdir / "results.json").read_text())
    return done, {entry["name"]: entry for entry in report["harnesses"]}


def test_there_are_harnesses_for_the_callback_and_the_token_response() -> None:
    assert HARNESSES == ["fuzz_callback", "fuzz_token_response"]


@pytest.mark.parametrize("name", HARNESSES)
def test_every_seed_passes_its_harness_called_directly(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(FUZZ))
    harness = importlib.import_module(name)

    assert len(harness.SEEDS) >= 10
    for seed in harness.SEEDS:
        harness.TestOneInput(seed)


@pytest.mark.usefixtures("atheris_installed")
def test_each_harness_fuzzes_for_seconds_and_finds_nothing(tmp_path: Path) -> None:
    done, results = run("--seconds", str(SECONDS), "--workdir", str(tmp_path))

    assert done.returncode == 0, done.stderr[-3000:]
    assert set(results) == set(HARNESSES)
    for name, result in results.items():
        assert result["runs"] > 1000, name  # thousands a second, even when busy
        assert result["crashes"] == [], name
        assert result["hangs"] == [], name
        assert result["ooms"] == [], name
        assert result["corpus"] > 10, name  # the seeds, and what coverage added
        assert f"{name}: {result['runs']} runs" in done.stdout
    assert not list((tmp_path / HARNESSES[0] / "artifacts").iterdir())


CRASH = """\
from fuzzing import fuzz

SEEDS = [b"fine", b"!boom"]


def TestOneInput(data: bytes) -> None:
    if data.startswith(b"!"):
        raise RuntimeError("a bug")


if __name__ == "__main__":
    fuzz(TestOneInput)
"""
HANG = CRASH.replace('raise RuntimeError("a bug")', "while True:\n            pass")


@pytest.mark.usefixtures("atheris_installed")
def test_a_harness_that_crashes_or_hangs_is_reported(tmp_path: Path) -> None:
    harnesses = tmp_path / "harnesses"
    harnesses.mkdir()
    (harnesses / "fuzz_crash.py").write_text(CRASH)
    (harnesses / "fuzz_hang.py").write_text(HANG)
    workdir = tmp_path / "work"

    done, results = run(
        *("--seconds", "30", "--hang-seconds", "1"),
        *("--directory", str(harnesses), "--workdir", str(workdir)),
    )

    assert done.returncode == 1
    assert len(results["fuzz_crash"]["crashes"]) == 1
    assert len(results["fuzz_hang"]["hangs"]) == 1
    crash = workdir / "fuzz_crash" / "artifacts" / results["fuzz_crash"]["crashes"][0]
    assert crash.read_bytes().startswith(b"!")
    assert "reproduce: python" in done.stderr
