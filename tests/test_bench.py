"""The benchmarks still run: bench/run_all.py in its quick mode.

No timing is checked (the numbers of a quick run mean nothing); this keeps
the scripts from rotting. Peers whose packages are not installed (the
``bench`` extra) are skipped by the benchmark itself, and so are the plots.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_run_measures_every_concern(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run_all.py"),
            "--runs",
            "2",
            "--quick",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results) >= {
        "cached_token",
        "refresh",
        "login",
        "concurrency",
        "import_time",
        "targets",
    }
    assert results["cached_token"]["commands"]["oauthcli token"]["runs"] == 2
    assert "oauthcli login" in results["login"]["clients"]
    assert results["concurrency"]["one_refresh_per_round"]
    assert (tmp_path / "results.md").read_text().startswith("oauthcli benchmarks")
    assert "| cached token" in done.stdout
    assert not list(tmp_path.glob("*.png"))
