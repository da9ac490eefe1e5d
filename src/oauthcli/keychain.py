"""Refresh tokens in the operating system's keyring (the ``keyring`` package).

A profile's ``store`` setting picks where its refresh token lives: ``file``
(the default: the 0600 store file), ``keyring``, or ``auto`` (the keyring
when one works). Every keyring call runs with a timeout, because Secret
Service can hang on a headless Linux box. When the keyring fails, the token
goes to the file store and the user is told once: a freshly issued token is
never lost because a backend failed after the grant (issue C14).

A DPoP login's private key (RFC 9449) lives where its refresh token lives,
under the same protection: a private JWK in the store file, or in the
keyring next to the token. The file always keeps the key's thumbprint
(``jkt``), and a key that does not match it is not used.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._log import log
from .errors import LocalError

if TYPE_CHECKING:
    from .dpop import DPoPKey

__all__ = [
    "KEYRING_TIMEOUT",
    "STORE_CHOICES",
    "KeyringUnavailable",
    "delete_refresh_token",
    "fingerprint",
    "forget_refresh_token",
    "keyring_account",
    "load_refresh_token",
    "place_dpop_key",
    "place_tokens",
    "save_refresh_token",
    "stored_dpop_key",
    "stored_refresh_token",
]

SERVICE = "oauthcli"
KEYRING_TIMEOUT = 3.0
STORE_CHOICES = ("file", "keyring", "auto")

T = TypeVar("T")


class KeyringUnavailable(LocalError):
    """The keyring did not answer, or refused."""

    code = "keyring_unavailable"


_dead = False  # a keyring that once timed out is not asked again


def _call(action: str, function: Callable[[], T]) -> T:
    """Run one keyring call in a daemon thread, giving up after the timeout.

    After a timeout the keyring counts as dead for the rest of the process:
    the abandoned call may still land later, and nothing else must race it.
    """
    global _dead
    if _dead:
        raise KeyringUnavailable(f"the keyring did not answer earlier ({action})")
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
        _dead = True
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


def keyring_account(profile: str, settings: Mapping[str, Any]) -> str:
    """The keyring user name of a profile: unique per home, issuer and client.

    Two programs with their own OAUTHCLI_HOME, or two issuers, never share
    a keyring entry even when their profiles have the same name.
    """
    from .store import home

    scope = f"{home()}\n{settings.get('issuer')}\n{settings.get('client_id')}"
    return f"{profile}:{hashlib.sha256(scope.encode('utf-8')).hexdigest()[:16]}"


def fingerprint(refresh_token: str) -> str:
    """A short hash that tells whether the keyring holds *this* file's token."""
    return hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()[:16]


def save_refresh_token(account: str, refresh_token: str) -> None:
    import keyring

    _call("store", lambda: keyring.set_password(SERVICE, account, refresh_token))


def load_refresh_token(account: str) -> str | None:
    import keyring

    value = _call("read", lambda: keyring.get_password(SERVICE, account))
    return value if isinstance(value, str) and value else None


def delete_refresh_token(account: str) -> None:
    import keyring
    import keyring.errors

    def delete() -> None:
        import contextlib

        with contextlib.suppress(keyring.errors.PasswordDeleteError):  # none: fine
            keyring.delete_password(SERVICE, account)

    _call("delete", delete)


_told = False


def _tell_once(notify: Callable[[str], None], message: str) -> None:
    global _told
    if not _told:
        _told = True
        notify(message)


def place_tokens(
    profile: str,
    settings: Mapping[str, Any],
    tokens: dict[str, Any],
    notify: Callable[[str], None],
) -> dict[str, Any]:
    """Put the refresh token where the profile's ``store`` says; return the file part.

    With ``keyring`` or ``auto`` the file keeps a marker and a fingerprint
    instead of the token. If the keyring fails, the token stays in the file
    and the user is told (once per process).
    """
    plain = {
        key: value
        for key, value in tokens.items()
        if key not in ("refresh_token_store", "refresh_token_sha256")
    }
    refresh_token = tokens.get("refresh_token")
    if settings.get("store") not in ("keyring", "auto") or not isinstance(
        refresh_token, str
    ):
        return plain
    try:
        save_refresh_token(keyring_account(profile, settings), refresh_token)
    except KeyringUnavailable as exc:
        _tell_once(
            notify,
            f"oauthcli: {exc.message}; the refresh token is kept in the file "
            "store (mode 0600) instead.",
        )
        return plain
    return {
        **plain,
        "refresh_token": None,
        "refresh_token_store": "keyring",
        "refresh_token_sha256": fingerprint(refresh_token),
    }


