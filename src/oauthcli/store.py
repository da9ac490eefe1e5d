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

import errno
import json
import os
import stat
import time

from .errors import LocalError

TYPE_CHECKING = False  # typing and pathlib cost milliseconds on the token path
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

__all__ = [
    "SCHEMA_VERSION",
    "StoreDamaged",
    "check_private_dir",
    "check_writable",
    "config_checked",
    "config_file",
    "default_profile",
    "delete_entry",
    "filesystem_type",
    "fresh_access_token",
    "home",
    "list_profiles",
    "network_filesystem",
    "private_lock",
    "profile_lock",
    "profile_path",
    "read_entry",
    "record_config_checked",
    "replace_private_file",
    "set_aside",
    "stored_time",
    "write_entry",
]

SCHEMA_VERSION = 1
MAX_STORE_BYTES = 1 << 20
_NAME_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"
)


class StoreDamaged(LocalError):
    """A store file exists but cannot be used (truncated, not JSON, wrong schema)."""

    code = "store_damaged"


DEFAULT_LIFETIME = 3600.0
# Seconds from the epoch to the end of year 9999: a stored time further away
# (either way), or NaN, is damage, not a time.
MAX_TIME = 253_402_300_799


def default_profile() -> str:
    """``OAUTHCLI_PROFILE``, else ``default``."""
    return os.environ.get("OAUTHCLI_PROFILE") or "default"


def stored_time(value: object, name: str) -> float | None:
    """A stored time in seconds, None if absent.

    Raises ValueError for anything no clock could have written: not a
    number, NaN, infinite, or beyond ``MAX_TIME`` (where float() overflows).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} is not a number")
    if not abs(value) <= MAX_TIME:  # NaN fails this too
        raise ValueError(f"{name} is not a time")
    return float(value)


def fresh_access_token(
    entry: dict[str, Any] | None, min_ttl: float, now: float | None = None
) -> str | None:
    """The stored access token if it is good for more than ``min_ttl`` seconds.

    A ``min_ttl`` no token can satisfy (as long as the token's whole
    lifetime, or longer) counts as half the lifetime: a provider whose tokens
    live 5 minutes would otherwise see a refresh on every call with
    ``min_ttl`` 300. Without ``expires_in`` a refreshable token counts as
    valid for ``DEFAULT_LIFETIME``; one that cannot be refreshed (GitHub OAuth
    apps) is used until the resource server refuses it.
    """
    tokens = (entry or {}).get("tokens") or {}
    access_token = tokens.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        return None
    now = time.time() if now is None else now
    try:
        expires_at = stored_time(tokens.get("expires_at"), "expires_at")
        obtained_at = stored_time(tokens.get("obtained_at"), "obtained_at")
    except ValueError:
        return None  # damaged: the full path says what to do
    if expires_at is None:
        refreshable = bool(tokens.get("refresh_token")) or (
            tokens.get("refresh_token_store") == "keyring"
        )
        if not refreshable or obtained_at is None:
            return access_token
        expires_at = obtained_at + DEFAULT_LIFETIME
    if obtained_at is not None and min_ttl >= expires_at - obtained_at > 0:
        min_ttl = (expires_at - obtained_at) / 2
    return access_token if expires_at - now > min_ttl else None


def _home() -> str:
    override = os.environ.get("OAUTHCLI_HOME")
    if override:
        return os.path.expanduser(override)
    import platformdirs

    return str(platformdirs.user_data_path("oauthcli", appauthor=False))


def config_file() -> str:
    """config.toml: in ``OAUTHCLI_HOME`` when set, else the user config dir."""
    override = os.environ.get("OAUTHCLI_HOME")
    if override:
        return os.path.join(os.path.expanduser(override), "config.toml")
    import platformdirs

    directory = platformdirs.user_config_path("oauthcli", appauthor=False)
    return str(directory / "config.toml")


def _config_stamp_file() -> str:
    return os.path.join(_home(), "config-checked")


def _config_stamp(info: os.stat_result) -> bytes:
    return (
        f"{info.st_dev} {info.st_ino} {info.st_size} {info.st_mtime_ns} "
        f"{info.st_ctime_ns}\n"
    ).encode()


def config_checked(info: os.stat_result) -> dict[str, Any] | None:
    """What the full path read from config.toml, if ``info`` is still that file.

    The full path records every config.toml it read without a problem
    (``record_config_checked``) together with what ``oauthcli token``'s fast
    path needs of it: ``default_profile``, and each profile's ``min_ttl``,
    ``issuer`` and ``client_id``.
    The fast path never parses TOML itself, so it cannot read the file
    differently; it runs only while the file is still the one recorded. An
    edit changes the size or the times, so the next run checks it again.
    None when the file is not the recorded one or the record is unreadable.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(_config_stamp_file(), flags)
    except OSError:
        return None
    try:
        info_of_record = os.fstat(fd)
        if (
            not stat.S_ISREG(info_of_record.st_mode)
            or (hasattr(os, "getuid") and info_of_record.st_uid != os.getuid())
            or info_of_record.st_nlink > 1
            or stat.S_IMODE(info_of_record.st_mode) & 0o022
        ):
            return None  # not a record this user wrote: the full path decides
        stamp, _, summary = os.read(fd, 1 << 16).partition(b"\n")
        if stamp + b"\n" != _config_stamp(info):
            return None
        read = json.loads(summary)
    except (OSError, ValueError, RecursionError):
        return None
    finally:
        os.close(fd)
    return read if isinstance(read, dict) else None


