"""A handle on the real OpenID provider the tests run (tests/provider/).

The provider is oidc-provider on Node, bound to 127.0.0.1 on a free port,
with the test settings described at the top of ``provider/server.mjs``: any
login and password sign in, no consent screen, PKCE S256 required, refresh
tokens for every client allowed the ``refresh_token`` grant, rotated on use,
the client credentials grant for machine clients, every absolute resource
indicator a resource server (but ``https://forbidden.example``), and token
exchange (RFC 8693) for ``cli-app`` and ``ci-machine``.
Everything lives in memory: a restart forgets every token.

Redirect URIs: a ``native`` client's http loopback URIs match on any port
(RFC 8252 section 7.3); a ``web`` client's match exactly, port included.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Protocol, Self

import httpx

TESTS_DIR: Final = Path(__file__).resolve().parent
PROVIDER_DIR: Final = TESTS_DIR / "provider"
SERVER: Final = PROVIDER_DIR / "server.mjs"
HTTP_USER: Final = TESTS_DIR / "browsers" / "http_user.py"
CHROMIUM_USER: Final = TESTS_DIR / "browsers" / "chromium_user.py"

# Debian's packages, as tests/browsers/chromium_user.py uses them.
CHROMEDRIVER: Final = "/usr/bin/chromedriver"
CHROMIUM_BINARIES: Final = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")

START_TIMEOUT: Final = 20.0
STOP_TIMEOUT: Final = 5.0

DEVICE_CODE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"
TOKEN_EXCHANGE_GRANT: Final = "urn:ietf:params:oauth:grant-type:token-exchange"

# oidc-provider accepts only visible ASCII (0x20-0x7E) in a client_secret, so
# the awkward secret tests the form-urlencoding of client_secret_basic with
# `:`, `+`, `%` and `/` instead of a non-ASCII character.
CLI_SECRET_BASIC: Final = "s3cret:+%/-basic"
CLI_SECRET_POST: Final = "s3cret-post"
INTROSPECTOR_SECRET: Final = "introspector-secret"
# Machines: clients allowed only the client credentials grant.
CI_SECRET_BASIC: Final = "ci-s3cret:+%/-basic"
CI_SECRET_POST: Final = "ci-s3cret-post"

# A native client's loopback redirect URIs match on any port; the three
# loopback hosts are three separate registrations.
LOOPBACK_CALLBACKS: Final = (
    "http://127.0.0.1/callback",
    "http://localhost/callback",
    "http://[::1]/callback",
)

DEFAULT_CLIENTS: Final[Sequence[Mapping[str, Any]]] = (
    {
        "client_id": "cli-app",
        "application_type": "native",
        "token_endpoint_auth_method": "none",
        "grant_types": [
            "authorization_code",
            "refresh_token",
            DEVICE_CODE_GRANT,
            TOKEN_EXCHANGE_GRANT,
        ],
        "response_types": ["code"],
        "redirect_uris": list(LOOPBACK_CALLBACKS),
    },
    {
        # oidc-provider strips the port from both sides for native clients,
        # even from a registered URI that has one; a "web" client's
        # redirect_uri is compared as an exact string, and http is allowed
        # for it (only implicit-flow web clients must use https).
        "client_id": "cli-fixed-ports",
        "application_type": "web",
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [
            "http://127.0.0.1:8020/callback",
            "http://127.0.0.1:8021/callback",
            "http://127.0.0.1:8022/callback",
        ],
    },
    {
        "client_id": "cli-localhost-only",
        "application_type": "native",
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": ["http://localhost/callback"],
    },
    {
        "client_id": "cli-secret-basic",
        "client_secret": CLI_SECRET_BASIC,
        "application_type": "native",
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": list(LOOPBACK_CALLBACKS),
    },
    {
        "client_id": "cli-secret-post",
        "client_secret": CLI_SECRET_POST,
        "application_type": "native",
        "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": list(LOOPBACK_CALLBACKS),
    },
    {
        "client_id": "ci-machine",
        "client_secret": CI_SECRET_BASIC,
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["client_credentials", TOKEN_EXCHANGE_GRANT],
        "response_types": [],
        "redirect_uris": [],
    },
    {
        "client_id": "ci-machine-post",
        "client_secret": CI_SECRET_POST,
        "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
    },
    {
        "client_id": "introspector",
        "client_secret": INTROSPECTOR_SECRET,
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": [],
        "response_types": [],
        "redirect_uris": [],
    },
)


class ProviderError(RuntimeError):
    """The local provider could not be started or did not answer."""


class ProviderFactory(Protocol):
    """The ``make_provider`` fixture: start a provider with its own settings."""

    def __call__(
        self,
        clients: Sequence[Mapping[str, Any]] = DEFAULT_CLIENTS,
        ttl: Mapping[str, int] | None = None,
    ) -> LocalProvider: ...


def browser_command(script: Path) -> str:
    """The BROWSER value that runs a scripted user; webbrowser fills in %s."""
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} %s"


def _node() -> str:
    """The node binary, with a hint about what to install when it is missing."""
    node = shutil.which("node")
    if node is None:
        raise ProviderError("node is not on PATH; the test provider needs Node.js")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise ProviderError(
            "tests/provider/node_modules is missing: run `make provider` "
            "(or `npm ci` in tests/provider)"
        )
    return node


def _read_issuer(
    process: subprocess.Popen[bytes], stdout: Path, stderr: Path, timeout: float
) -> str:
    """Wait for the one JSON line the server prints once it listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = stdout.read_text(encoding="utf-8")
        if "\n" in text:
            issuer = json.loads(text.partition("\n")[0])["issuer"]
            if not isinstance(issuer, str):
                raise ProviderError(f"unexpected first line from server.mjs: {text!r}")
            return issuer
        if process.poll() is not None:
            break
        time.sleep(0.01)

    output = stderr.read_text(encoding="utf-8", errors="replace")[-2000:]
    if process.poll() is None:
        raise ProviderError(f"provider did not start within {timeout} s:\n{output}")
    status = process.returncode
    raise ProviderError(f"provider exited with status {status}:\n{output}")


