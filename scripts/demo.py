"""``make demo``: a real login against the bundled local OpenID provider.

Starts tests/provider (oidc-provider on 127.0.0.1), runs ``oauthcli login``
exactly as a user would, then ``oauthcli token``, and asks the provider's
introspection endpoint whether the token is active. With a display, your own
browser opens the provider's login page (any name, any password); without
one, headless Chromium plays the user. Everything is kept in a temporary
OAUTHCLI_HOME, so your real logins are not touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from localprovider import (
    CHROMIUM_USER,
    LocalProvider,
    browser_command,
    chromium_missing,
)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="oauthcli-demo-") as tmp:
        work = Path(tmp)
        with LocalProvider.start(work / "provider") as provider:
            say(f"Local OpenID provider (oidc-provider) running at {provider.issuer}")
            env = dict(os.environ, OAUTHCLI_HOME=str(work / "home"))
            if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
                say("Your browser opens the login page: any name, any password.")
            else:
                reason = chromium_missing()
                if reason is not None:
                    say(f"No display, and {reason}; run `make browser` first.")
                    return 1
                env["BROWSER"] = browser_command(CHROMIUM_USER)
                env["OAUTHCLI_TEST_LOGIN"] = "demo"
                say("No display here: headless Chromium plays the user ('demo').")

            command = ["login", "--issuer", provider.issuer, "--client-id", "cli-app"]
            say(f"\n$ oauthcli {' '.join(command)}")
            oauthcli = [sys.executable, "-m", "oauthcli"]
            status = subprocess.call([*oauthcli, *command], env=env)
            if status != 0:
                say(f"\noauthcli login failed (exit {status}).")
                return status

            say("\n$ oauthcli token")
            result = subprocess.run(
                [*oauthcli, "token"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                say(result.stderr.strip())
                return result.returncode
            token = result.stdout.strip()
            say(f"{token[:10]}...{token[-4:]}  ({len(token)} characters, abbreviated)")
            active = provider.introspect(token).get("active") is True
            say(
                "\nThe provider's introspection endpoint says this token is "
                + ("active. The demo worked." if active else "NOT active.")
            )
            return 0 if active else 1


if __name__ == "__main__":
    sys.exit(main())
