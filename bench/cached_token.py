"""A cached token: ``oauthcli token`` against the floor and the peers.

Whole processes, interleaved rounds, medians after a warm-up; the ratios to
``python -c pass`` (the floor) are what count. Peers:

- a stdlib script that reads oauthcli's token file (the practical limit);
- google-auth loading cached "authorized user" credentials (if installed).

The store comes from a real ``oauthcli login`` at the local provider.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from common import (
    OAUTHCLI,
    PEERS,
    PUBLIC_CLIENT,
    PYTHON,
    Bench,
    Case,
    check_output,
    has_module,
    markdown_table,
    mib,
    ms,
    ratio,
    read_json,
    standalone,
    store_file,
    times,
)

FLOOR = "python -c pass (floor)"
READER = "stdlib reader (limit)"
GOOGLE = "google-auth reader"
OAUTHCLI_TOKEN = "oauthcli token"
TARGET = 2.0  # oauthcli token at most this many times the floor


def authorized_user_file(bench: Bench, store: dict[str, Any]) -> str:
    """google-auth's "authorized user" JSON for the same stored tokens."""
    tokens = store["tokens"]
    document = {
        "token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "client_id": PUBLIC_CLIENT,
        "client_secret": "",
        "token_uri": store["provider"]["token_endpoint"],
        "expiry": "2099-01-01T00:00:00Z",
    }
    path = bench.workdir / "google-authorized-user.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def run(bench: Bench) -> dict[str, Any]:
    home = bench.log_in("cached-token")
    env = bench.env(home)
    store_path = store_file(home)
    store = read_json(store_path)
    access_token = store["tokens"]["access_token"]

    cases = [
        Case(FLOOR, [PYTHON, "-c", "pass"], env),
        Case(READER, [PYTHON, str(PEERS / "stdlib_reader.py"), str(store_path)], env),
    ]
    if has_module("google.oauth2"):
        google_file = authorized_user_file(bench, store)
        argv = [PYTHON, str(PEERS / "google_auth_reader.py"), google_file]
        cases.append(Case(GOOGLE, argv, env))
    else:
        bench.skipped.append(f"{GOOGLE}: google-auth is not installed")
    cases.append(Case(OAUTHCLI_TOKEN, [OAUTHCLI, "token"], env))

    for case in cases[1:]:
        check_output(case.argv, case.env, access_token)
    timings = bench.time_processes(cases)

    floor = timings[FLOOR]
    results = {
        name: {
            **timing.summary(),
            "x_floor": round(ratio(timing.median_ms, floor.median_ms), 3),
            "rss_x_floor": round(ratio(timing.max_rss_kib, floor.max_rss_kib), 3),
        }
        for name, timing in timings.items()
    }
    return {
        "reference": FLOOR,
        "commands": results,
        "runner_max_rss_kib": floor.runner_max_rss_kib,
        "target_x_floor": TARGET,
    }


def render(result: dict[str, Any]) -> str:
    rows = [
        [
            name,
            ms(row["median_ms"]),
            times(row["x_floor"]),
            mib(row["max_rss_kib"]),
            times(row["rss_x_floor"]),
        ]
        for name, row in result["commands"].items()
    ]
    header = ["cached token", "median", "x floor", "peak RSS", "x floor"]
    return markdown_table(header, rows)


if __name__ == "__main__":
    sys.exit(standalone(run, render))