def record_config_checked(info: os.stat_result, summary: dict[str, Any]) -> None:
    """Note that config.toml, as ``info`` describes it, passed every check,
    with the ``summary`` of it that the fast path uses (JSON).

    Written only into an existing store directory (0600, atomically); a
    failure costs only the fast path, so it is ignored.
    """
    if config_checked(info) == summary:
        return
    path = _config_stamp_file()
    try:
        if not os.path.isdir(_home()) or os.path.islink(path):
            return
        check_private_dir(_home())
        replace_private_file(
            path, _config_stamp(info) + json.dumps(summary).encode() + b"\n"
        )
    except (OSError, LocalError):
        return


def home() -> Path:
    """Where oauthcli keeps its files."""
    from pathlib import Path

    return Path(_home())


def _valid_name(profile: str) -> bool:
    return (
        isinstance(profile, str)
        and 0 < len(profile) <= 64
        and profile[0] not in ".-"
        and all(ch in _NAME_CHARS for ch in profile)
    )


def _profile_file(profile: str) -> str:
    if not _valid_name(profile):
        raise LocalError(
            f"invalid profile name {profile!r}: use letters, digits, '.', '_' or '-'",
            code="invalid_argument",
        )
    return os.path.join(_home(), "profiles", f"{profile}.json")


def profile_path(profile: str) -> Path:
    """The store file of ``profile`` (which need not exist)."""
    from pathlib import Path

    return Path(_profile_file(profile))


def _make_dirs(path: str) -> None:
    """Like ``os.makedirs``, but every directory it creates is 0700.

    ``os.makedirs`` applies its mode to the last directory only; under
    ``umask 000`` the parents it creates would be world-writable.
    """
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)  # the umask can only narrow 0700
        except FileExistsError:
            if not os.path.isdir(directory):
                raise


def check_private_dir(path: str, what: str = "store directory") -> None:
    """Create ``path`` 0700 if needed; refuse a symlink or another owner's dir."""
    try:
        _make_dirs(path)
        info = os.lstat(path)
    except OSError as exc:
        raise LocalError(
            f"cannot create the {what} {path}: {exc.strerror}", code="store_failed"
        ) from exc
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise LocalError(
            f"the {what} {path} is a symlink or not a directory; refusing it",
            code="store_failed",
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise LocalError(
            f"the {what} {path} belongs to another user; refusing it",
            code="store_failed",
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)


def check_writable(profile: str) -> None:
    """Fail now, not after a login, if ``profile`` cannot be stored.

    A store on a network filesystem is allowed, with a warning (ST-28).
    """
    path = _profile_file(profile)
    check_private_dir(os.path.dirname(os.path.dirname(path)))
    check_private_dir(os.path.dirname(path))
    network = network_filesystem(os.path.dirname(path))
    if network is not None:
        import sys

        print(
            f"oauthcli: warning: {os.path.dirname(path)} is on a network "
            f"filesystem ({network}), where file locks may not hold between "
            "machines: two machines that refresh this profile at once can end "
            "its login. Each write still replaces the file whole. To avoid "
            "it, set OAUTHCLI_HOME to a local directory.",
            file=sys.stderr,
        )
    lock = path.removesuffix(".json") + ".lock"
    for candidate, what in ((path, "store file"), (lock, "lock file")):
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            continue
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_nlink > 1
            or (hasattr(os, "getuid") and info.st_uid != os.getuid())
        ):
            raise LocalError(
                f"the {what} {candidate} is a symlink, a hard link, not a regular "
                "file or not yours; remove it and try again",
                code="store_failed",
            )


