"""The limit for one refresh: one ``refresh_token`` grant by hand with httpx.

    python httpx_refresh.py TOKEN_FILE

TOKEN_FILE is what minimal_pkce.py writes (token_endpoint, client_id,
refresh_token, ...). Sends the grant (RFC 6749 section 6), writes the new
tokens back (0600, replaced in one step) and prints the access token. No
lock, no ID token check.
"""

import json
import os
import sys
import time

import httpx

path = sys.argv[1]
with open(path, encoding="utf-8") as handle:
    saved = json.load(handle)

response = httpx.post(
    saved["token_endpoint"],
    data={
        "grant_type": "refresh_token",
        "refresh_token": saved["refresh_token"],
        "client_id": saved["client_id"],
    },
    trust_env=False,
)
response.raise_for_status()
tokens = response.json()

saved["access_token"] = tokens["access_token"]
saved["refresh_token"] = tokens.get("refresh_token", saved["refresh_token"])
saved["expires_at"] = time.time() + tokens.get("expires_in", 3600)
temporary = f"{path}.new"
fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w", encoding="utf-8") as handle:
    json.dump(saved, handle)
os.replace(temporary, path)
sys.stdout.write(saved["access_token"] + "\n")
