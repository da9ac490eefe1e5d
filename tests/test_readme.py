"""Every fenced example in README.md runs, against the local provider.

Each fence in the README has a marker on the line before it::

    <!-- example: NAME [login=PROFILE|none] [after=NAME] -->
    <!-- not-run: why it cannot run here -->

An example starts in a fresh OAUTHCLI_HOME and HOME, logged in at the local
provider as profile ``default`` (``login=`` names another profile, or
``none``, the default for toml), after the examples ``after=`` names have
run in the same home. ``https://login.example.com`` and ``my-cli`` stand
for the local provider's issuer and its client ``cli-app``, ``my-ci-client``
for its machine client ``ci-machine`` (whose secret is in
``CI_CLIENT_SECRET``, as a CI system would provide it);
``https://api.example.com`` for a resource server on 127.0.0.1 that accepts
only tokens the provider says are active. Nothing leaves 127.0.0.1.

By language: ``sh`` runs in bash (``-e -o pipefail``) with the scripted
user as BROWSER; ``python`` runs as a script, the same way; ``toml`` is
written to config.toml and every profile in it must resolve (``oauthcli
config show``) to the values its ``# oauthcli config show --profile NAME:``
comment lists; ``yaml`` is a kubeconfig ``users`` list that kubectl uses
against an HTTPS API server; ``json`` is a Docker config whose
``credHelpers`` are asked for each registry, as Docker asks them.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

from clirun import cli_env, stored
from localprovider import CI_SECRET_BASIC, HTTP_USER, LocalProvider, in_ci
from oauthcli import OAuth2Constants
from oauthcli import login as library_login
from oauthcli.commands import main_group
from oauthcli.presets import PRESETS

README = Path(__file__).resolve().parent.parent / "README.md"
BIN = str(Path(sys.executable).parent)

ISSUER = "https://login.example.com"
API = "https://api.example.com"
CLIENT = re.compile(r"\bmy-cli\b")
MACHINE = re.compile(r"\bmy-ci-client\b")

_FENCE = re.compile(r"```(\S*)\s*")
_MARKER = re.compile(r"<!-- (example|not-run): (.+?) -->")
_SHOW_HEADER = re.compile(r"# oauthcli config show --profile (\S+):")
_SHOW_VALUE = re.compile(r"#\s+(\w+) = (.*)")
_DROPPED = ("HOME", "XDG_CONFIG_HOME", "KUBECONFIG", "DOCKER_CONFIG", "GIT_DIR")


@dataclass(frozen=True)
class Block:
    """One fenced block and its marker."""

    line: int
    language: str
    text: str
    name: str | None = None  # None: marked not-run
    login: str = "default"
    after: tuple[str, ...] = ()


def read_blocks(path: Path = README) -> tuple[list[Block], list[str]]:
    """The README's fenced blocks, and the problems with their markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    problems: list[str] = []
    number = 0
    while number < len(lines):
        opening = _FENCE.fullmatch(lines[number])
        if opening is None:
            number += 1
            continue
        end = number + 1
        while end < len(lines) and lines[end] != "```":
            end += 1
        text = "\n".join(lines[number + 1 : end]) + "\n"
        marker = _MARKER.fullmatch(lines[number - 1]) if number else None
        where = f"README.md line {number + 1}"
        toml = opening.group(1) == "toml"
        if marker is None:
            problems.append(f"{where}: a fence without an example or not-run marker")
        elif marker.group(1) == "not-run":
            blocks.append(Block(number + 1, opening.group(1), text))
        else:
            name, *options = marker.group(2).split()
            settings: dict[str, str] = {}
            for option in options:
                key, _, value = option.partition("=")
                settings[key] = value
            unknown = set(settings) - {"login", "after"}
            if unknown:
                problems.append(f"{where}: unknown marker options {sorted(unknown)}")
            blocks.append(
                Block(
                    number + 1,
                    opening.group(1),
                    text,
                    name,
                    settings.get("login", "none" if toml else "default"),
                    tuple(filter(None, settings.get("after", "").split(","))),
                )
            )
        number = end + 1
    return blocks, problems


BLOCKS, MARKER_PROBLEMS = read_blocks()
EXAMPLES = {block.name: block for block in BLOCKS if block.name is not None}


# A resource server that believes the provider, and a scripted user.


