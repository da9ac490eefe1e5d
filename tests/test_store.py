"""The file store: private, atomic, and refusing what it should not follow."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from oauthcli.errors import LocalError
from oauthcli.store import (
    StoreDamaged,
    check_writable,
    delete_entry,
    filesystem_type,
    profile_path,
    read_entry,
    set_aside,
    write_entry,
)

DOCUMENT = {
    "settings": {"issuer": "https://idp.test"},
    "tokens": {"access_token": "at"},
}


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OAUTHCLI_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.usefixtures("open_umask")
def test_st_01_files_are_0600_and_directories_0700_even_under_umask_000(
    home: Path,
) -> None:
    path = write_entry("default", dict(DOCUMENT))
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(home) == 0o700


def test_a_written_entry_reads_back_with_its_schema_version() -> None:
    write_entry("work", dict(DOCUMENT))
    entry = read_entry("work")
    assert entry is not None
    assert entry["version"] == 1
    assert entry["tokens"] == {"access_token": "at"}


def test_a_missing_profile_reads_as_none() -> None:
    assert read_entry("nobody") is None


def test_rewriting_leaves_no_temporary_files() -> None:
    for number in range(5):
        write_entry("default", {**DOCUMENT, "n": number})
    files = sorted(p.name for p in profile_path("default").parent.iterdir())
    assert files == ["default.json"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b'{"version": 1, "tok',
        b"\x00\xff garbage",
        b"[]",
        b'{"version": 99}',
        json.dumps({**DOCUMENT, "version": 1}).encode() + b"}garbage",
    ],
)
def test_st_09_c12_a_damaged_file_is_reported_not_crashed_on(content: bytes) -> None:
    path = write_entry("default", dict(DOCUMENT))
    path.write_bytes(content)
    with pytest.raises(StoreDamaged) as caught:
        read_entry("default")
    assert caught.value.code == "store_damaged"
    assert "garbage" not in caught.value.message  # contents are never echoed


def test_c12_a_damaged_file_is_set_aside_and_kept_private() -> None:
    path = write_entry("default", dict(DOCUMENT))
    path.write_bytes(b"}garbage")
    aside = set_aside("default")
    assert aside is not None
    assert aside.read_bytes() == b"}garbage"
    assert mode(aside) == 0o600
    assert read_entry("default") is None


def test_c12_damaged_files_set_aside_in_the_same_second_are_all_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every name was NAME.damaged-SECONDS: the second file replaced the first.
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    contents = [b"}garbage", b'{"version": 1, "tok', b"\x00\xff", b"[]"]
    aside = []
    for content in contents:
        path = write_entry("default", dict(DOCUMENT))
        path.write_bytes(content)
        moved = set_aside("default")
        assert moved is not None
        aside.append(moved)

    assert len(set(aside)) == len(contents)
    assert [moved.read_bytes() for moved in aside] == contents
    assert all(mode(moved) == 0o600 for moved in aside)
    kept = sorted(path.parent.glob("default.json.damaged-*"))
    assert kept == sorted(aside)
    assert not path.exists()


def test_c12_a_name_already_taken_by_a_symlink_is_skipped_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    path = write_entry("default", dict(DOCUMENT))
    trap = path.parent / "default.json.damaged-1800000000"
    trap.symlink_to(victim)
    path.write_bytes(b"}garbage")

    moved = set_aside("default")

    assert moved is not None
    assert moved != trap
    assert moved.read_bytes() == b"}garbage"
    assert trap.is_symlink()
    assert victim.read_text() == "precious"


def test_st_18_a_symlinked_store_file_is_refused_and_its_target_untouched(
    tmp_path: Path,
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    path = profile_path("default")
    path.parent.mkdir(parents=True, mode=0o700)
    path.symlink_to(victim)
    with pytest.raises(LocalError):
        read_entry("default")
    with pytest.raises(LocalError):
        write_entry("default", dict(DOCUMENT))
    assert victim.read_text() == "precious"


def test_st_19_a_symlinked_store_directory_is_refused(
    home: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    home.mkdir(mode=0o700)
    (home / "profiles").symlink_to(elsewhere)
    with pytest.raises(LocalError):
        write_entry("default", dict(DOCUMENT))
    assert list(elsewhere.iterdir()) == []


def test_st_22_a_store_file_with_another_hard_link_is_refused(tmp_path: Path) -> None:
    path = write_entry("default", dict(DOCUMENT))
    os.link(path, tmp_path / "second-link")
    with pytest.raises(LocalError):
        read_entry("default")


def test_st_03_a_world_readable_store_file_is_tightened_on_read() -> None:
    path = write_entry("default", dict(DOCUMENT))
    os.chmod(path, 0o644)
    assert read_entry("default") is not None
    assert mode(path) == 0o600


@pytest.mark.parametrize("name", ["../evil", "", ".hidden", "a/b", "x" * 65])
def test_profile_names_that_could_escape_the_directory_are_refused(name: str) -> None:
    with pytest.raises(LocalError):
        profile_path(name)


def test_delete_removes_only_that_profile() -> None:
    write_entry("a", dict(DOCUMENT))
    write_entry("b", dict(DOCUMENT))
    assert delete_entry("a") is True
    assert delete_entry("a") is False
    assert read_entry("b") is not None


def test_st_12_a_fifo_at_the_store_path_does_not_hang_a_reader() -> None:
    path = profile_path("default")
    path.parent.mkdir(parents=True, mode=0o700)
    os.mkfifo(path, 0o600)
    with pytest.raises(LocalError) as caught:
        read_entry("default")
    assert "not a regular file" in caught.value.message


def test_deeply_nested_json_in_the_store_is_damage_not_a_crash() -> None:
    path = write_entry("default", dict(DOCUMENT))
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(StoreDamaged):
        read_entry("default")


@pytest.mark.usefixtures("open_umask")
def test_st_19_every_directory_created_is_0700_under_umask_000(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = home / "a" / "b"
    monkeypatch.setenv("OAUTHCLI_HOME", str(deep))
    write_entry("default", dict(DOCUMENT))
    for directory in (home, home / "a", deep, deep / "profiles"):
        assert mode(directory) == 0o700, directory


def test_st_07_old_orphaned_temp_files_are_cleaned_on_the_next_write() -> None:
    path = write_entry("default", dict(DOCUMENT))
    old = path.parent / ".tmp-killed.json"
    young = path.parent / ".tmp-working.json"
    for orphan in (old, young):
        orphan.write_text("{")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    write_entry("default", dict(DOCUMENT))
    assert not old.exists()
    assert young.exists()


def test_st_21_a_symlink_planted_at_the_lock_path_is_refused(tmp_path: Path) -> None:
    from oauthcli.store import profile_lock

    victim = tmp_path / "victim"
    victim.write_text("precious")
    path = write_entry("default", dict(DOCUMENT))
    path.with_suffix(".lock").symlink_to(victim)
    with pytest.raises(LocalError) as caught, profile_lock("default", timeout=2):
        pass
    assert "cannot lock" in caught.value.message
    assert victim.read_text() == "precious"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root"
)
def test_st_04_a_store_file_owned_by_another_user_is_refused() -> None:
    path = write_entry("default", dict(DOCUMENT))
    os.chown(path, 65534, 65534)
    with pytest.raises(LocalError) as caught:
        read_entry("default")
    assert "belongs to another user" in caught.value.message


@pytest.mark.parametrize(
    ("tokens", "min_ttl", "fresh"),
    [
        ({"access_token": "a", "expires_at": 2000.0, "obtained_at": 0.0}, 60, True),
        ({"access_token": "a", "expires_at": 1030.0, "obtained_at": 0.0}, 60, False),
        # a min_ttl shorter than the lifetime is honoured exactly
        (
            {"access_token": "a", "expires_at": 4000.0, "obtained_at": 400.0},
            3500,
            False,
        ),
        # a 20 s token: min_ttl is capped at half its lifetime (10 s)
        ({"access_token": "a", "expires_at": 1020.0, "obtained_at": 1000.0}, 300, True),
        ({"access_token": "a", "expires_at": 1005.0, "obtained_at": 985.0}, 300, False),
        # unknown expiry and refreshable: an hour after it was obtained
        (
            {"access_token": "a", "refresh_token": "r", "obtained_at": -3000.0},
            60,
            False,
        ),
        ({"access_token": "a", "refresh_token": "r", "obtained_at": 900.0}, 60, True),
        # unknown expiry and not refreshable (GitHub OAuth apps): used as is
        ({"access_token": "a", "obtained_at": 0.0}, 60, True),
        ({"access_token": "", "expires_at": 5000.0}, 60, False),
    ],
)
def test_freshness_of_a_stored_token(
    tokens: dict[str, object], min_ttl: float, fresh: bool
) -> None:
    from oauthcli.store import fresh_access_token

    entry = {"settings": {}, "tokens": tokens}
    assert (fresh_access_token(entry, min_ttl, now=1000.0) is not None) is fresh


@pytest.mark.parametrize(
    "junk",
    [
        pytest.param(10**400, id="10**400"),
        pytest.param(-(10**400), id="-10**400"),
        float("inf"),
        float("nan"),
        "4500",
        True,
    ],
)
@pytest.mark.parametrize("key", ["expires_at", "obtained_at"])
def test_a_stored_time_no_clock_could_write_leaves_the_token_to_the_full_path(
    key: str, junk: object
) -> None:
    # 10**400 made float() raise OverflowError; infinity was fresh forever;
    # a string counted as an unknown lifetime, which the full path refuses.
    from oauthcli.store import fresh_access_token

    tokens = {"access_token": "a", "expires_at": 5000.0, "obtained_at": 900.0}
    entry = {"settings": {}, "tokens": tokens}
    assert fresh_access_token(entry, 60, now=1000.0) == "a"

    entry["tokens"] = {**tokens, key: junk}
    assert fresh_access_token(entry, 60, now=1000.0) is None


def test_stored_times_end_with_the_last_second_of_year_9999() -> None:
    from oauthcli.store import stored_time

    assert stored_time(253_402_300_799, "expires_at") == 253_402_300_799.0
    with pytest.raises(ValueError, match=r"^expires_at is not a time$"):
        stored_time(253_402_300_800, "expires_at")


def test_st_03_tightening_a_readable_store_file_warns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_entry("default", dict(DOCUMENT))
    os.chmod(path, 0o644)
    read_entry("default")
    assert "was readable by others" in capsys.readouterr().err


def test_a_profiles_path_that_is_a_file_is_a_clear_error(home: Path) -> None:
    from oauthcli.store import list_profiles

    home.mkdir(mode=0o700)
    (home / "profiles").write_text("")
    with pytest.raises(LocalError) as caught:
        list_profiles()
    assert "cannot list the profiles" in caught.value.message


def test_a_planted_store_file_is_refused_before_a_login_starts(tmp_path: Path) -> None:
    from oauthcli.store import check_writable

    victim = tmp_path / "victim"
    victim.write_text("x")
    path = profile_path("default")
    path.parent.mkdir(parents=True, mode=0o700)
    path.symlink_to(victim)
    with pytest.raises(LocalError) as caught:
        check_writable("default")
    assert "symlink" in caught.value.message


# ST-28: a store on a network filesystem, told from /proc/self/mountinfo.
MOUNTINFO = """\
22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
30 22 0:45 / /home rw,relatime shared:12 - nfs4 server:/export/home rw,vers=4.2
31 30 252:2 / /home/alice/local rw,relatime shared:13 - ext4 /dev/vdb1 rw
32 22 0:46 / /mnt/team\\040share rw,relatime - cifs //nas/team rw
33 22 0:47 / /srv rw,relatime master:4 propagate_from:2 - fuse.sshfs alice@box: rw
34 22 0:48 / /srv rw,relatime - tmpfs tmpfs rw
35 22 0:49 / /homework rw - xfs /dev/vdc1 rw
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/home/alice/.local/share/oauthcli/profiles", "nfs4"),
        ("/home", "nfs4"),
        ("/home/alice/local/oauthcli", "ext4"),  # a local disk mounted inside
        ("/homework/oauthcli", "xfs"),  # /home is no prefix of /homework
        ("/mnt/team share/oauthcli", "cifs"),  # \040 is a space
        ("/srv/oauthcli", "tmpfs"),  # mounted over the sshfs: the last one wins
        ("/var/lib/oauthcli", "ext4"),
    ],
)
def test_st_28_the_filesystem_of_a_path_is_read_from_mountinfo(
    path: str, expected: str
) -> None:
    assert filesystem_type(path, MOUNTINFO) == expected


def test_st_28_lines_that_are_not_mountinfo_are_skipped() -> None:
    assert filesystem_type("/x", "") is None
    assert filesystem_type("/x", "garbage\n1 2 3\n22 1 252:1 / / rw - \n") is None


def test_st_28_a_login_warns_when_the_store_is_on_a_network_filesystem(
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from oauthcli import store

    fake = tmp_path / "mountinfo"
    real_home = os.path.realpath(tmp_path)
    fake.write_text(
        "22 1 252:1 / / rw - ext4 /dev/vda1 rw\n"
        f"40 22 0:50 / {real_home} rw - nfs4 server:/export rw\n"
    )
    monkeypatch.setattr(store, "MOUNTINFO", str(fake))

    check_writable("default")

    warning = capsys.readouterr().err
    assert "is on a network filesystem (nfs4)" in warning
    assert "OAUTHCLI_HOME" in warning
    write_entry("default", DOCUMENT)  # allowed all the same
    assert read_entry("default") == {**DOCUMENT, "version": 1}


def test_st_28_a_store_on_a_local_disk_gets_no_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    check_writable("default")  # tmp_path is on a local filesystem here
    assert capsys.readouterr().err == ""