class LocalProvider:
    """A running test provider; use ``LocalProvider.start`` or ``with``."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        issuer: str,
        workdir: Path,
        logs: Sequence[IO[bytes]],
    ) -> None:
        self.issuer = issuer
        self.workdir = workdir
        self.events_path = workdir / "events.jsonl"
        self.stderr_path = workdir / "stderr.log"
        self._process = process
        self._logs = logs
        self._metadata: dict[str, Any] | None = None

    @classmethod
    def start(
        cls,
        tmp_path: Path,
        clients: Sequence[Mapping[str, Any]] = DEFAULT_CLIENTS,
        ttl: Mapping[str, int] | None = None,
        *,
        timeout: float = START_TIMEOUT,
        options: Mapping[str, Any] | None = None,
    ) -> LocalProvider:
        """Write the config into ``tmp_path``, start the server, wait for it.

        ``options`` are more members of server.mjs's CONFIG.json (``dpop``,
        ``dpop_nonce``, ``require_par``: see there).
        """
        node = _node()
        tmp_path.mkdir(parents=True, exist_ok=True)
        config = {
            "clients": [dict(client) for client in clients],
            "ttl": dict(ttl or {}),
            "events": str(tmp_path / "events.jsonl"),
            "exit_with_stdin": True,
            **(options or {}),
        }
        config_path = tmp_path / "provider.json"
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")

        # stdout and stderr go to files: the server never blocks on a full
        # pipe and no thread has to drain one.
        stdout_path = tmp_path / "stdout.log"
        stderr_path = tmp_path / "stderr.log"
        stdout = stdout_path.open("wb")
        stderr = stderr_path.open("wb")
        process = subprocess.Popen(
            [node, str(SERVER), str(config_path)],
            cwd=PROVIDER_DIR,
            # Held open until stop(): if this process dies, the server sees EOF
            # and exits instead of outliving the tests.
            stdin=subprocess.PIPE,
            stdout=stdout,
            stderr=stderr,
        )
        provider = cls(process, "", tmp_path, (stdout, stderr))
        try:
            provider.issuer = _read_issuer(process, stdout_path, stderr_path, timeout)
        except BaseException:
            provider.stop()
            raise
        return provider

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalProvider(issuer={self.issuer!r})"

    @property
    def running(self) -> bool:
        """Whether the server process is still alive."""
        return self._process.poll() is None

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once)."""
        if self._metadata is None:
            url = f"{self.issuer}/.well-known/openid-configuration"
            response = httpx.get(url, trust_env=False, timeout=10.0)
            response.raise_for_status()
            self._metadata = response.json()
        return self._metadata

    def events(self) -> list[dict[str, Any]]:
        """Every event the server logged so far, oldest first."""
        if not self.events_path.exists():
            return []
        lines = self.events_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def count_grants(
        self, grant_type: str, *, client_id: str | None = None, error: bool = False
    ) -> int:
        """How many token requests with ``grant_type`` succeeded (or failed).

        ``grant_type`` is the wire value, e.g. ``refresh_token``.
        """
        wanted = "grant.error" if error else "grant.success"
        return sum(
            1
            for event in self.events()
            if event.get("event") == wanted
            and event.get("grant_type") == grant_type
            and (client_id is None or event.get("client_id") == client_id)
        )

    def introspect(
        self, token: str, token_type_hint: str | None = None
    ) -> dict[str, Any]:
        """The introspection answer (RFC 7662) for ``token``, as the introspector."""
        data = {"token": token}
        if token_type_hint is not None:
            data["token_type_hint"] = token_type_hint
        response = httpx.post(
            self.metadata()["introspection_endpoint"],
            data=data,
            auth=("introspector", INTROSPECTOR_SECRET),
            trust_env=False,
            timeout=10.0,
        )
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def stderr(self) -> str:
        """What the server wrote to stderr (warnings, server errors)."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and close its log files."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for log in self._logs:
            log.close()


def chromium_missing() -> str | None:
    """Why the Chromium user cannot run here, or None when it can."""
    if not Path(CHROMEDRIVER).exists():
        return f"{CHROMEDRIVER} is missing (apt-get install chromium-driver)"
    if not any(Path(binary).exists() for binary in CHROMIUM_BINARIES):
        return "Debian's chromium is missing (apt-get install chromium)"
    return None


def in_ci() -> bool:
    """Whether the CI variable says this is a CI run."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
