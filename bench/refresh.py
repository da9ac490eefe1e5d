"""A refresh: ``oauthcli token`` with an expired access token.

Compared with one ``refresh_token`` grant by hand with httpx (the limit for
one refresh: read a file, one POST, write a file). oauthcli also takes the
profile's lock, reads the store again under it, stores the rotated refresh
token first, fetches the JWKS and checks the refreshed ID token against the
login's (OpenID Connect Core 12.2) before it stores the new access token.

Before each oauthcli run the stored access token is marked expired (untimed);
every run of either client must cost exactly one grant at the provider.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from common import (
    EXPIRE_SCRIPT,
    OAUTHCLI,
    PEERS,
    PUBLIC_CLIENT,
    PYTHON,
    Bench,
    Case,
    markdown_table,
    mib,
    ms,
    ratio,
    standalone,
    store_file,
    times,
)

OAUTHCLI_REFRESH = "oauthcli token (expired)"
BY_HAND = "httpx refresh by hand (limit)"


def peer_tokens(bench: Bench) -> str:
    """A token file with a refresh token of its own grant, for the peer."""
    home = bench.home("refresh-peer")
    path = home / "tokens.json"
    argv = [PYTHON, str(PEERS / "minimal_pkce.py"), bench.issuer, PUBLIC_CLIENT]
    subprocess.run(
        [*argv, str(path)],
        env=bench.browser_env(home, home / "user.log"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=True,
    )
    return str(path)


def run(bench: Bench) -> dict[str, Any]:
    home = bench.log_in("refresh")
    env = bench.env(home)
    expire = [PYTHON, "-c", EXPIRE_SCRIPT, str(store_file(home))]
    peer_file = peer_tokens(bench)
    cases = [
        Case(OAUTHCLI_REFRESH, [OAUTHCLI, "token"], env, before=expire),
        Case(BY_HAND, [PYTHON, str(PEERS / "httpx_refresh.py"), peer_file], env),
    ]

    grants_before = bench.provider.count_grants("refresh_token")
    timings = bench.time_processes(cases)
    grants = bench.provider.count_grants("refresh_token") - grants_before
    expected = sum(len(timing.all_runs) for timing in timings.values())
    if grants != expected:
        raise RuntimeError(f"{expected} refreshes ran, the provider saw {grants}")

    reference = timings[BY_HAND]
    commands = {
        name: {
            **timing.summary(),
            "x_by_hand": round(ratio(timing.median_ms, reference.median_ms), 3),
        }
        for name, timing in timings.items()
    }
    return {"reference": BY_HAND, "commands": commands, "refresh_grants": grants}


def render(result: dict[str, Any]) -> str:
    rows = [
        [name, ms(row["median_ms"]), times(row["x_by_hand"]), mib(row["max_rss_kib"])]
        for name, row in result["commands"].items()
    ]
    return markdown_table(["refresh", "median", "x by hand", "peak RSS"], rows)


if __name__ == "__main__":
    sys.exit(standalone(run, render))