@dataclass
class ResourceServer:
    """``GET`` anything: 200 for a token the provider says is active, else 401."""

    provider: LocalProvider
    tls: ssl.SSLContext | None = None
    seen: list[bool] = field(default_factory=list)  # was each token active?
    url: str = ""

    @contextlib.contextmanager
    def running(self) -> Iterator[ResourceServer]:
        state = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                scheme, _, token = self.headers.get("Authorization", "").partition(" ")
                answer = state.provider.introspect(token) if token else {}
                active = answer.get("active") is True and scheme == "Bearer"
                if scheme == "DPoP" and answer.get("active") is True:
                    url = f"{state.url}{self.path.partition('?')[0]}"
                    jkt = dpop_key_of(self.headers.get("DPoP", ""), url, token)
                    active = answer.get("cnf") == {"jkt": jkt}
                state.seen.append(active)
                body = json.dumps({"major": "1", "minor": "32"}).encode()
                self.send_response(200 if active else 401)
                if not active:
                    self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        scheme = "https" if self.tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def dpop_key_of(proof: str, url: str, token: str) -> str | None:
    """The thumbprint of a valid DPoP proof's key for GET ``url`` and ``token``.

    RFC 9449 section 4.3, as far as the README's examples need: the proof's
    own ``jwk`` verifies it, and it names this request and this token.
    """
    import base64
    import hashlib

    import jwt

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    try:
        header = jwt.get_unverified_header(proof)
        jwk = header["jwk"]
        claims = jwt.decode(proof, jwt.PyJWK(jwk).key, algorithms=["ES256"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None
    if header.get("typ") != "dpop+jwt" or "d" in jwk:
        return None
    if (claims.get("htm"), claims.get("htu")) != ("GET", url):
        return None
    if claims.get("ath") != b64(hashlib.sha256(token.encode()).digest()):
        return None
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return b64(hashlib.sha256(canonical.encode()).digest())


@functools.cache
def _http_user() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme_http_user", HTTP_USER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def scripted_user(url: str) -> bool:
    """The plain-HTTP user of tests/browsers, in this process (fast)."""
    _http_user().sign_in(url, False, "alice")
    return True


# Running one example.


@dataclass
class Run:
    """Where an example runs, and what it did."""

    provider: LocalProvider
    home: Path
    work: Path
    env: dict[str, str]
    api: ResourceServer
    stdout: str = ""

    def localize(self, text: str) -> str:
        text = text.replace(ISSUER, self.provider.issuer).replace(API, self.api.url)
        return MACHINE.sub("ci-machine", CLIENT.sub("cli-app", text))

    def access_token(self, profile: str) -> str:
        document = stored(self.home, profile)
        assert document is not None, f"profile {profile} is not logged in"
        return str(document["tokens"]["access_token"])

    def active(self, token: str) -> bool:
        return self.provider.introspect(token)["active"] is True

    def command(
        self, *args: str, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            env=self.env,
            cwd=self.work,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def run_sh(run: Run, block: Block) -> None:
    script = run.localize(block.text)
    result = run.command("bash", "-e", "-o", "pipefail", "-c", script)
    assert result.returncode == 0, f"{block.name}:\n{script}\n{result.stderr}"
    run.stdout += result.stdout


def run_python(run: Run, block: Block) -> None:
    script = run.work / f"{block.name}.py"
    script.write_text(run.localize(block.text), encoding="utf-8")
    result = run.command(sys.executable, str(script))
    assert result.returncode == 0, f"{block.name}:\n{result.stderr}"
    run.stdout += result.stdout


def _expected_values(text: str) -> dict[str, dict[str, str]]:
    """``{profile: {key: value}}`` from ``# oauthcli config show`` comments."""
    expected: dict[str, dict[str, str]] = {}
    values: dict[str, str] | None = None
    for line in text.splitlines():
        header = _SHOW_HEADER.fullmatch(line)
        value = _SHOW_VALUE.fullmatch(line)
        if header is not None:
            values = expected.setdefault(header.group(1), {})
        elif value is not None and values is not None:
            values[value.group(1)] = value.group(2)
        else:
            values = None
    return expected


def _shown(output: str) -> dict[str, str]:
    """``config show``'s ``key = value  # origin`` lines as a dict."""
    shown = {}
    for line in output.splitlines():
        key, _, value = line.split("  # ")[0].partition(" = ")
        shown[key.strip()] = value.rstrip()
    return shown


def run_toml(run: Run, block: Block) -> None:
    text = run.localize(block.text)
    config = run.home / "config.toml"
    with config.open("a", encoding="utf-8") as file:
        file.write(text)
    config.chmod(0o600)
    expected = _expected_values(text)
    profiles = tomllib.loads(text).get("profiles", {})
    assert set(expected) <= set(profiles), f"{block.name}: comments name no profile"
    for name in profiles:
        result = run.command("oauthcli", "config", "show", "--profile", name)
        assert result.returncode == 0, f"{block.name}: {result.stderr}"
        assert result.stderr == ""
        shown = _shown(result.stdout)
        for key, value in expected.get(name, {}).items():
            assert shown.get(key) == value, f"{block.name}: {key} is {shown.get(key)}"


def run_kubeconfig(run: Run, block: Block) -> None:
    import trustme

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if in_ci():
            pytest.fail("kubectl is missing (make test installs kubernetes-client)")
        pytest.skip("kubectl is not installed (make kubectl installs it)")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(run.work / "ca.pem"))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    user = re.search(r"^- name: (\S+)", block.text, re.MULTILINE)
    assert user is not None, f"{block.name}: no user name"
    with ResourceServer(run.provider, tls).running() as cluster:
        kubeconfig = run.work / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: local\n  cluster:\n    server: {cluster.url}\n"
            f"    certificate-authority: {run.work / 'ca.pem'}\n"
            f"contexts:\n- name: local\n  context:\n    cluster: local\n"
            f"    user: {user.group(1)}\n"
            "current-context: local\n" + run.localize(block.text),
            encoding="utf-8",
        )
        result = run.command(
            kubectl, "--kubeconfig", str(kubeconfig), "get", "--raw", "/version"
        )
    assert result.returncode == 0, f"{block.name}: {result.stderr}"
    assert cluster.seen, "kubectl never called the API server"
    assert all(cluster.seen), "kubectl sent an invalid token"


def run_docker_config(run: Run, block: Block) -> None:
    text = run.localize(block.text)
    docker = Path(run.env["HOME"]) / ".docker"
    docker.mkdir(exist_ok=True)
    (docker / "config.json").write_text(text, encoding="utf-8")
    helpers = json.loads(text)["credHelpers"]
    for registry, helper in helpers.items():
        program = shutil.which(f"docker-credential-{helper}", path=run.env["PATH"])
        assert program is not None, f"docker-credential-{helper} is not installed"
        result = run.command(program, "get", input=f"{registry}\n")
        assert result.returncode == 0, f"{block.name}: {result.stdout}{result.stderr}"
        answer = json.loads(result.stdout)
        assert answer["ServerURL"] == registry
        assert run.active(answer["Secret"])


RUNNERS: dict[str, Callable[[Run, Block], None]] = {
    "sh": run_sh,
    "python": run_python,
    "toml": run_toml,
    "yaml": run_kubeconfig,
    "json": run_docker_config,
}


# What some examples must have done, beyond running without an error.


def _git_fill(run: Run, host: str) -> str:
    request = f"protocol=https\nhost={host}\n\n"
    result = run.command("git", "credential", "fill", input=request)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _after_quick_start(run: Run) -> None:
    assert stored(run.home) is None  # logged out at the end


def _after_config_use(run: Run) -> None:
    assert stored(run.home, "work") is not None  # default_profile was used
    assert "environment OAUTHCLI_MIN_TTL" in run.stdout


def _after_config_commands(run: Run) -> None:
    assert "openid email\n" in run.stdout  # config get
    assert "[redacted]" in run.stdout
    assert "not-a-real-secret" not in run.stdout
    assert "dev" not in tomllib.loads((run.home / "config.toml").read_text()).get(
        "profiles", {}
    )


def _after_recipe_git(run: Run) -> None:
    assert f"password={run.access_token('work')}\n" in run.stdout


def _after_recipe_git_hosts(run: Run) -> None:
    answer = _git_fill(run, "git.example.com")
    assert f"password={run.access_token('work')}\n" in answer


def _after_recipe_whoami(run: Run) -> None:
    assert run.stdout.startswith("sub:")
    assert '"email": "alice@example.test"' in run.stdout


def _after_recipe_completion(run: Run) -> None:
    result = run.command(
        "bash", "-c", 'eval "$(oauthcli completion bash)" && complete -p oauthcli'
    )
    assert result.returncode == 0, result.stderr
    assert "oauthcli" in result.stdout


def _after_ci_token(run: Run) -> None:
    assert stored(run.home, "ci") is None  # logged out at the end
    assert "client ci-machine" in run.stdout  # status


def _after_ci_env(run: Run) -> None:
    document = stored(run.home)
    assert document is not None
    assert document["settings"]["grant_type"] == "client_credentials"
    assert CI_SECRET_BASIC not in json.dumps(document)


def _after_exchange(run: Run) -> None:
    printed = run.stdout[run.stdout.index('{"access_token"') :]  # after curl's
    exchanged = json.loads(printed)
    assert exchanged["issued_token_type"].endswith(":access_token")
    assert run.active(exchanged["access_token"])
    assert exchanged["access_token"] != run.access_token("default")


def _after_python_exchange(run: Run) -> None:
    assert "platform token until" in run.stdout
    assert stored(run.home, "work") is not None


def _after_python_login(run: Run) -> None:
    assert "logged in as alice@example.test" in run.stdout
    assert stored(run.home, "work") is None  # oauthcli.logout
    assert len(run.api.seen) >= 2  # httpx and requests


CHECKS: dict[str, Callable[[Run], None]] = {
    "quick-start": _after_quick_start,
    "config-use": _after_config_use,
    "config-commands": _after_config_commands,
    "recipe-git": _after_recipe_git,
    "recipe-git-hosts": _after_recipe_git_hosts,
    "recipe-whoami": _after_recipe_whoami,
    "recipe-completion": _after_recipe_completion,
    "python-login": _after_python_login,
    "ci-token": _after_ci_token,
    "ci-env": _after_ci_env,
    "exchange": _after_exchange,
    "python-exchange": _after_python_exchange,
}


def _chain(block: Block) -> list[Block]:
    """The examples ``block`` comes after, each once, then ``block``."""
    order: list[Block] = []
    for name in block.after:
        for earlier in _chain(EXAMPLES[name]):
            if earlier not in order:
                order.append(earlier)
    return [*order, block]


@pytest.fixture
def run(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str, tmp_path: Path
) -> Iterator[Run]:
    """A user with a fresh OAUTHCLI_HOME and HOME, and a resource server."""
    user_home = tmp_path / "home"
    work = tmp_path / "work"
    user_home.mkdir()
    work.mkdir()
    env = {
        key: value
        for key, value in cli_env(oauthcli_home, http_browser).items()
        if key not in _DROPPED
        and not (key.startswith("OAUTHCLI_") and key != "OAUTHCLI_HOME")
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(user_home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        CI_CLIENT_SECRET=CI_SECRET_BASIC,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    with ResourceServer(provider).running() as api:
        yield Run(provider, oauthcli_home, work, env, api)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_readme_example_works(name: str, run: Run) -> None:
    block = EXAMPLES[name]
    if block.login != "none":
        library_login(
            OAuth2Constants("cli-app", run.provider.issuer, login_timeout=30),
            profile=block.login,
            opener=scripted_user,
            notify=lambda _: None,
        )
    for step in _chain(block):
        run.stdout = ""
        run.api.seen.clear()
        RUNNERS[step.language](run, step)
        if API in step.text:
            assert run.api.seen, f"{step.name} never reached {API}"
            assert all(run.api.seen), f"{step.name} sent an invalid token to {API}"
    if name in CHECKS:
        CHECKS[name](run)


# The README's own bookkeeping.


def test_every_fence_in_the_readme_is_an_example_or_says_why_not() -> None:
    assert MARKER_PROBLEMS == []


def test_every_example_has_a_runner_and_a_unique_name() -> None:
    names = [block.name for block in BLOCKS if block.name is not None]
    assert len(names) == len(set(names))
    for block in EXAMPLES.values():
        assert block.language in RUNNERS, f"{block.name}: no runner for the fence"
        for earlier in block.after:
            assert earlier in EXAMPLES, f"{block.name}: after={earlier} is no example"
            assert EXAMPLES[earlier].line < block.line
    assert set(CHECKS) <= set(EXAMPLES)


def test_every_preset_has_an_example_that_says_what_it_resolves_to() -> None:
    documented = {}
    for block in EXAMPLES.values():
        if block.language == "toml":
            for name, table in tomllib.loads(block.text).get("profiles", {}).items():
                if "preset" in table:
                    assert name in _expected_values(block.text), block.name
                    documented[table["preset"]] = block.name
    assert set(documented) == set(PRESETS)


def test_every_command_is_in_the_commands_table() -> None:
    text = README.read_text(encoding="utf-8")
    table = text.partition("## Commands")[2].partition("\n## ")[0]
    for command in main_group.commands:
        assert f"| `oauthcli {command}" in table, command