def stored_refresh_token(profile: str, entry: Mapping[str, Any]) -> str | None:
    """The profile's refresh token, from the file or from the keyring.

    A keyring value whose fingerprint does not match the file is not used:
    it is stale, or belongs to something else.
    """
    tokens = entry.get("tokens") or {}
    if tokens.get("refresh_token_store") != "keyring":
        value = tokens.get("refresh_token")
        return value if isinstance(value, str) and value else None
    value = load_refresh_token(keyring_account(profile, entry.get("settings") or {}))
    if value is None or fingerprint(value) != tokens.get("refresh_token_sha256"):
        log.info("the keyring holds no refresh token for this login")
        return None
    return value


def forget_refresh_token(profile: str, entry: Mapping[str, Any]) -> None:
    """Remove the keyring copies (refresh token, DPoP key), if the profile may
    have them; failures are logged."""
    settings = entry.get("settings") or {}
    tokens = entry.get("tokens") or {}
    dpop = entry.get("dpop")
    dpop_in_keyring = isinstance(dpop, Mapping) and dpop.get("key_store") == "keyring"
    if settings.get("store") not in ("keyring", "auto") and (
        tokens.get("refresh_token_store") != "keyring" and not dpop_in_keyring
    ):
        return
    account = keyring_account(profile, settings)
    try:
        delete_refresh_token(account)
        if dpop is not None:
            delete_refresh_token(_dpop_account(account))
    except KeyringUnavailable as exc:
        log.debug("could not delete the keyring entry: %s", exc.code)


def _dpop_account(account: str) -> str:
    return f"{account}:dpop"


def place_dpop_key(
    profile: str,
    settings: Mapping[str, Any],
    key: DPoPKey,
    notify: Callable[[str], None],
) -> dict[str, Any]:
    """Store a DPoP login's key like its refresh token; return the file's part.

    The file gets ``{"jkt": ..., "private_jwk": {...}}``, or with the keyring
    ``{"jkt": ..., "key_store": "keyring"}``. A keyring that fails leaves the
    key in the file (mode 0600), and the user is told once.
    """
    private = key.private_jwk()
    if settings.get("store") in ("keyring", "auto"):
        import keyring

        account = _dpop_account(keyring_account(profile, settings))
        value = json.dumps(private)
        try:
            _call("store", lambda: keyring.set_password(SERVICE, account, value))
        except KeyringUnavailable as exc:
            _tell_once(
                notify,
                f"oauthcli: {exc.message}; the refresh token and DPoP key are kept "
                "in the file store (mode 0600) instead.",
            )
        else:
            return {"jkt": key.thumbprint, "key_store": "keyring"}
    return {"jkt": key.thumbprint, "private_jwk": private}


def stored_dpop_key(profile: str, entry: Mapping[str, Any]) -> DPoPKey | None:
    """The DPoP key of a stored login; None for a login without DPoP.

    ValueError when the key is missing, damaged, or not the one whose
    thumbprint the file holds; KeyringUnavailable when the keyring fails.
    """
    from .dpop import DPoPKey

    dpop = entry.get("dpop")
    if dpop is None:
        return None
    if not isinstance(dpop, Mapping) or not isinstance(dpop.get("jkt"), str):
        raise ValueError("the stored DPoP member is damaged")
    if dpop.get("key_store") == "keyring":
        account = _dpop_account(keyring_account(profile, entry.get("settings") or {}))
        text = load_refresh_token(account)
        if text is None:
            raise ValueError("the keyring holds no DPoP key for this login")
        try:
            private = json.loads(text)
        except (ValueError, RecursionError) as exc:  # deep nesting: a few KB do it
            raise ValueError("the keyring's DPoP key is not JSON") from exc
    else:
        private = dpop.get("private_jwk")
    key = DPoPKey.from_jwk(private)
    if key.thumbprint != dpop["jkt"]:
        raise ValueError("the stored DPoP key is not the one this login is bound to")
    return key
