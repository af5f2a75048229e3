"""extract --unpack on hostile archives: nothing outside the folder changes, ever.

Issue 11, item 1: in 0.1 a symlink `victimdir -> /outside` followed by a directory
entry `victimdir` (mode 0777, mtime 0) made the outside directory drwxrwxrwx with an
mtime of 1970 (the final chmod/utime pass followed the link).
"""

from __future__ import annotations

import os
import stat
import zlib
from pathlib import Path

import pytest

from eifkit.errors import FormatError, LimitError
from eifkit.inspect.initramfs import Entry, header_bytes
from eifkit.limits import ExpansionLimits
from eifkit.sources import FileSource
from eifkit.unpack import remove_tree, unpack_cpio


def member(name: str, mode: int, data: bytes = b"", mtime: int = 0) -> bytes:
    head = header_bytes(Entry(name, mode, len(data), mtime=mtime))
    return head + data + b"\0" * ((4 - len(data) % 4) % 4)


TRAILER = member("TRAILER!!!", 0)


def unpack(tmp_path: Path, archive: bytes, **kwargs) -> dict:
    path = tmp_path / "ramdisk.cpio"
    path.write_bytes(archive)
    return unpack_cpio(FileSource.open(path, "ramdisk"), str(tmp_path / "out"), **kwargs)


def snapshot(path: Path) -> tuple[int, int, int]:
    st = os.lstat(path)
    return st.st_mode, st.st_mtime_ns, st.st_size


@pytest.fixture
def outside(tmp_path):
    """A directory and a file outside the unpack folder, to be left untouched."""
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o750)
    (victim / "passwd").write_text("root:x:0:0\n")
    (victim / "passwd").chmod(0o644)
    return victim


def test_directory_entry_after_a_symlink_does_not_chmod_through_it(tmp_path, outside):
    before = snapshot(outside)
    archive = (
        member("victimdir", stat.S_IFLNK | 0o777, str(outside).encode())
        + member("victimdir", stat.S_IFDIR | 0o777, mtime=0)
        + TRAILER
    )
    unpack(tmp_path, archive)
    assert snapshot(outside) == before
    made = tmp_path / "out" / "victimdir"
    assert made.is_dir() and not made.is_symlink()
    assert stat.S_IMODE(made.stat().st_mode) == 0o777 and made.stat().st_mtime == 0


@pytest.mark.parametrize("data", [b"", b"overwritten\n"])
def test_file_entry_after_a_symlink_replaces_the_link_not_its_target(tmp_path, outside, data):
    target = outside / "passwd"
    before = snapshot(target), target.read_bytes()
    archive = (
        member("passwd", stat.S_IFLNK | 0o777, str(target).encode())
        + member("passwd", stat.S_IFREG | 0o777, data, mtime=0)
        + TRAILER
    )
    unpack(tmp_path, archive)
    assert (snapshot(target), target.read_bytes()) == before
    made = tmp_path / "out" / "passwd"
    assert not made.is_symlink() and made.read_bytes() == data
    assert stat.S_IMODE(made.stat().st_mode) == 0o777


def test_symlink_to_a_directory_then_a_file_through_it_is_refused(tmp_path, outside):
    archive = (
        member("etc", stat.S_IFLNK | 0o777, str(outside).encode())
        + member("etc/passwd", stat.S_IFREG | 0o644, b"x")
        + TRAILER
    )
    with pytest.raises(FormatError, match="through the symlink 'etc'"):
        unpack(tmp_path, archive)
    assert (outside / "passwd").read_text() == "root:x:0:0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ramdisk.cpio", "victim"]


def test_setuid_bits_are_dropped_and_devices_listed(tmp_path):
    archive = (
        member("su", stat.S_IFREG | 0o6755, b"#!/bin/sh\n")
        + member("dev", stat.S_IFDIR | 0o755)
        + member("dev/console", stat.S_IFCHR | 0o600)
        + TRAILER
    )
    result = unpack(tmp_path, archive)
    assert stat.S_IMODE((tmp_path / "out" / "su").stat().st_mode) == 0o755
    assert result["not_created"] == ["dev/console (char 0:0)"]
    assert not (tmp_path / "out" / "dev" / "console").exists()


@pytest.mark.parametrize(
    "archive, message",
    [
        (member("a\0b", stat.S_IFREG | 0o644, b"x"), "NUL byte in its name"),
        (member("l", stat.S_IFLNK | 0o777, b"/tmp\0x"), "NUL byte in its target"),
    ],
    ids=["name", "target"],
)
def test_nul_in_a_name_or_target_is_a_clean_error(tmp_path, archive, message):
    with pytest.raises(FormatError, match=message):
        unpack(tmp_path, archive + TRAILER)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ramdisk.cpio"]


