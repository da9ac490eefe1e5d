"""The PNG plots of a run's results (matplotlib, Agg: no display needed).

- ``summary.png``: cached token, refresh, login (split in its three parts)
  and concurrency, each against its reference from the same run;
- ``import_time.png``: the top imports of the token and login paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

OURS = "#1f77b4"
PEER = "#9e9e9e"
LIMIT = "#4caf50"
SPLIT_COLOURS = ("#8fb8de", "#d0d0d0", "#1f77b4")
SPLIT_LABELS = ("start-up to browser open", "user at the provider", "callback to done")


def colour(name: str) -> str:
    if name.startswith("oauthcli"):
        return OURS
    return LIMIT if "limit" in name or "floor" in name else PEER


def bars(axes: Axes, rows: dict[str, Any], ratio_key: str, title: str) -> None:
    """Median per command, labelled with its ratio to the reference."""
    names = list(rows)
    values = [rows[name]["median_ms"] for name in names]
    axes.barh(names, values, color=[colour(name) for name in names])
    for index, name in enumerate(names):
        label = f" {values[index]:.0f} ms ({rows[name][ratio_key]:.2f}x)"
        axes.text(values[index], index, label, va="center", fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, max(values) * 1.45)
    axes.set_xlabel("median wall time per process (ms)")
    axes.set_title(title, fontsize=10)


def cached_token(axes: Axes, result: dict[str, Any]) -> None:
    rows = result["commands"]
    bars(axes, rows, "x_floor", "Cached token (x python -c pass)")
    floor = rows[next(iter(rows))]["median_ms"]
    target = result["target_x_floor"] * floor
    axes.axvline(target, color="#d62728", linestyle="--", linewidth=1)
    axes.text(
        target,
        len(rows) - 0.55,
        f" target {result['target_x_floor']:.1f}x",
        color="#d62728",
        fontsize=7,
    )


def login(axes: Axes, result: dict[str, Any]) -> None:
    """Each client's median login split into its three parts."""
    clients = result["clients"]
    names = list(clients)
    left = [0.0] * len(names)
    parts = ("to_browser_ms", "at_provider_ms", "after_callback_ms")
    for part, shade, label in zip(parts, SPLIT_COLOURS, SPLIT_LABELS, strict=True):
        widths = [clients[name]["split"][part] for name in names]
        axes.barh(names, widths, left=left, color=shade, label=label)
        left = [start + width for start, width in zip(left, widths, strict=True)]
    for index, name in enumerate(names):
        row = clients[name]
        label = f" {row['median_ms']:.0f} ms ({row['x_minimal']:.2f}x)"
        axes.text(left[index], index, label, va="center", fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, max(left) * 1.35)
    axes.set_xlabel("median (ms), split by the scripted user's timestamps")
    axes.set_title("Login (x minimal PKCE client)", fontsize=10)
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)


def concurrency(axes: Axes, result: dict[str, Any]) -> None:
    rows = result["processes"]
    levels = [int(level) for level in rows]
    for key, style in (("p50_ms", "o-"), ("p95_ms", "s--")):
        values = [rows[str(level)][key] / 1000 for level in levels]
        axes.plot(levels, values, style, color=OURS, label=key.removesuffix("_ms"))
    for level in levels:
        grants = rows[str(level)]["refresh_grants"]
        axes.annotate(
            f"{max(grants)} refresh",
            (level, rows[str(level)]["p95_ms"] / 1000),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=7,
        )
    axes.set_ylim(0, max(row["p95_ms"] for row in rows.values()) / 1000 * 1.2)
    axes.set_xscale("log", base=2)
    axes.set_xticks(levels, [str(level) for level in levels])
    axes.set_xlabel("oauthcli token processes at once, token expired")
    axes.set_ylabel("wall time per process (s)")
    axes.set_title("Concurrency (refresh grants per round)", fontsize=10)
    axes.legend(fontsize=8)


def import_time(result: dict[str, Any], path: Path) -> None:
    figure, panels = plt.subplots(1, 2, figsize=(11, 3.6))
    for axes, (name, row) in zip(panels, result.items(), strict=True):
        top = row["top_imports_ms"]
        axes.barh(list(top), list(top.values()), color=OURS)
        axes.invert_yaxis()
        axes.set_xlabel("cumulative import time (ms), median")
        axes.set_title(
            f"{name} path: {row['total_ms']:.0f} ms of imports "
            f"(oauthcli's own {row['oauthcli_self_ms']:.0f} ms)",
            fontsize=10,
        )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def draw(results: dict[str, Any], out: Path) -> list[Path]:
    """Write the plots into ``out``; their paths."""
    figure, panels = plt.subplots(2, 2, figsize=(13, 7.5))
    cached_token(panels[0][0], results["cached_token"])
    bars(
        panels[0][1],
        results["refresh"]["commands"],
        "x_by_hand",
        "Refresh, token expired (x one refresh by hand with httpx)",
    )
    login(panels[1][0], results["login"])
    concurrency(panels[1][1], results["concurrency"])
    figure.suptitle(
        f"oauthcli benchmarks, {results['generated']} "
        f"({results['runs']} runs each; ratios within this run)",
        fontsize=11,
    )
    figure.tight_layout()
    summary = out / "summary.png"
    figure.savefig(summary, dpi=110)
    plt.close(figure)

    imports = out / "import_time.png"
    import_time(results["import_time"], imports)
    return [summary, imports]
