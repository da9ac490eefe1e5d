"""How fast is ``oauthcli token`` with a valid cached token?

Whole processes, median of N runs after a warm-up, all in one run so the
ratios are comparable on a noisy machine:

- floor: ``python -c pass``
- stdlib reader: a script that reads the token file with ``json`` and prints it
- oauthcli token: the real console script

Peak memory (max RSS of each child) is reported too. Usage::

    .venv/bin/python bench/token_speed.py [--runs 40] [--json bench/results/token.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{command} exited {process.returncode}")
    return elapsed, usage.ru_maxrss  # KiB on Linux


def measure(command: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    for _ in range(3):
        run_once(command, env)
    times, memory = [], []
    for _ in range(runs):
        elapsed, rss = run_once(command, env)
        times.append(elapsed)
        memory.append(rss)
    return {"median_ms": statistics.median(times) * 1000, "max_rss_kib": max(memory)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    python = sys.executable
    oauthcli = str(Path(python).with_name("oauthcli"))
    # Installed packages ship bytecode; make sure an editable checkout has it
    # too (PYTHONDONTWRITEBYTECODE would otherwise make every run compile).
    import compileall

    import oauthcli as package

    compileall.compile_dir(Path(package.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, OAUTHCLI_HOME=home)
        subprocess.run(
            [python, "-c", _SEED_STORE], env=env, check=True, stdout=subprocess.DEVNULL
        )
        token_file = Path(home, "profiles", "default.json")
        reader = (
            "import json,sys;"
            f"d=json.load(open({str(token_file)!r}));"
            "sys.stdout.write(d['tokens']['access_token']+'\\n')"
        )
        cases = {
            "python -c pass (floor)": [python, "-c", "pass"],
            "stdlib reader": [python, "-c", reader],
            "oauthcli token": [oauthcli, "token"],
        }
        results = {
            name: measure(command, env, args.runs) for name, command in cases.items()
        }

    floor = results["python -c pass (floor)"]
    print(
        f"{'command':<26} {'median':>9} {'x floor':>8} {'max RSS':>10} {'x floor':>8}"
    )
    for name, result in results.items():
        print(
            f"{name:<26} {result['median_ms']:>7.1f}ms "
            f"{result['median_ms'] / floor['median_ms']:>7.2f}x "
            f"{result['max_rss_kib'] / 1024:>8.1f}MB "
            f"{result['max_rss_kib'] / floor['max_rss_kib']:>7.2f}x"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"runs": args.runs, "results": results}, indent=2)
        )
    return 0


_SEED_STORE = """
import time
from oauthcli.store import write_entry
write_entry("default", {
    "settings": {"issuer": "https://idp.example.test", "client_id": "cli"},
    "tokens": {"access_token": "a" * 900, "token_type": "Bearer",
               "expires_at": time.time() + 86400, "refresh_token": "r" * 64},
})
"""

if __name__ == "__main__":
    sys.exit(main())
