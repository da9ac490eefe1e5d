"""google-auth-oauthlib's ``InstalledAppFlow``: a loopback login with a secret.

    python installed_app_flow.py AUTH_URI TOKEN_URI CLIENT_ID CLIENT_SECRET TOKEN_FILE

``run_local_server`` on 127.0.0.1 (any port), the browser opened with
``webbrowser``, PKCE S256 (its default), the code redeemed with
``client_secret_post`` through requests-oauthlib; the credentials written to
TOKEN_FILE as google-auth's JSON. The endpoints are given, as its users
configure them (no discovery);
the ID token is not validated.
"""

from __future__ import annotations

import os
import sys

# oauthlib refuses http:// endpoints unless told; everything here is on
# 127.0.0.1. The provider may list the granted scopes in another order.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
os.environ["OAUTHLIB_RELAX_TOKEN_SCOPE"] = "1"

from google_auth_oauthlib.flow import InstalledAppFlow

SCOPES = ["openid", "profile", "email"]


def main(
    auth_uri: str, token_uri: str, client_id: str, client_secret: str, token_file: str
) -> int:
    config = {
        "installed": {
            "client_id": client_id,
            "client_secret": client_secret,
            "auth_uri": auth_uri,
            "token_uri": token_uri,
            "redirect_uris": ["http://127.0.0.1/"],
        }
    }
    flow = InstalledAppFlow.from_client_config(config, SCOPES)
    credentials = flow.run_local_server(
        host="127.0.0.1", port=0, open_browser=True, authorization_prompt_message=""
    )
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(credentials.to_json())
    print("Logged in.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
