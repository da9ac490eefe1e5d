"""``oauthcli token --format``: what kubectl, curl and shells get."""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clirun import log_in, oauthcli, stored
from localprovider import LocalProvider, in_ci


@pytest.fixture
def env(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> dict[str, str]:
    return log_in(provider, oauthcli_home, http_browser)


def access_token(home: Path) -> str:
    document = stored(home)
    assert document is not None
    return str(document["tokens"]["access_token"])


def test_header_format_is_one_authorization_line(
    env: dict[str, str], oauthcli_home: Path
) -> None:
    result = oauthcli("token", "--format", "header", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Authorization: Bearer {access_token(oauthcli_home)}\n"


def test_env_format_sets_the_variable_in_a_shell(
    env: dict[str, str], oauthcli_home: Path
) -> None:
    script = (
        f'eval "$({sys.executable} -m oauthcli token --format env)" && '
        'printf "%s|%s" "$OAUTHCLI_ACCESS_TOKEN" "$OAUTHCLI_ACCESS_TOKEN_EXPIRES_AT"'
    )
    result = subprocess.run(
        ["sh", "-c", script], env=env, capture_output=True, text=True, check=True
    )
    document = stored(oauthcli_home)
    assert document is not None
    expires_at = int(document["tokens"]["expires_at"])
    assert result.stdout == f"{access_token(oauthcli_home)}|{expires_at}"


def test_env_format_uses_the_profiles_env_var(
    env: dict[str, str], oauthcli_home: Path
) -> None:
    (oauthcli_home / "config.toml").write_text(
        '[profiles.default]\nenv_var = "API_TOKEN"\n'
    )
    result = oauthcli("token", "--format", "env", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"export API_TOKEN={access_token(oauthcli_home)}\n")


def test_exec_credential_is_kubectls_v1_document(
    env: dict[str, str], oauthcli_home: Path
) -> None:
    result = oauthcli("token", "--format", "exec-credential", env=env)
    assert result.returncode == 0, result.stderr
    document = stored(oauthcli_home)
    assert document is not None
    expiry = datetime.fromtimestamp(int(document["tokens"]["expires_at"]), tz=UTC)
    assert json.loads(result.stdout) == {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {
            "token": access_token(oauthcli_home),
            "expirationTimestamp": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    }


def test_exec_credential_answers_the_version_kubectl_asks_for(
    env: dict[str, str],
) -> None:
    info = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
    result = oauthcli(
        "token",
        "--format",
        "exec-credential",
        env={**env, "KUBERNETES_EXEC_INFO": json.dumps(info)},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["apiVersion"] == info["apiVersion"]


def test_an_exec_credential_version_oauthcli_does_not_speak_is_refused(
    env: dict[str, str],
) -> None:
    info = {"apiVersion": "client.authentication.k8s.io/v2", "kind": "ExecCredential"}
    result = oauthcli(
        "token",
        "--format",
        "exec-credential",
        env={**env, "KUBERNETES_EXEC_INFO": json.dumps(info)},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "client.authentication.k8s.io/v2" in result.stderr


def test_exec_info_nested_5000_deep_is_refused_not_a_recursion_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from oauthcli.commands.token import _kubectl_api_version
    from oauthcli.errors import LocalError

    monkeypatch.setenv("KUBERNETES_EXEC_INFO", "[" * 5000 + "]" * 5000)
    with pytest.raises(LocalError) as caught:
        _kubectl_api_version()
    assert caught.value.message == "KUBERNETES_EXEC_INFO is not the JSON kubectl sends"


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []  # noqa: RUF012 - one test at a time uses it

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        body = json.dumps({"major": "1", "minor": "30", "gitVersion": "v1.30.0"})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api_server() -> Iterator[tuple[str, str]]:
    """An HTTPS "API server" on 127.0.0.1 (kubectl sends exec tokens over TLS
    only); yields its URL and its CA in PEM."""
    import ssl

    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}", ca.cert_pem.bytes().decode()
    server.shutdown()
    server.server_close()


def test_kubectl_sends_the_token_from_an_exec_entry(
    env: dict[str, str],
    oauthcli_home: Path,
    api_server: tuple[str, str],
    tmp_path: Path,
) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if in_ci():
            pytest.fail("kubectl is missing (make test installs kubernetes-client)")
        pytest.skip("kubectl is not installed (make kubectl installs it)")
    url, ca_pem = api_server
    (tmp_path / "ca.pem").write_text(ca_pem)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "local",
                        "cluster": {
                            "server": url,
                            "certificate-authority": str(tmp_path / "ca.pem"),
                        },
                    }
                ],
                "users": [
                    {
                        "name": "me",
                        "user": {
                            "exec": {
                                "apiVersion": "client.authentication.k8s.io/v1beta1",
                                "command": sys.executable,
                                "args": [
                                    "-m",
                                    "oauthcli",
                                    "token",
                                    "--format",
                                    "exec-credential",
                                ],
                            }
                        },
                    }
                ],
                "contexts": [
                    {"name": "local", "context": {"cluster": "local", "user": "me"}}
                ],
                "current-context": "local",
            }
        )
    )
    result = subprocess.run(
        [kubectl, "--kubeconfig", str(kubeconfig), "get", "--raw", "/version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert _Recorder.seen[-1] == f"Bearer {access_token(oauthcli_home)}"
