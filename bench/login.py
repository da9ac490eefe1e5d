"""A browser login, three clients, one provider, one scripted user.

- ``oauthcli login`` (public client ``cli-app``): discovery, PKCE, state,
  nonce, ``iss``, the code exchange, JWKS and full ID token validation, the
  store written 0600 under its lock;
- a minimal PKCE client (httpx + stdlib, no validation): the lower limit;
- google-auth-oauthlib's ``InstalledAppFlow`` (``client_secret_post``, its
  own client in the bench provider), if installed.

Every client opens the same scripted user (tests/browsers/http_user.py) via
BROWSER, started in the background like a desktop browser. The user notes
when it was launched and when it sent the callback; with the process's start
and end that splits each login into start-up to browser open, the user at
the provider, and callback to done (token exchange, validation, store).
Each oauthcli run starts from an empty OAUTHCLI_HOME.
"""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

from common import (
    INSTALLED_APP_CLIENT,
    INSTALLED_APP_SECRET,
    PEERS,
    PUBLIC_CLIENT,
    PYTHON,
    Bench,
    Case,
    Timings,
    has_module,
    markdown_table,
    ms,
    ratio,
    standalone,
    times,
    user_events,
)

OAUTHCLI_LOGIN = "oauthcli login"
MINIMAL = "minimal PKCE client (limit)"
INSTALLED_APP = "google-auth-oauthlib InstalledAppFlow"
TARGET = 1.10  # oauthcli login at most this many times the minimal client

SPLITS = ("to_browser_ms", "at_provider_ms", "after_callback_ms")


def split(timing: Timings, log: Path) -> dict[str, float]:
    """Median start-up, provider and after-callback parts of the logins.

    Run k of the case (warm-up runs included) is the k-th launch and
    callback in the user's log.
    """
    events = user_events(log)
    launches = [when for name, when in events if name == "launch"]
    callbacks = [when for name, when in events if name == "callback"]
    runs = timing.all_runs
    if not len(launches) == len(callbacks) == len(runs):
        raise RuntimeError(
            f"{log.name}: {len(runs)} logins but {len(launches)} browser launches "
            f"and {len(callbacks)} callbacks"
        )
    parts: dict[str, list[float]] = {name: [] for name in SPLITS}
    for run, launch, callback in zip(runs, launches, callbacks, strict=True):
        if run["warmup"]:
            continue
        parts["to_browser_ms"].append((launch - run["start"]) * 1000)
        parts["at_provider_ms"].append((callback - launch) * 1000)
        parts["after_callback_ms"].append((run["end"] - callback) * 1000)
    return {name: round(statistics.median(values), 2) for name, values in parts.items()}


def run(bench: Bench) -> dict[str, Any]:
    metadata = bench.provider.metadata()
    rm = shutil.which("rm") or "/bin/rm"

    home = bench.home("login-oauthcli")
    logs = {OAUTHCLI_LOGIN: bench.log("user-oauthcli")}
    cases = [
        Case(
            OAUTHCLI_LOGIN,
            bench.login_argv(),
            bench.browser_env(home, logs[OAUTHCLI_LOGIN]),
            before=[rm, "-rf", str(home)],
        )
    ]

    peer_home = bench.home("login-peers")
    logs[MINIMAL] = bench.log("user-minimal")
    argv = [
        PYTHON,
        str(PEERS / "minimal_pkce.py"),
        bench.issuer,
        PUBLIC_CLIENT,
        str(peer_home / "minimal-tokens.json"),
    ]
    cases.append(Case(MINIMAL, argv, bench.browser_env(peer_home, logs[MINIMAL])))

    if has_module("google_auth_oauthlib"):
        logs[INSTALLED_APP] = bench.log("user-installed-app")
        argv = [
            PYTHON,
            str(PEERS / "installed_app_flow.py"),
            metadata["authorization_endpoint"],
            metadata["token_endpoint"],
            INSTALLED_APP_CLIENT,
            INSTALLED_APP_SECRET,
            str(peer_home / "installed-app-credentials.json"),
        ]
        env = bench.browser_env(peer_home, logs[INSTALLED_APP])
        cases.append(Case(INSTALLED_APP, argv, env))
    else:
        bench.skipped.append(f"{INSTALLED_APP}: google-auth-oauthlib is not installed")

    for log in logs.values():
        log.parent.mkdir(parents=True, exist_ok=True)
        log.unlink(missing_ok=True)
    timings = bench.time_processes(cases)

    reference = timings[MINIMAL]
    clients = {
        name: {
            **timing.summary(),
            "x_minimal": round(ratio(timing.median_ms, reference.median_ms), 3),
            "split": split(timing, logs[name]),
        }
        for name, timing in timings.items()
    }
    return {"reference": MINIMAL, "clients": clients, "target_x_minimal": TARGET}


def render(result: dict[str, Any]) -> str:
    rows = [
        [
            name,
            ms(row["median_ms"]),
            times(row["x_minimal"]),
            ms(row["split"]["to_browser_ms"]),
            ms(row["split"]["at_provider_ms"]),
            ms(row["split"]["after_callback_ms"]),
        ]
        for name, row in result["clients"].items()
    ]
    header = [
        "login",
        "median",
        "x minimal",
        "start to browser",
        "user at provider",
        "callback to done",
    ]
    return markdown_table(header, rows)


if __name__ == "__main__":
    sys.exit(standalone(run, render))
