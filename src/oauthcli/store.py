"""The token store: one JSON file per profile, private and written atomically.

Location: ``$OAUTHCLI_HOME/profiles/`` when that variable is set, else the
platform's user data directory (``platformdirs``). The directories are 0700;
files are created 0600 by ``mkstemp`` (so also under ``umask 000``), written
in full, fsynced and ``os.replace``d over the old file, then the directory is
fsynced: a reader sees the old or the new document, never a mix. A symlink,
a file owned by someone else, or a file with other hard links is refused.

This module imports only the standard library: ``oauthcli token`` reads
through it and must start fast.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import LocalError

__all__ = [
    "SCHEMA_VERSION",
    "StoreDamaged",
    "delete_entry",
    "home",
    "list_profiles",
    "profile_lock",
    "profile_path",
    "read_entry",
    "set_aside",
    "write_entry",
]

SCHEMA_VERSION = 1
_PROFILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
MAX_STORE_BYTES = 1 << 20


class StoreDamaged(LocalError):
    """A store file exists but cannot be used (truncated, not JSON, wrong schema)."""

    code = "store_damaged"


def home() -> Path:
    """Where oauthcli keeps its files."""
    override = os.environ.get("OAUTHCLI_HOME")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_data_path("oauthcli", appauthor=False)


def profile_path(profile: str) -> Path:
    if not _PROFILE_NAME.fullmatch(profile):
        raise LocalError(
            f"invalid profile name {profile!r}: use letters, digits, '.', '_' or '-'",
            code="invalid_argument",
        )
    return home() / "profiles" / f"{profile}.json"


def _check_private_dir(path: Path) -> None:
    """Create ``path`` 0700 if needed; refuse a symlink or another owner's dir."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        raise LocalError(
            f"cannot create the store directory {path}: {exc.strerror}",
            code="store_failed",
        ) from exc
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise LocalError(
            f"the store directory {path} is a symlink or not a directory; refusing it",
            code="store_failed",
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise LocalError(
            f"the store directory {path} belongs to another user; refusing it",
            code="store_failed",
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)


def _open_private(path: Path) -> int | None:
    """Open an existing store file for reading, or None if there is none."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LocalError(
                f"the store file {path} is a symlink; refusing to follow it",
                code="store_failed",
            ) from exc
        raise LocalError(
            f"cannot read the store file {path}: {exc.strerror}", code="store_failed"
        ) from exc
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file"
    elif hasattr(os, "getuid") and info.st_uid != os.getuid():
        problem = "belongs to another user"
    elif info.st_nlink > 1:
        problem = "has other hard links"
    if problem:
        os.close(fd)
        raise LocalError(
            f"the store file {path} {problem}; refusing it", code="store_failed"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.fchmod(fd, 0o600)
    return fd


def read_entry(profile: str) -> dict[str, Any] | None:
    """The stored document of ``profile``, None if absent; StoreDamaged if bad."""
    path = profile_path(profile)
    fd = _open_private(path)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(MAX_STORE_BYTES + 1)
    try:
        if len(raw) > MAX_STORE_BYTES:
            raise ValueError("too large")
        document = json.loads(raw.decode("utf-8"))
        if not isinstance(document, dict):
            raise ValueError("not an object")
        version = document.get("version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"schema version {version!r}")
        if not isinstance(document.get("tokens"), dict):
            raise ValueError("no tokens")
        if not isinstance(document.get("settings"), dict):
            raise ValueError("no settings")
    except ValueError as exc:
        raise StoreDamaged(
            f"the stored login of profile {profile!r} is damaged ({path}); "
            "run `oauthcli login` to replace it",
        ) from exc
    return document


def write_entry(profile: str, document: dict[str, Any]) -> Path:
    """Atomically replace the stored document of ``profile``."""
    path = profile_path(profile)
    _check_private_dir(path.parent.parent)
    _check_private_dir(path.parent)
    if path.is_symlink():
        raise LocalError(
            f"the store file {path} is a symlink; refusing to write through it",
            code="store_failed",
        )
    data = json.dumps({**document, "version": SCHEMA_VERSION}, indent=2).encode("utf-8")
    import tempfile  # not on the fast read path

    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be fsynced there
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def set_aside(profile: str) -> Path | None:
    """Move a damaged store file aside (kept for inspection); return its new path."""
    path = profile_path(profile)
    if not path.exists() or path.is_symlink():
        return None
    target = path.with_name(f"{path.name}.damaged-{int(time.time())}")
    os.replace(path, target)
    return target


def delete_entry(profile: str) -> bool:
    """Remove the stored login of ``profile``; False if there was none."""
    try:
        os.unlink(profile_path(profile))
    except FileNotFoundError:
        return False
    return True


_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()
LOCK_TIMEOUT = 60.0


@contextlib.contextmanager
def profile_lock(profile: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the profile's lock across threads and processes.

    The lock file sits next to the store file in the 0700 directory;
    ``filelock`` opens it with ``O_NOFOLLOW`` and never truncates it.
    """
    import filelock

    path = profile_path(profile)
    _check_private_dir(path.parent.parent)
    _check_private_dir(path.parent)
    with _THREAD_LOCKS_GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(profile, threading.Lock())
    if not thread_lock.acquire(timeout=timeout):
        raise LocalError(
            f"timed out waiting for another thread using profile {profile!r}",
            code="store_failed",
        )
    try:
        lock = filelock.FileLock(
            str(path.with_suffix(".lock")), timeout=timeout, mode=0o600
        )
        try:
            with lock:
                yield
        except filelock.Timeout as exc:
            raise LocalError(
                f"timed out after {timeout:g} s waiting for another oauthcli process "
                f"using profile {profile!r}",
                code="store_failed",
            ) from exc
    finally:
        thread_lock.release()


def list_profiles() -> list[str]:
    """The names of the stored profiles, sorted."""
    directory = home() / "profiles"
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(
        name.removesuffix(".json")
        for name in names
        if name.endswith(".json")
        and _PROFILE_NAME.fullmatch(name.removesuffix(".json"))
    )
