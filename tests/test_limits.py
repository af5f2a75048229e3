"""Hostile ramdisks: decompression bombs, huge names and link targets, millions of entries.

Each is built here, small on disk, and read by the ramdisk check (what describe and
build run) and by the cpio reader; memory is measured with tracemalloc and must not
follow the input's expanded size. Issue 11, item 3: 0.1 took 61 s on a 10 GiB gzip bomb,
1.36 GiB of memory on 40 symlinks with 16 MiB targets, 1.07 GiB on a 0xFFFFFFF0 name
size and 632 MiB on a million empty files.
"""

from __future__ import annotations

import io
import stat
import tracemalloc
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from eifkit.errors import FormatError, LimitError
from eifkit.inspect.initramfs import Entry, header_bytes, iter_members
from eifkit.inspect.ramdisk import inspect_ramdisk
from eifkit.limits import DEFAULT_LIMITS, ExpansionLimits
from eifkit.sources import FileSource

MiB = 1 << 20
HELLO = Path(__file__).resolve().parents[1] / "examples" / "hello"


def _pad4(n: int) -> bytes:
    return b"\0" * ((4 - n % 4) % 4)


def member(name: str, mode: int, data: bytes = b"", size: int | None = None) -> bytes:
    """One newc member; ``size`` may claim more data than ``data`` holds."""
    head = header_bytes(Entry(name, mode, len(data) if size is None else size))
    return head + data + _pad4(len(data))


def trailer() -> bytes:
    return member("TRAILER!!!", 0)


def gzip_stream(parts: Iterable[bytes]) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(z.compress(p) for p in parts) + z.flush()


