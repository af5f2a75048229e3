"""OutputFile: runs staged for O_DIRECT, page-cache edges, and the fallbacks.

Each test checks the file's bytes against a model (a bytearray) and the number of
bytes that went direct against an independent count: for a run [s, e) exactly the
whole aligned blocks inside it, ``align_down(e) - align_up(s)``.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eifkit import read, write
from eifkit.cli import main
from eifkit.outfile import ALIGN, OutputFile, file_system_type
from eifkit.sources import BytesSource
from tests import naive
from tests.conftest import ROOT


def direct_io_refusal(folder: Path) -> str | None:
    """Why ``folder``'s file system will not take O_DIRECT writes (None if it will)."""
    probe = folder / ".direct-probe"
    probe.write_bytes(b"")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_DIRECT)
    except (OSError, AttributeError) as e:
        return str(e)
    try:
        os.pwrite(fd, mmap.mmap(-1, ALIGN), 0)
    except OSError as e:
        return str(e)
    finally:
        os.close(fd)
        probe.unlink()
    return None


def whole_blocks(start: int, end: int) -> int:
    a = -(-start // ALIGN) * ALIGN
    b = end // ALIGN * ALIGN
    return max(0, b - a)


def write_runs(path: Path, runs, *, buffer_size: int, direct: bool = True, slow_wait=0.25):
    """Write ``runs`` ((offset, bytes, as_run) in order) with an OutputFile; return it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    with ThreadPoolExecutor(1) as pool:
        out = OutputFile(
            str(path), fd, buffer_size=buffer_size, pool=pool, direct=direct, slow_wait=slow_wait
        )
        try:
            for offset, data, as_run in runs:
                if not as_run:
                    out.write_at(offset, data)
                    continue
                out.start_run(offset)
                for chunk in BytesSource(data).read_into(out.space):
                    out.commit(len(chunk))
                out.end_run()
        finally:
            out.close()
            os.close(fd)
    return out


@st.composite
def run_plans(draw):
    """Non-overlapping pieces of a file, written in a random order."""
    pieces, pos = [], 0
    for _ in range(draw(st.integers(1, 6))):
        pos += draw(st.integers(0, 3 * ALIGN))
        size = draw(st.integers(0, 9 * ALIGN))
        data = draw(st.binary(min_size=min(size, 64), max_size=min(size, 64)))
        data = (data * (size // max(1, len(data)) + 1))[:size] if data else bytes(size)
        pieces.append((pos, data, draw(st.booleans())))
        pos += size
    order = draw(st.permutations(range(len(pieces))))
    buffer_size = draw(st.sampled_from([1, ALIGN, ALIGN + 1, 2 * ALIGN, 3 * ALIGN]))
    return [pieces[i] for i in order], buffer_size


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=run_plans())
def test_any_runs_give_the_modelled_bytes_and_exact_direct_counts(plan, tmp_path):
    runs, buffer_size = plan
    path = tmp_path / "out.bin"
    out = write_runs(path, runs, buffer_size=buffer_size)
    end = max((off + len(data) for off, data, _ in runs if data), default=0)
    model = bytearray(end)
    for off, data, _ in runs:
        model[off : off + len(data)] = data
    assert path.read_bytes() == bytes(model)
    total = sum(len(d) for _, d, _ in runs)
    assert out.stats.direct_bytes + out.stats.buffered_bytes == total
    if out.stats.direct_off_reason is None:
        expected = sum(whole_blocks(off, off + len(d)) for off, d, as_run in runs if as_run)
        assert out.stats.direct_bytes == expected


def test_direct_io_is_really_used_here(tmp_path):
    """On a file system that takes O_DIRECT (ext4 on the CI machine), it is used."""
    refusal = direct_io_refusal(tmp_path)
    if refusal is not None:
        pytest.skip(f"{tmp_path}: O_DIRECT refused ({refusal})")
    data = os.urandom(5 * ALIGN + 123)
    out = write_runs(tmp_path / "o", [(100, data, True)], buffer_size=2 * ALIGN)
    assert out.stats.direct_off_reason is None
    assert out.stats.direct_bytes == whole_blocks(100, 100 + len(data)) == 4 * ALIGN
    assert (tmp_path / "o").read_bytes() == bytes(100) + data


def test_direct_false_writes_everything_through_the_page_cache(tmp_path):
    data = os.urandom(6 * ALIGN)
    out = write_runs(tmp_path / "o", [(0, data, True)], buffer_size=ALIGN, direct=False)
    assert out.stats.direct_bytes == 0
    assert out.stats.buffered_bytes == len(data)
    assert out.stats.direct_off_reason == "not asked for"
    assert (tmp_path / "o").read_bytes() == data


def _patch_direct_pwrite(monkeypatch, behaviour):
    """Route pwrite calls on O_DIRECT descriptors through ``behaviour``."""
    real = os.pwrite
    seen: list[int] = []

    def pwrite(fd, data, offset):
        if fcntl_direct(fd):
            seen.append(len(data))
            return behaviour(real, fd, data, offset)
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    return seen


def fcntl_direct(fd: int) -> bool:
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)


def test_a_refused_direct_write_falls_back_to_the_page_cache(tmp_path, monkeypatch):
    def refuse(real, fd, data, offset):
        raise OSError(errno.EINVAL, "Invalid argument")

    seen = _patch_direct_pwrite(monkeypatch, refuse)
    data = os.urandom(8 * ALIGN + 7)
    out = write_runs(tmp_path / "o", [(9, data, True)], buffer_size=2 * ALIGN)
    assert (tmp_path / "o").read_bytes() == bytes(9) + data
    if direct_io_refusal(tmp_path) is None:
        assert len(seen) == 1  # one try, then never again
        assert out.stats.direct_bytes == 0
        assert "refused an O_DIRECT write" in (out.stats.direct_off_reason or "")


def test_a_disk_slower_than_hashing_gets_page_cache_writes(tmp_path, monkeypatch):
    if (refusal := direct_io_refusal(tmp_path)) is not None:
        pytest.skip(f"{tmp_path}: O_DIRECT refused ({refusal})")

    def slow(real, fd, data, offset):
        time.sleep(0.02)
        return real(fd, data, offset)

    seen = _patch_direct_pwrite(monkeypatch, slow)
    data = os.urandom(200 * ALIGN)
    out = write_runs(tmp_path / "o", [(0, data, True)], buffer_size=ALIGN, slow_wait=0.05)
    assert (tmp_path / "o").read_bytes() == data
    reason = out.stats.direct_off_reason or ""
    assert reason.startswith("the disk was slower than hashing"), reason
    # a few direct writes, then the rest through the page cache
    assert 0 < out.stats.direct_bytes < 20 * ALIGN
    assert len(seen) < 20
    assert out.stats.direct_bytes + out.stats.buffered_bytes == len(data)


def test_a_failing_direct_write_fails_the_build_and_leaves_nothing(tmp_path, monkeypatch):
    if (refusal := direct_io_refusal(tmp_path)) is not None:
        pytest.skip(f"{tmp_path}: O_DIRECT refused ({refusal})")
    sections = [
        naive.RawSection(type=t, data=os.urandom(n)) for t, n in [(1, 9000), (2, 5), (3, 70000)]
    ]
    src = tmp_path / "in.eif"
    src.write_bytes(naive.assemble(sections=sections))
    image = read(src)

    def full(real, fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    _patch_direct_pwrite(monkeypatch, full)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(OSError) as e:
        write(image, out_dir / "x.eif", buffer_size=2 * ALIGN, direct_io=True)
    assert e.value.errno == errno.ENOSPC
    assert e.value.filename == str(out_dir / "x.eif")  # the name asked for, not the temp file
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("direct", [True, False])
def test_a_full_disk_is_one_line_naming_the_output(tmp_path, monkeypatch, capsys, direct):
    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    out = tmp_path / "out" / "x.eif"
    out.parent.mkdir()
    hello = ROOT / "examples" / "hello"
    args = ["build", "--kernel", str(hello / "bzImage"), "--initrd", str(hello / "init.cpio")]
    args += ["--cmdline", "x", "-o", str(out), "--no-lint"]
    args += ["--direct-io"] if direct else []
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == f"eifkit: error: {out}: cannot write: No space left on device\n"
    assert list(out.parent.iterdir()) == []


@st.composite
def big_layouts(draw):
    """Sections and gaps of many blocks, so that runs have whole aligned blocks."""
    n = draw(st.integers(1, 5))
    sections, offsets, pos = [], [], 548
    for _ in range(n):
        pos += draw(st.integers(0, 2 * ALIGN))
        size = draw(st.integers(0, 12 * ALIGN))
        sections.append(
            naive.RawSection(type=draw(st.sampled_from([1, 2, 3, 3, 4, 5])), data=os.urandom(size))
        )
        offsets.append(pos)
        pos += 12 + size
    order = draw(st.permutations(range(n)))
    return dict(
        sections=[sections[i] for i in order],
        offsets=[offsets[i] for i in order],
        file_size=pos + draw(st.integers(0, 2 * ALIGN)),
        fill=draw(st.integers(0, 255)),
    ), draw(st.sampled_from([ALIGN, 3 * ALIGN + 5, 64 << 10]))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=big_layouts())
def test_writer_output_is_the_same_with_and_without_direct_io(case, tmp_path):
    layout, buffer_size = case
    data = naive.assemble(**layout)
    src = tmp_path / "in.eif"
    src.write_bytes(data)
    image = read(src, strict=False)
    direct = write(
        image, tmp_path / "d.eif", layout="original", buffer_size=buffer_size, direct_io=True
    )
    plain = write(
        image, tmp_path / "p.eif", layout="original", buffer_size=buffer_size, direct_io=False
    )
    assert (tmp_path / "d.eif").read_bytes() == data == (tmp_path / "p.eif").read_bytes()
    assert direct.measurements == plain.measurements
    # the header is written twice (placeholder CRC, then the final one)
    assert direct.io.direct_bytes + direct.io.buffered_bytes == len(data) + 548
    assert plain.io.direct_bytes == 0
    if direct.io.direct_off_reason is None:
        runs = [
            (o + 12, o + 12 + len(s.data))
            for o, s in zip(layout["offsets"], layout["sections"], strict=True)
        ]
        runs += [(f.offset, f.offset + f.source.size) for f in image.fillers]
        assert direct.io.direct_bytes == sum(whole_blocks(a, b) for a, b in runs)


def test_file_system_type_reads_the_mount_table_line_of_the_files_device(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"")
    fd = os.open(f, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
        table = tmp_path / "mountinfo"
        table.write_text(
            "22 27 0:9999 / /proc rw,relatime - proc proc rw\n"
            f"30 1 {dev} / /some\\040where rw,relatime shared:1 master:2 - xfs /dev/sdz rw\n"
        )
        assert file_system_type(fd, str(table)) == "xfs"
        table.write_text("22 27 0:9999 / /proc rw - proc proc rw\n")
        assert file_system_type(fd, str(table)) is None
        assert file_system_type(fd, str(tmp_path / "missing")) is None
    finally:
        os.close(fd)


def test_memory_file_systems_get_page_cache_writes(tmp_path):
    shm = Path("/dev/shm")
    probe = shm / f"eifkit-test-{os.getpid()}"
    if not shm.is_dir():
        pytest.skip("no /dev/shm")
    try:
        fd = os.open(probe, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        data = os.urandom(4 * ALIGN)
        out = write_runs(probe, [(0, data, True)], buffer_size=ALIGN)
        fd = os.open(probe, os.O_RDONLY)
        fs = file_system_type(fd)
        os.close(fd)
        assert probe.read_bytes() == data
    finally:
        probe.unlink(missing_ok=True)
    if fs != "tmpfs":
        pytest.skip(f"/dev/shm is {fs}, not tmpfs")
    assert out.stats.direct_bytes == 0
    assert out.stats.direct_off_reason == "the file system (tmpfs) keeps files in memory"


def _output_on(fd_path: Path, name_path: Path) -> OutputFile:
    fd = os.open(fd_path, os.O_RDWR)
    pool = ThreadPoolExecutor(1)
    out = OutputFile(str(name_path), fd, buffer_size=ALIGN, pool=pool)
    data = bytes(range(256)) * (3 * ALIGN // 256)
    out.start_run(0)
    for chunk in BytesSource(data).read_into(out.space):
        out.commit(len(chunk))
    out.end_run()
    out.close()
    os.close(fd)
    pool.shutdown()
    return out


def test_the_direct_descriptor_is_the_open_file_not_whatever_the_path_names(tmp_path):
    if (refusal := direct_io_refusal(tmp_path)) is not None:
        pytest.skip(f"{tmp_path}: O_DIRECT refused ({refusal})")
    mine, other = tmp_path / "mine", tmp_path / "other"
    mine.write_bytes(b"")
    other.write_bytes(b"untouched")
    out = _output_on(mine, other)  # as if `other` had been swapped in at the path
    assert out.stats.direct_bytes == 3 * ALIGN
    assert mine.read_bytes() == bytes(range(256)) * (3 * ALIGN // 256)
    assert other.read_bytes() == b"untouched"


def test_without_proc_a_swapped_path_turns_direct_writes_off(tmp_path, monkeypatch):
    if (refusal := direct_io_refusal(tmp_path)) is not None:
        pytest.skip(f"{tmp_path}: O_DIRECT refused ({refusal})")
    real_exists = os.path.exists
    monkeypatch.setattr(
        os.path, "exists", lambda p: False if str(p).startswith("/proc/") else real_exists(p)
    )
    mine, other = tmp_path / "mine", tmp_path / "other"
    mine.write_bytes(b"")
    other.write_bytes(b"untouched")
    out = _output_on(mine, other)
    assert out.stats.direct_bytes == 0
    assert out.stats.direct_off_reason == "the file was replaced while being opened"
    assert other.read_bytes() == b"untouched"
    assert len(mine.read_bytes()) == 3 * ALIGN


def test_a_large_output_reserves_its_space_first_and_a_full_disk_says_so_at_once(
    tmp_path, monkeypatch, capsys
):
    """An EIF of 64 MiB or more is allocated before the first byte is hashed: a full
    disk is one line naming the output, before any work, and nothing is left."""
    ramdisk = tmp_path / "big.bin"
    with open(ramdisk, "wb") as f:
        f.truncate(64 << 20)  # sparse: no disk used, 64 MiB of zeros to read
    seen = []

    def full(fd, offset, length):
        seen.append(length)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    out = tmp_path / "out" / "x.eif"
    out.parent.mkdir()
    kernel = ROOT / "examples" / "hello" / "bzImage"
    args = ["build", "--kernel", str(kernel), "--initrd", str(ramdisk), "--cmdline", "x"]
    assert main([*args, "-o", str(out), "--no-lint", "-q"]) == 2
    assert (
        capsys.readouterr().err == f"eifkit: error: {out}: cannot write: No space left on device\n"
    )
    assert seen and seen[0] > 64 << 20
    assert list(out.parent.iterdir()) == []