# Filesystems whose file locks may not hold between machines (ST-28): two
# machines sharing the home directory could refresh at once with the same
# refresh token, and a provider that rotates refresh tokens then revokes the
# login. The rename that replaces a store file stays atomic on all of them.
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "afs",
        "ceph",
        "lustre",
        "gpfs",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.s3fs",
        "fuse.rclone",
    }
)
MOUNTINFO = "/proc/self/mountinfo"


def network_filesystem(path: str) -> str | None:
    """The type of the network filesystem that holds ``path``, or None.

    Read from ``/proc/self/mountinfo`` (Linux); None where there is none.
    """
    try:
        with open(MOUNTINFO, encoding="utf-8", errors="surrogateescape") as info:
            mountinfo = info.read()
    except OSError:
        return None
    kind = filesystem_type(os.path.realpath(path), mountinfo)
    return kind if kind in NETWORK_FILESYSTEMS else None


def filesystem_type(path: str, mountinfo: str) -> str | None:
    """The filesystem type of the mount that holds ``path`` (absolute, resolved).

    ``mountinfo`` is the text of ``/proc/self/mountinfo`` (proc(5)): the
    mount point is the fifth field, octal-escaped, and the type follows the
    ``-`` that ends the optional fields. The longest mount point that
    contains ``path`` wins; of equal ones the last, mounted over the others.
    """
    found: tuple[int, str] | None = None
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) < 8 or "-" not in fields[6:]:
            continue
        separator = fields.index("-", 6)
        if separator + 1 >= len(fields) or not fields[separator + 1]:
            continue
        mount_point = _unescape_octal(fields[4])
        inside = mount_point == "/" or path == mount_point
        inside = inside or path.startswith(mount_point.rstrip("/") + "/")
        if inside and (found is None or len(mount_point) >= found[0]):
            found = (len(mount_point), fields[separator + 1])
    return found[1] if found else None


def _unescape_octal(text: str) -> str:
    """``\\040`` -> space: how mountinfo writes space, tab, newline and ``\\``."""
    if "\\" not in text:
        return text
    import re

    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match[1], 8)), text)


def _open_private(path: str) -> int | None:
    """Open an existing store file for reading, or None if there is none."""
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_NONBLOCK", 0)  # a FIFO planted here must not hang us
    )
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
        import sys

        print(
            f"oauthcli: warning: {path} was readable by others; made it private "
            "(mode 0600). Tokens in it may have been read.",
            file=sys.stderr,
        )
    return fd


def read_entry(profile: str) -> dict[str, Any] | None:
    """The stored document of ``profile``, None if absent; StoreDamaged if bad."""
    path = _profile_file(profile)
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
    except (ValueError, RecursionError) as exc:
        from ._hints import login_again

        raise StoreDamaged(
            f"the stored login of profile {profile!r} is damaged ({path}); "
            f"{login_again(profile)} to replace it",
        ) from exc
    return document


def write_entry(profile: str, document: dict[str, Any]) -> Path:
    """Atomically replace the stored document of ``profile``."""
    from pathlib import Path

    path = _profile_file(profile)
    directory = os.path.dirname(path)
    check_private_dir(os.path.dirname(directory))
    check_private_dir(directory)
    if os.path.islink(path):
        raise LocalError(
            f"the store file {path} is a symlink; refusing to write through it",
            code="store_failed",
        )
    data = json.dumps({**document, "version": SCHEMA_VERSION}, indent=2).encode("utf-8")
    replace_private_file(path, data)
    return Path(path)


