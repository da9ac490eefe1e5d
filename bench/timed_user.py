"""The tests' scripted HTTP user, noting when it sends the callback.

    python timed_user.py LOG URL

Runs tests/browsers/http_user.py unchanged, except that the moment it
requests the app's redirect URI is appended to LOG as ``callback <time>``
(wall clock, to compare with other processes). The launch moment is noted
by the shell that starts this script (common.browser_command).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "browsers"))

import http_user
import httpx

_deliver = http_user.deliver


def main(argv: list[str]) -> int:
    log = Path(argv[1])

    def deliver(client: httpx.Client, step: http_user.Step) -> None:
        with log.open("a", encoding="utf-8") as events:
            events.write(f"callback {time.time()}\n")
        _deliver(client, step)

    http_user.deliver = deliver
    return http_user.main([argv[0], *argv[2:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
