"""atomic_output: whole files or nothing, and write errors that name the target."""

from __future__ import annotations

import errno
import os
import signal

import pytest

from eifkit.atomic import atomic_output, write_file_atomically
from eifkit.errors import InputError
from eifkit.inspect.initramfs import Entry, write_archive
from eifkit.termination import Terminated, termination_raises


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


def test_replacing_a_file_keeps_its_mode(tmp_path):
    target = tmp_path / "private.eif"
    target.write_bytes(b"old")
    target.chmod(0o600)
    old = os.umask(0o022)
    try:
        write_file_atomically(target, b"new")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o7777 == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another owner needs root")
def test_replacing_a_file_keeps_its_owner_where_permitted(tmp_path):
    target = tmp_path / "theirs.eif"
    target.write_bytes(b"old")
    os.chown(target, 12345, 23456)
    target.chmod(0o640)
    write_file_atomically(target, b"new")
    st = target.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (12345, 23456, 0o640)


def test_a_symlink_as_output_has_its_target_replaced(tmp_path):
    real = tmp_path / "real.eif"
    real.write_bytes(b"old")
    link = tmp_path / "link.eif"
    link.symlink_to(real.name)
    write_file_atomically(link, b"new")
    assert link.is_symlink() and os.readlink(link) == "real.eif"
    assert real.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.eif", "real.eif"]


def _spellings(tmp_path):
    key = tmp_path / "key.pem"
    key.write_bytes(b"secret")
    (tmp_path / "hard.pem").hardlink_to(key)
    (tmp_path / "soft.pem").symlink_to(key)
    sub = tmp_path / "sub"
    sub.mkdir()
    return key, [
        str(key),
        str(tmp_path / "." / "key.pem"),
        str(sub / ".." / "key.pem"),
        str(tmp_path / "hard.pem"),
        str(tmp_path / "soft.pem"),
    ]


def test_an_output_that_is_an_input_is_refused_however_spelled(tmp_path):
    key, spellings = _spellings(tmp_path)
    for out in spellings:
        with pytest.raises(InputError, match="also an input"):
            write_file_atomically(out, b"EIF bytes", inputs=[None, str(key)])
        assert key.read_bytes() == b"secret", out
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["hard.pem", "key.pem", "soft.pem", "sub"]


def test_an_output_inside_an_input_folder_is_refused(tmp_path):
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tmp_path / "outside").symlink_to(tree / "etc")
    for out in [tree / "a", tree / "etc" / "b.cpio", tmp_path / "outside" / "c.cpio"]:
        with pytest.raises(InputError, match="inside the input folder"):
            write_file_atomically(out, b"cpio", inputs=[tree])
    assert sorted(p.name for p in tree.rglob("*")) == ["etc"]
    write_file_atomically(tmp_path / "tree.cpio", b"cpio", inputs=[tree])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_termination_signal_mid_write_leaves_no_temporary_file(tmp_path, signum):
    target = tmp_path / "out.eif"
    before = signal.getsignal(signum)
    with (
        pytest.raises(Terminated) as caught,
        termination_raises(),
        atomic_output(target) as af,
        af.open() as f,
    ):
        f.write(b"half")
        f.flush()
        assert len(list(tmp_path.iterdir())) == 1  # the hidden temporary file
        os.kill(os.getpid(), signum)
        f.write(b"never")
    assert caught.value.signum == signum and caught.value.exit_code == 128 + signum
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signum) is before