def replace_private_file(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step, the new file 0600.

    ``data`` goes to a temporary file in the same directory (created 0600 by
    ``mkstemp``), is fsynced and ``os.replace``d over ``path``; then the
    directory is fsynced and old temporary files of killed writers removed.
    The caller checks the directory and refuses symlinks first.
    """
    import tempfile  # not on the fast read path

    directory = os.path.dirname(path)
    suffix = os.path.splitext(path)[1]
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(directory)
    _remove_orphans(directory)


ORPHAN_AGE = 600.0


def _remove_orphans(directory: str) -> None:
    """Delete temporary files left by writers that were killed mid-write.

    Only old ones: a young one may belong to a writer still at work.
    """
    now = time.time()
    for name in os.listdir(directory):
        if not name.startswith(".tmp-"):
            continue
        path = os.path.join(directory, name)
        try:
            if now - os.lstat(path).st_mtime > ORPHAN_AGE:
                os.unlink(path)
        except OSError:
            continue


def _fsync_dir(path: str) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be fsynced there
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def set_aside(profile: str) -> Path | None:
    """Move a damaged store file aside (kept for inspection); return its new path.

    The file becomes ``NAME.damaged-SECONDS``, or ``...-SECONDS-N`` when that
    name is taken: a file set aside earlier (it may hold the only copy of a
    refresh token) is never replaced. The mode stays what the store gave it.
    """
    from pathlib import Path

    path = _profile_file(profile)
    if not os.path.exists(path) or os.path.islink(path):
        return None
    target = _reserve_name(f"{path}.damaged-{int(time.time())}")
    try:
        os.replace(path, target)
    except OSError:
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(target)  # the empty placeholder
        raise
    return Path(target)


def _reserve_name(stem: str) -> str:
    """A new name from ``stem`` on, taken by an empty 0600 file of our own.

    ``O_EXCL`` creates it only if nothing (not even a symlink) has that name,
    so the ``os.replace`` onto it overwrites nothing but this placeholder,
    also when another process sets a file aside in the same second.
    """
    number = 0
    while True:
        name = f"{stem}-{number}" if number else stem
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            number += 1
            continue
        os.close(fd)
        return name


def delete_entry(profile: str) -> bool:
    """Remove the stored login of ``profile``; False if there was none."""
    try:
        os.unlink(_profile_file(profile))
    except FileNotFoundError:
        return False
    return True


LOCK_TIMEOUT = 120.0  # longer than one refresh can take, retries included
_THREAD_LOCKS: dict[str, Any] = {}


class private_lock:  # used like a function: ``with private_lock(...):``
    """Hold a lock across threads and processes.

    The lock file sits in a 0700 directory of oauthcli's; ``filelock`` opens
    it with ``O_NOFOLLOW`` and never truncates it. Threads of one process
    also queue on an in-process lock first. ``what`` names the thing locked
    in messages ("profile 'work'", "the config file").
    """

    def __init__(
        self, lock_path: str, what: str, timeout: float = LOCK_TIMEOUT
    ) -> None:
        self.lock_path = lock_path
        self.what = what
        self.timeout = timeout
        self._file_lock: Any = None
        self._thread_lock: Any = None

    def _check_dirs(self) -> None:
        check_private_dir(os.path.dirname(self.lock_path))

    def __enter__(self) -> None:
        import threading

        import filelock

        self._check_dirs()
        # dict.setdefault is atomic: racing threads all get the same lock.
        thread_lock = _THREAD_LOCKS.setdefault(self.lock_path, threading.Lock())
        if not thread_lock.acquire(timeout=self.timeout):
            raise LocalError(
                f"timed out waiting for another thread using {self.what}",
                code="store_failed",
            )
        self._thread_lock = thread_lock
        lock = filelock.FileLock(self.lock_path, timeout=self.timeout, mode=0o600)
        try:
            lock.acquire()
        except filelock.Timeout as exc:
            thread_lock.release()
            raise LocalError(
                f"timed out after {self.timeout:g} s waiting for another oauthcli "
                f"process using {self.what}",
                code="store_failed",
            ) from exc
        except OSError as exc:  # e.g. a symlink planted at the lock path
            thread_lock.release()
            raise LocalError(
                f"cannot lock {self.what} ({exc.strerror}); refusing to touch it",
                code="store_failed",
            ) from exc
        except BaseException:
            thread_lock.release()
            raise
        self._file_lock = lock

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._file_lock.release()
        finally:
            self._thread_lock.release()


class profile_lock(private_lock):  # used like a function: ``with profile_lock(p):``
    """Hold the profile's lock; its file sits next to the store file."""

    def __init__(self, profile: str, timeout: float = LOCK_TIMEOUT) -> None:
        path = _profile_file(profile)
        super().__init__(
            path.removesuffix(".json") + ".lock", f"profile {profile!r}", timeout
        )

    def _check_dirs(self) -> None:
        directory = os.path.dirname(self.lock_path)
        check_private_dir(os.path.dirname(directory))
        check_private_dir(directory)


def list_profiles() -> list[str]:
    """The names of the stored profiles, sorted."""
    directory = os.path.join(_home(), "profiles")
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise LocalError(
            f"cannot list the profiles in {directory}: {exc.strerror}",
            code="store_failed",
        ) from exc
    return sorted(
        name.removesuffix(".json")
        for name in names
        if name.endswith(".json") and _valid_name(name.removesuffix(".json"))
    )
