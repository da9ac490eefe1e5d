"""The practical limit for a cached token: the standard library reads a file.

    python stdlib_reader.py STORE_FILE

Reads oauthcli's store file with ``json``, checks that the access token has
more than 60 s left, and prints it. No locking, no permission checks.
"""

import json
import sys
import time

with open(sys.argv[1], encoding="utf-8") as handle:
    tokens = json.load(handle)["tokens"]
if tokens["expires_at"] - time.time() <= 60:
    sys.exit("expired")
sys.stdout.write(tokens["access_token"] + "\n")
