"""Refresh tokens in the operating system's keyring (the ``keyring`` package).

A profile's ``store`` setting picks where its refresh token lives: ``file``
(the default: the 0600 store file), ``keyring``, or ``auto`` (the keyring
when one works). Every keyring call runs with a timeout, because Secret
Service can hang on a headless Linux box. When the keyring fails, the token
goes to the file store and the user is told once: a freshly issued token is
never lost because a backend failed after the grant (issue C14).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ._log import log
from .errors import LocalError

__all__ = [
    "KEYRING_TIMEOUT",
    "STORE_CHOICES",
    "KeyringUnavailable",
    "delete_refresh_token",
    "forget_refresh_token",
    "load_refresh_token",
    "place_tokens",
    "save_refresh_token",
    "stored_refresh_token",
]

SERVICE = "oauthcli"
KEYRING_TIMEOUT = 3.0
STORE_CHOICES = ("file", "keyring", "auto")

T = TypeVar("T")


class KeyringUnavailable(LocalError):
    """The keyring did not answer, or refused."""

    code = "keyring_unavailable"


def _call(action: str, function: Callable[[], T]) -> T:
    """Run one keyring call in a daemon thread, giving up after the timeout."""
    outcome: list[Any] = []

    def work() -> None:
        try:
            outcome.append(("ok", function()))
        except Exception as exc:  # any backend failure means "unavailable"
            outcome.append(("error", exc))

    worker = threading.Thread(target=work, name="oauthcli-keyring", daemon=True)
    worker.start()
    worker.join(KEYRING_TIMEOUT)
    if not outcome:
        raise KeyringUnavailable(
            f"the keyring did not answer within {KEYRING_TIMEOUT:g} s ({action})"
        )
    kind, value = outcome[0]
    if kind == "error":
        log.debug("keyring %s failed: %s", action, type(value).__name__)
        raise KeyringUnavailable(
            f"the keyring failed ({action}: {type(value).__name__})"
        ) from value
    result: T = value
    return result


def save_refresh_token(profile: str, refresh_token: str) -> None:
    import keyring

    _call("store", lambda: keyring.set_password(SERVICE, profile, refresh_token))


def load_refresh_token(profile: str) -> str | None:
    import keyring

    value = _call("read", lambda: keyring.get_password(SERVICE, profile))
    return value if isinstance(value, str) and value else None


def delete_refresh_token(profile: str) -> None:
    import keyring
    import keyring.errors

    def delete() -> None:
        import contextlib

        with contextlib.suppress(keyring.errors.PasswordDeleteError):  # none: fine
            keyring.delete_password(SERVICE, profile)

    _call("delete", delete)


_told = False


def _tell_once(notify: Callable[[str], None], message: str) -> None:
    global _told
    if not _told:
        _told = True
        notify(message)


def place_tokens(
    profile: str,
    store: str,
    tokens: dict[str, Any],
    notify: Callable[[str], None],
) -> dict[str, Any]:
    """Put the refresh token where ``store`` says; return what the file keeps.

    With ``keyring`` or ``auto`` the file keeps ``refresh_token_store:
    keyring`` instead of the token. If the keyring fails, the token stays in
    the file and the user is told (once per process).
    """
    refresh_token = tokens.get("refresh_token")
    if store not in ("keyring", "auto") or not isinstance(refresh_token, str):
        return {
            key: value for key, value in tokens.items() if key != "refresh_token_store"
        }
    try:
        save_refresh_token(profile, refresh_token)
    except KeyringUnavailable as exc:
        _tell_once(
            notify,
            f"oauthcli: {exc.message}; the refresh token is kept in the file "
            "store (mode 0600) instead.",
        )
        return {
            key: value for key, value in tokens.items() if key != "refresh_token_store"
        }
    return {**tokens, "refresh_token": None, "refresh_token_store": "keyring"}


def stored_refresh_token(profile: str, tokens: dict[str, Any]) -> str | None:
    """The profile's refresh token, from the file or from the keyring."""
    if tokens.get("refresh_token_store") == "keyring":
        return load_refresh_token(profile)
    value = tokens.get("refresh_token")
    return value if isinstance(value, str) and value else None


def forget_refresh_token(profile: str, tokens: dict[str, Any]) -> None:
    """Remove a keyring copy, if any; a keyring failure is only logged."""
    if tokens.get("refresh_token_store") != "keyring":
        return
    try:
        delete_refresh_token(profile)
    except KeyringUnavailable as exc:
        log.debug("could not delete the keyring entry: %s", exc.code)
