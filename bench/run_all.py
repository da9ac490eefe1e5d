"""Every benchmark in one run, against one local provider: ``make bench``.

    python bench/run_all.py [--runs 30] [--out bench/results] [--quick] [--no-plots]

Prints one table (Markdown) and writes ``results.json``, ``results.md`` and
the plots (``summary.png``, ``import_time.png``) into ``--out``. The machine
is noisy: compare the ratios of one run, not absolute times across runs.
``--quick`` is a smoke run (few runs, no warm-up, fewer levels, no plots)
that keeps the scripts from rotting; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cached_token
import concurrency
import import_time
import login
import refresh
from common import DEFAULT_RUNS, RESULTS, Bench, has_module, markdown_table, times

BENCHMARKS: dict[str, tuple[Callable[[Bench], dict[str, Any]], Any]] = {
    "cached_token": (cached_token.run, cached_token.render),
    "refresh": (refresh.run, refresh.render),
    "login": (login.run, login.render),
    "concurrency": (concurrency.run, concurrency.render),
    "import_time": (import_time.run, import_time.render),
}


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's three targets, each measured, met or missed."""
    token = results["cached_token"]["commands"][cached_token.OAUTHCLI_TOKEN]
    oauthcli_login = results["login"]["clients"][login.OAUTHCLI_LOGIN]
    grants = [
        count
        for row in results["concurrency"]["processes"].values()
        for count in row["refresh_grants"]
    ]
    return [
        {
            "target": f"`oauthcli token` at most {cached_token.TARGET:.2f}x the floor",
            "measured": times(token["x_floor"]),
            "met": token["x_floor"] <= cached_token.TARGET,
        },
        {
            "target": f"`oauthcli login` at most {login.TARGET:.2f}x minimal PKCE",
            "measured": times(oauthcli_login["x_minimal"]),
            "met": oauthcli_login["x_minimal"] <= login.TARGET,
        },
        {
            "target": "exactly one refresh grant at any concurrency",
            "measured": f"{min(grants)}-{max(grants)} per round",
            "met": set(grants) == {1},
        },
    ]


def notes(results: dict[str, Any]) -> list[str]:
    """For each missed target: by how much, and where the time went."""
    found = []
    cached = results["cached_token"]["commands"]
    token = cached[cached_token.OAUTHCLI_TOKEN]
    if token["x_floor"] > cached_token.TARGET:
        floor = cached[cached_token.FLOOR]["median_ms"]
        reader = cached[cached_token.READER]
        token_imports = results["import_time"]["token"]
        found.append(
            f"`oauthcli token` is {token['x_floor']:.3f}x the floor: "
            f"{over(token['x_floor'], cached_token.TARGET)} over the target, "
            f"{token['median_ms'] - cached_token.TARGET * floor:.1f} ms. "
            f"The stdlib reader alone is {reader['x_floor']:.2f}x; "
            f"oauthcli adds {token['median_ms'] - reader['median_ms']:.1f} ms to it. "
            f"Its imports take {token_imports['total_ms']:.1f} ms "
            f"(top: {top_imports(token_imports)})."
        )

    clients = results["login"]["clients"]
    ours = clients[login.OAUTHCLI_LOGIN]
    if ours["x_minimal"] > login.TARGET:
        minimal = clients[login.MINIMAL]
        extra = {
            part: ours["split"][part] - minimal["split"][part] for part in login.SPLITS
        }
        login_imports = results["import_time"]["login"]
        found.append(
            f"`oauthcli login` is {ours['x_minimal']:.2f}x the minimal client: "
            f"{over(ours['x_minimal'], login.TARGET)} over the target "
            f"({ours['median_ms'] - minimal['median_ms']:+.0f} ms in all): "
            f"{extra['to_browser_ms']:+.0f} ms before the browser opens, "
            f"{extra['at_provider_ms']:+.0f} ms while the user is at the provider, "
            f"{extra['after_callback_ms']:+.0f} ms from the callback to the end "
            "(token exchange, JWKS, ID token validation, store write, and the "
            "imports deferred until then). Its imports take "
            f"{login_imports['total_ms']:.0f} ms (top: {top_imports(login_imports)})."
        )

    if not results["concurrency"]["one_refresh_per_round"]:
        found.append(
            "Some rounds cost more than one refresh grant: concurrent processes "
            "did not wait for the one that refreshed."
        )
    return found


def over(measured: float, target: float) -> str:
    """How far ``measured`` is past ``target``, in percent of the target."""
    return f"{(measured / target - 1) * 100:.1f}%"


def top_imports(summary: dict[str, Any], count: int = 4) -> str:
    ranked = list(summary["top_imports_ms"].items())[:count]
    return ", ".join(f"{name} {value:.0f} ms" for name, value in ranked)


def report(results: dict[str, Any]) -> str:
    """The whole table: one section per benchmark, then targets and notes."""
    sections = [BENCHMARKS[name][1](results[name]) for name in BENCHMARKS]
    rows = [
        [row["target"], row["measured"], "met" if row["met"] else "MISSED"]
        for row in results["targets"]
    ]
    sections.append(markdown_table(["target", "measured", "result"], rows))
    machine = results["machine"]
    lines = [
        f"oauthcli benchmarks, {results['generated']}: {results['runs']} runs per "
        f"command after {results['warmup']} warm-up rounds, Python "
        f"{machine['python']}, {machine['cpus']} CPUs. Ratios are within this run.",
        "",
        "\n\n".join(sections),
    ]
    if results["notes"]:
        lines += ["", *(f"- {note}" for note in results["notes"])]
    if results["skipped"]:
        lines += ["", *(f"- skipped: {why}" for why in results["skipped"])]
    runner = results["cached_token"]["runner_max_rss_kib"]
    lines += [
        "",
        f"Peak RSS is ru_maxrss from wait4 in a small timing process ({runner} KiB "
        "itself): a child whose peak is lower reads as that figure.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args()

    started = time.monotonic()
    results: dict[str, Any] = {
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "runs": args.runs,
        "quick": args.quick,
    }
    with Bench.start(args.runs, quick=args.quick) as bench:
        results["warmup"] = bench.warmup
        for name, (run, _) in BENCHMARKS.items():
            print(f"running {name}...", file=sys.stderr, flush=True)
            results[name] = run(bench)
        results["skipped"] = bench.skipped
    results["targets"] = targets(results)
    results["notes"] = notes(results)
    results["seconds"] = round(time.monotonic() - started, 1)

    plots = not (args.quick or args.no_plots)
    if plots and not has_module("matplotlib"):
        results["skipped"].append("plots: matplotlib is not installed")
        plots = False
    text = report(results)
    print(text)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(
        json.dumps(results, indent=2) + "\n", encoding="utf-8"
    )
    (args.out / "results.md").write_text(text + "\n", encoding="utf-8")
    if plots:
        import plots as drawing

        for path in drawing.draw(results, args.out):
            print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
