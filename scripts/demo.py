"""``make demo``: a real login against the bundled local OpenID provider.

Starts tests/provider (oidc-provider on 127.0.0.1), runs ``oauthcli login``
exactly as a user would, then ``oauthcli token``, and asks the provider's
introspection endpoint whether the token is active. With a display, your own
browser opens the provider's login page (any name, any password); without
one, headless Chromium plays the user. Everything is kept in a temporary
OAUTHCLI_HOME, so your real logins are not touched.

``make provider-up`` (``demo.py --keep``) only starts the provider and keeps
it running until Ctrl-C, to try oauthcli by hand: it prints the issuer, the
client ID, an OAUTHCLI_HOME of its own and the BROWSER line of the headless
scripted user, as shell lines to paste into another terminal; then the
confidential clients of the client credentials grant, with their secrets and
an ``oauthcli token`` line that uses one.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from localprovider import (
    CHROMIUM_USER,
    DEFAULT_CLIENTS,
    HTTP_USER,
    LocalProvider,
    browser_command,
    chromium_missing,
)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def machine_client_lines(oauthcli: str, issuer: str) -> list[str]:
    """The confidential clients of the client credentials grant, and a try.

    The README's "CI machines" section needs a client with a secret; the
    example uses profile ``ci`` so that it leaves the login above alone.
    """
    machines = [
        client
        for client in DEFAULT_CLIENTS
        if "client_credentials" in client.get("grant_types", ())
    ]
    lines = ["", "# Client credentials (README: CI machines), confidential clients:"]
    width = max(len(client["client_id"]) for client in machines)
    for client in machines:
        lines.append(
            f"#   {client['client_id']:<{width}}  secret "
            f"{shlex.quote(client['client_secret'])}  "
            f"({client['token_endpoint_auth_method']})"
        )
    first = machines[0]
    lines += [
        "OAUTHCLI_PROFILE=ci OAUTHCLI_GRANT_TYPE=client_credentials \\",
        f"  OAUTHCLI_ISSUER={issuer} OAUTHCLI_CLIENT_ID={first['client_id']} \\",
        f"  OAUTHCLI_CLIENT_SECRET={shlex.quote(first['client_secret'])} "
        f"{oauthcli} token",
    ]
    return lines


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def keep_running() -> int:
    """Start the provider, print how to use it, wait for Ctrl-C (or SIGTERM:
    both stop the provider and remove the temporary directory)."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _serve_until_interrupted()
    except KeyboardInterrupt:  # before the provider was up: already cleaned up
        say("Stopped before the provider was ready.")
        return 130


def _serve_until_interrupted() -> int:
    with tempfile.TemporaryDirectory(prefix="oauthcli-provider-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir(mode=0o700)
        with LocalProvider.start(work / "provider") as provider:
            bin_dir = Path(sys.executable).parent
            oauthcli = shlex.quote(str(bin_dir / "oauthcli"))
            lines = [
                f"# The local OpenID provider runs at {provider.issuer} until "
                "Ctrl-C; client ID cli-app.",
                "# In another terminal (leave out BROWSER and OAUTHCLI_TEST_LOGIN "
                "to log in",
                "# in your own browser, with any name and password):",
                f"export OAUTHCLI_HOME={shlex.quote(str(home))}",
                f"export BROWSER={shlex.quote(browser_command(HTTP_USER))}",
                "export OAUTHCLI_TEST_LOGIN=demo",
                f"{oauthcli} login --issuer {provider.issuer} --client-id cli-app",
                f"{oauthcli} token",
                *machine_client_lines(oauthcli, provider.issuer),
            ]
            try:
                print("\n".join(lines), flush=True)
                while provider.running:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                # A terminal's Ctrl-C reaches the whole process group, and may
                # come twice: let the provider stop in peace.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                say("\nStopping the provider.")
                return 0
            say("The provider stopped; see its log above.")
            return 1


def main() -> int:
    if sys.argv[1:] == ["--keep"]:
        return keep_running()
    if sys.argv[1:]:
        say("usage: demo.py [--keep]")
        return 2
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