def zeros(total: int) -> Iterable[bytes]:
    block = bytes(MiB)
    for _ in range(total // MiB):
        yield block


def peak_memory(work: Callable[[], Any]) -> tuple[Any, int]:
    """``work()``'s result and the most memory it held at once beyond what was held
    before it (tracemalloc; another test may have left tracing on)."""
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()


def source_of(tmp_path: Path, data: bytes, name: str = "ramdisk") -> FileSource:
    path = tmp_path / name
    path.write_bytes(data)
    return FileSource.open(path, "ramdisk")


INIT = member("init", stat.S_IFREG | 0o755, (HELLO / "init").read_bytes())


@pytest.fixture(autouse=True)
def _warm_up(tmp_path_factory):
    """Read a small gzip ramdisk once first, so that the memory measured below is the
    reading's, not the first import of a module it needs (the suite's order varies)."""
    data = gzip_stream([INIT, trailer()])
    inspect_ramdisk(source_of(tmp_path_factory.mktemp("warm"), data), 0, "x86_64")


def test_zero_padding_bomb_is_skipped_fast_and_in_bounded_memory(tmp_path):
    # A valid archive, then 1 GiB of gzip'd zero padding (1 MB on disk), then another.
    data = gzip_stream([INIT, trailer(), *zeros(1 << 30), member("nsm.ko", 0o100644), trailer()])
    assert len(data) < 2 * MiB
    info, peak = peak_memory(lambda: inspect_ramdisk(source_of(tmp_path, data), 0, "x86_64"))
    assert info.error is None and info.entries == 2 and info.has_nsm_ko
    assert info.init["Arch"] == "x86_64"
    assert peak < 16 * MiB, peak


def test_gzip_bomb_past_the_byte_limit_is_reported_not_read(tmp_path):
    # A regular file claiming 1 GiB of zeros: its data must be read (gzip cannot seek).
    data = gzip_stream([INIT, member("big", 0o100644, size=1 << 30), *zeros(1 << 30)])
    small = ExpansionLimits(max_bytes=64 * MiB, max_entries=DEFAULT_LIMITS.max_entries)
    source = source_of(tmp_path, data)
    info, peak = peak_memory(lambda: inspect_ramdisk(source, 0, "x86_64", limits=small))
    assert info.skipped and "not fully inspected" in info.error
    assert "67108864 bytes" in info.error
    assert peak < 16 * MiB, peak
    with open(source.path, "rb") as f, pytest.raises(LimitError) as caught:
        for _ in iter_members(f, limits=small):
            pass
    assert caught.value.limit == "max_bytes"


def test_long_symlink_targets_are_not_kept(tmp_path):
    # 40 symlinks with 16 MiB targets, /init among them (the kernel skips targets
    # longer than PATH_MAX, so eifkit never holds one).
    target = b"a" * (16 * MiB)
    links = [member(f"l{i}", stat.S_IFLNK | 0o777, target) for i in range(39)]
    data = gzip_stream([*links, member("init", stat.S_IFLNK | 0o777, target), trailer()])
    info, peak = peak_memory(lambda: inspect_ramdisk(source_of(tmp_path, data), 0, "x86_64"))
    assert info.entries == 40 and info.init["Kind"] == "symlink"
    assert not info.init["Executable"]
    assert peak < 48 * MiB, peak  # one 16 MiB read buffer at most, never a target


def test_huge_name_size_is_refused_before_anything_is_read(tmp_path):
    head = bytearray(header_bytes(Entry("x", 0o100644)))
    head[94:102] = b"FFFFFFF0"  # c_namesize
    data = bytes(head) + b"x\0" + bytes(2)

    def read_all() -> FormatError:
        with pytest.raises(FormatError) as caught:
            list(iter_members(io.BytesIO(data)))
        return caught.value

    error, peak = peak_memory(read_all)
    assert "PATH_MAX" in str(error) and error.offset == 94
    assert peak < MiB
    info = inspect_ramdisk(source_of(tmp_path, gzip_stream([data])), 1, "x86_64")
    assert "name size is 4294967280 bytes" in info.error


def _many_empty_files(count: int) -> bytes:
    return gzip_stream([INIT, *(member(f"f{i}", 0o100755) for i in range(count)), trailer()])


def test_many_entries_keep_memory_flat_and_stop_at_the_entry_limit(tmp_path):
    source = source_of(tmp_path, _many_empty_files(200_000))
    info, peak = peak_memory(lambda: inspect_ramdisk(source, 0, "x86_64"))
    assert info.entries == 200_001 and info.error is None
    assert peak < 16 * MiB, peak
    few = ExpansionLimits(max_bytes=DEFAULT_LIMITS.max_bytes, max_entries=100_000)
    limited = inspect_ramdisk(source, 0, "x86_64", limits=few)
    assert limited.skipped and "100000 members" in limited.error


def test_init_symlink_chain_is_followed_with_bounded_passes(tmp_path):
    elf = (HELLO / "init").read_bytes()
    data = b"".join(
        [
            member("init", stat.S_IFLNK | 0o777, b"/bin/a"),
            member("bin", stat.S_IFDIR | 0o755),
            member("bin/a", stat.S_IFLNK | 0o777, b"b"),
            member("bin/b", stat.S_IFREG | 0o755, elf),
            trailer(),
        ]
    )
    info = inspect_ramdisk(source_of(tmp_path, data), 0, "x86_64")
    assert info.init == {
        "Path": "/init",
        "Target": "/bin/b",
        "Kind": "file",
        "Executable": True,
        "Arch": "x86_64",
    }
    loop = member("init", stat.S_IFLNK | 0o777, b"x") + member("x", stat.S_IFLNK, b"init")
    info = inspect_ramdisk(source_of(tmp_path, loop + trailer(), "loop"), 0, "x86_64")
    assert info.init["Kind"] == "symlink" and not info.init["Executable"]


def test_metadata_of_millions_of_values_is_refused_before_parsing():
    # 16 MiB of [0,0,...]: 0.1 spent 1.39 GiB on it in describe and extract.
    from eifkit.errors import MetadataError
    from eifkit.metadata import parse_metadata_section

    data = b"[" + b"0," * ((8 << 20) - 1) + b"0]"

    def parse() -> MetadataError:
        with pytest.raises(MetadataError) as caught:
            parse_metadata_section(data)
        return caught.value

    error, peak = peak_memory(parse)
    assert "8388607 ',' and ':' separators" in str(error)
    assert peak < 20 * MiB, peak
    small = b'{"a": [' + b"1," * 1000 + b'1], "b": {"c": "d,e:f"}}'
    with pytest.raises(MetadataError, match="BuildMetadata"):  # parsed, then the schema
        parse_metadata_section(small)


# ------------------------------------------------------------------ through the CLI

# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so a child of a large
# pytest process would report the parent's peak.
RUN_AND_REPORT_RSS = """
import sys
from eifkit.cli import main
code = main(sys.argv[1:])
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
sys.stderr.write("maxrss_kib=%s\\n" % hwm)
sys.exit(code)
"""


def eifkit_rss(*args: str) -> tuple[int, str, int]:
    """Exit code, stderr without the last line, and peak RSS in MiB of one eifkit run."""
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-c", RUN_AND_REPORT_RSS, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    *lines, last = r.stderr.splitlines()
    assert last.startswith("maxrss_kib="), r.stderr
    return r.returncode, "\n".join(lines), int(last.split("=")[1]) >> 10


@pytest.fixture(scope="module")
def bomb_eif(tmp_path_factory) -> Path:
    """An EIF whose app ramdisk is 1 MB of gzip holding a 1 GiB file of zeros."""
    from eifkit import BuildInputs, make_image, write

    folder = tmp_path_factory.mktemp("bomb")
    ramdisk = folder / "bomb.cpio.gz"
    ramdisk.write_bytes(
        gzip_stream([member("big", 0o100644, size=1 << 30), *zeros(1 << 30), trailer()])
    )
    eif = folder / "bomb.eif"
    image = make_image(
        BuildInputs(
            kernel=str(HELLO / "bzImage"),
            ramdisks=[str(HELLO / "init.cpio"), str(ramdisk)],
            cmdline="console=ttyS0",
            build_time="2025-01-01T00:00:00Z",
            lint=False,
        )
    )
    write(image, eif)
    assert eif.stat().st_size < 4 << 20
    return eif


def test_describe_of_a_bomb_is_bounded_and_says_which_limit(bomb_eif):
    code, err, rss = eifkit_rss("describe", "--json", "--max-expanded-bytes", "64M", str(bomb_eif))
    assert code == 0, err
    assert rss < 100, rss
    code, err, _ = eifkit_rss("describe", str(bomb_eif))  # within the 2 GiB default
    assert code == 0 and err == "", err


@pytest.mark.parametrize("command", ["extract", "diff"])
def test_unpack_and_diff_of_a_bomb_stop_at_the_limit_with_one_line(bomb_eif, tmp_path, command):
    if command == "extract":
        args = ["extract", str(bomb_eif), "--unpack", "-o", str(tmp_path / "x")]
    else:  # a copy whose bomb ramdisk differs in one byte near its end
        other = tmp_path / "other.eif"
        data = bytearray(bomb_eif.read_bytes())
        data[-100] ^= 1
        other.write_bytes(bytes(data))
        args = ["diff", "--lenient", str(bomb_eif), str(other)]
    code, err, rss = eifkit_rss(*args, "--max-expanded-bytes", "64M")
    assert code == 2, err
    assert err.count("\n") == 0 and "--max-expanded-bytes raises it" in err, err
    assert "stopped after 67108864 bytes of decompressed data" in err
    assert rss < 100, rss
    if command == "extract":
        assert not (tmp_path / "x" / "ramdisk-1").exists()
        assert not [p for p in (tmp_path / "x").iterdir() if p.name.startswith(".")]