def test_a_bomb_stops_at_the_limit_and_leaves_no_folder(tmp_path):
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    parts = [z.compress(header_bytes(Entry("big", stat.S_IFREG | 0o644, 256 << 20)))]
    parts += [z.compress(block) for _ in range(256)]
    archive = b"".join(parts) + z.flush()
    assert len(archive) < 1 << 20
    with pytest.raises(LimitError) as caught:
        unpack(tmp_path, archive, limits=ExpansionLimits(max_bytes=32 << 20, max_entries=10))
    assert caught.value.limit == "max_bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ramdisk.cpio"]


def test_long_symlink_targets_are_listed_not_created(tmp_path):
    archive = member("l", stat.S_IFLNK | 0o777, b"a" * 5000) + TRAILER
    result = unpack(tmp_path, archive)
    assert result["not_created"] == ["l (symlink target of 5000 bytes, over PATH_MAX)"]
    assert not os.path.lexists(tmp_path / "out" / "l")


def test_an_existing_folder_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(Exception, match="already exists"):
        unpack(tmp_path, member("a", stat.S_IFREG | 0o644, b"x") + TRAILER)


def test_a_long_hostile_name_is_cut_in_the_error_line(tmp_path):
    name = "/" + "x" * 4000  # absolute: refused, and named in the message
    with pytest.raises(FormatError) as caught:
        unpack(tmp_path, member(name, stat.S_IFREG | 0o644, b"x") + TRAILER)
    message = str(caught.value)
    assert len(message) < 300 and "(4001 characters)" in message


def test_memory_does_not_grow_with_directories_or_devices(tmp_path, monkeypatch):
    import eifkit.unpack as unpack_module

    monkeypatch.setattr(unpack_module, "MAX_DIRECTORY_FIXUPS", 3)
    monkeypatch.setattr(unpack_module, "MAX_NOTES", 2)
    dirs = b"".join(member(f"d{i}", stat.S_IFDIR | 0o750, mtime=1000 + i) for i in range(6))
    devices = b"".join(member(f"c{i}", stat.S_IFCHR | 0o600) for i in range(5))
    result = unpack(tmp_path, dirs + devices + TRAILER)
    out = tmp_path / "out"
    times = [int((out / f"d{i}").stat().st_mtime) for i in range(6)]
    assert times[:3] == [1000, 1001, 1002]  # restored at the end
    assert all(t > 1_000_000 for t in times[3:])  # past the cap: the time of unpacking
    assert all(stat.S_IMODE((out / f"d{i}").stat().st_mode) == 0o750 for i in range(6))
    assert result["not_created"] == [
        "c0 (char 0:0)",
        "c1 (char 0:0)",
        "3 more members, not listed",
        "the times of 3 directories (past the first 3; they keep the time of unpacking)",
    ]


def test_a_failed_unpack_removes_a_deep_and_wide_partial_tree(tmp_path):
    deep = "/".join(["d"] * 100)
    parts = [member(deep, stat.S_IFDIR | 0o755)]
    parts += [member(f"{deep}/f{i}", stat.S_IFREG | 0o444, b"x") for i in range(500)]
    parts.append(member("../escape", stat.S_IFREG | 0o644, b"x"))  # fails at the end
    with pytest.raises(FormatError, match="goes up"):
        unpack(tmp_path, b"".join(parts) + TRAILER)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ramdisk.cpio"]


@pytest.mark.parametrize(
    "links, expected",
    [
        ([("bin/sh", "/bin/busybox")], {"bin/sh": "busybox"}),
        ([("ln", "/abs/outside")], {"ln": "abs/outside"}),
        ([("ln", "../../../../../../../../")], {"ln": "."}),
        ([("a", "b"), ("b", "../..")], {"a": "b", "b": "."}),
        ([("s", "."), ("l", "s/../etc")], {"s": ".", "l": "etc"}),
        ([("usr/bin/x", "../lib/./y")], {"usr/bin/x": "../lib/y"}),
    ],
)
def test_no_symlink_leads_out_of_the_folder(tmp_path, links, expected):
    # 0.1 (and the first hardening) created targets as stored, so whatever later
    # followed them left the folder (the fuzz harness found it).
    archive = b"".join(member(n, stat.S_IFLNK | 0o777, t.encode()) for n, t in links)
    unpack(tmp_path, archive + TRAILER)
    out = (tmp_path / "out").resolve()
    for name, target in expected.items():
        link = out / name
        assert os.readlink(link) == target
        assert link.resolve().is_relative_to(out), (name, link.resolve())


def test_a_path_of_fifteen_hundred_components_is_unpacked_without_recursion(tmp_path):
    # 1,500 levels (0.1's os.makedirs recursed once a level, past Python's limit of 1,000)
    name = "/".join(["d"] * 1500) + "/f"
    result = unpack(tmp_path, member(name, stat.S_IFREG | 0o644, b"deep") + TRAILER)
    assert result["entries"] == 1
    leaf = tmp_path / "out"
    for _ in range(1500):
        leaf = leaf / "d"
    assert (leaf / "f").read_bytes() == b"deep"
    remove_tree(str(tmp_path / "out"))  # pytest's own clean-up recurses a level per folder
