"""The least a loopback login can do: PKCE by hand with httpx and the stdlib.

    python minimal_pkce.py ISSUER CLIENT_ID TOKEN_FILE

Discovery, a listener on 127.0.0.1 (any port), the browser opened with
``webbrowser``, the ``state`` compared, the code redeemed with its
``code_verifier`` (RFC 7636), the tokens written to TOKEN_FILE (0600). That
is all: no ID token validation (no JWKS, signature, nonce or ``iss``
checks), no lock, no error handling beyond failing. The lower limit a login
with full validation is compared with.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import secrets
import sys
import time
import webbrowser
from typing import ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Callback(http.server.BaseHTTPRequestHandler):
    query: ClassVar[dict[str, list[str]]] = {}

    def do_GET(self) -> None:
        Callback.query = parse_qs(urlsplit(self.path).query)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"Logged in; you can close this window.\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


def main(issuer: str, client_id: str, token_file: str) -> int:
    with httpx.Client(trust_env=False) as client:
        metadata = client.get(f"{issuer}/.well-known/openid-configuration").json()

        server = http.server.HTTPServer(("127.0.0.1", 0), Callback)
        redirect_uri = f"http://127.0.0.1:{server.server_port}/callback"
        state = b64url(secrets.token_bytes(32))
        verifier = b64url(secrets.token_bytes(32))
        challenge = b64url(hashlib.sha256(verifier.encode("ascii")).digest())
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid profile email",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        webbrowser.open(f"{metadata['authorization_endpoint']}?{urlencode(query)}")
        while "code" not in Callback.query and "error" not in Callback.query:
            server.handle_request()
        server.server_close()
        if Callback.query.get("state") != [state] or "code" not in Callback.query:
            sys.exit("login failed")

        response = client.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": Callback.query["code"][0],
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "code_verifier": verifier,
            },
        )
        response.raise_for_status()
        tokens = response.json()

    saved = {
        **tokens,
        "token_endpoint": metadata["token_endpoint"],
        "client_id": client_id,
        "expires_at": time.time() + tokens.get("expires_in", 3600),
    }
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(saved, handle)
    print("Logged in.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
