"""atomic_output: whole files or nothing, and write errors that name the target."""

from __future__ import annotations

import errno
import os

import pytest

from eifkit.atomic import atomic_output, write_file_atomically
from eifkit.errors import InputError
from eifkit.inspect.initramfs import Entry, write_archive


def test_a_written_file_gets_the_umask_permissions_and_no_temp_file_stays(tmp_path):
    old = os.umask(0o027)
    try:
        write_file_atomically(tmp_path / "a.txt", b"hello")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").read_bytes() == b"hello"
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_a_failed_write_names_the_target_and_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    target.write_bytes(b"old")

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError) as e:
        write_file_atomically(target, b"new" * 1000)
    assert (e.value.errno, e.value.filename) == (errno.ENOSPC, str(target))
    assert e.value.strerror == "cannot write: No space left on device"
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_a_failed_fsync_names_the_target_and_leaves_nothing(tmp_path, monkeypatch):
    def broken(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError) as e, atomic_output(tmp_path / "b.bin", fsync=True) as af:
        os.write(af.fd, b"data")
    assert (e.value.errno, e.value.filename) == (errno.EIO, str(tmp_path / "b.bin"))
    assert list(tmp_path.iterdir()) == []


def test_an_error_inside_the_block_removes_the_temp_file(tmp_path):
    with pytest.raises(ZeroDivisionError), atomic_output(tmp_path / "c.bin") as af:
        os.write(af.fd, b"partial")
        1 / 0  # noqa: B018
    assert list(tmp_path.iterdir()) == []


def test_bad_output_paths(tmp_path):
    with pytest.raises(InputError, match="output folder does not exist"):
        write_file_atomically(tmp_path / "missing" / "x", b"")
    with pytest.raises(InputError, match="output path is a directory"):
        write_file_atomically(tmp_path, b"")


def test_initramfs_on_a_full_disk_names_its_output(tmp_path, monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    out = tmp_path / "r.cpio.gz"
    payload = tmp_path / "init"
    payload.write_bytes(os.urandom(3 << 20))  # more than the 1 MiB write buffer
    entries = [Entry(name="init", mode=0o100755, size=3 << 20, source=str(payload))]
    with pytest.raises(OSError) as e:
        write_archive(entries, out)
    assert e.value.filename == str(out)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["init"]
