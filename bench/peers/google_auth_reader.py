"""google-auth with cached credentials: how Google's client libraries do it.

    python google_auth_reader.py AUTHORIZED_USER_FILE

Loads an "authorized user" file (token, refresh token, client, expiry) as
``google.oauth2.credentials.Credentials`` and prints the token while it is
valid; it never refreshes here (the token is fresh).
"""

import sys

from google.oauth2.credentials import Credentials

credentials = Credentials.from_authorized_user_file(sys.argv[1])
if not credentials.valid:
    sys.exit("expired")
sys.stdout.write(f"{credentials.token}\n")
