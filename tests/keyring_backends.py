"""Keyring backends for tests, chosen with PYTHON_KEYRING_BACKEND.

``FileKeyring`` keeps passwords in the JSON file named by
``OAUTHCLI_TEST_KEYRING`` (so that several processes share it), standing in
for a real OS keyring; ``HangingKeyring`` never answers, as Secret Service
can on a headless Linux box. These are faults and stand-ins a CI machine
cannot produce with a real keyring.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = 1

    def _load(self) -> dict[str, str]:
        path = Path(os.environ["OAUTHCLI_TEST_KEYRING"])
        if not path.exists():
            return {}
        data: dict[str, str] = json.loads(path.read_text())
        return data

    def _save(self, data: dict[str, str]) -> None:
        Path(os.environ["OAUTHCLI_TEST_KEYRING"]).write_text(json.dumps(data))

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}/{username}"] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError("not found")
        self._save(data)


class HangingKeyring(KeyringBackend):
    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(60)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        time.sleep(60)

    def delete_password(self, service: str, username: str) -> None:
        time.sleep(60)
