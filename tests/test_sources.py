"""Section sources: one descriptor per image read from a file, bounded small reads."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from eifkit import FormatError, InputError, measure_image, read
from eifkit.sources import BytesSource, FileRange, FileSource, open_source, read_small
from tests import naive
from tests.naive import CMDLINE, KERNEL, METADATA, RAMDISK, RawSection

SECTIONS = [
    RawSection(KERNEL, os.urandom(300_000)),
    RawSection(CMDLINE, b"console=ttyS0"),
    RawSection(METADATA, b"{}"),
    RawSection(RAMDISK, os.urandom(200_000)),
    RawSection(RAMDISK, os.urandom(100_000)),
]


def _eif(tmp_path, sections=SECTIONS, name="a.eif"):
    path = tmp_path / name
    path.write_bytes(naive.assemble(sections))
    return path


def _bytes(source, buffer_size=4096):
    return b"".join(bytes(c) for c in source.chunks(buffer_size))


def test_every_range_of_an_image_shares_one_descriptor(tmp_path):
    image = read(_eif(tmp_path))
    files = {id(s.source.file) for s in image.sections if isinstance(s.source, FileRange)}
    assert len(files) == 1
    assert [_bytes(s.source) for s in image.sections] == [s.data for s in SECTIONS]


def test_an_image_is_a_snapshot_of_the_file_it_was_read_from(tmp_path):
    path = _eif(tmp_path)
    image = read(path)
    before = measure_image(image)
    # Replace the file at the path, as an atomic writer would: the image keeps reading
    # the file it opened, not whatever the path names now.
    other = _eif(tmp_path, [RawSection(s.type, bytes(len(s.data))) for s in SECTIONS], "b.eif")
    os.replace(other, path)
    assert measure_image(image) == before
    assert _bytes(image.ramdisks[1].source) == SECTIONS[4].data


def test_threads_reading_one_image_do_not_disturb_each_other(tmp_path):
    image = read(_eif(tmp_path))
    jobs = [s for s in image.sections] * 8
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda s: _bytes(s.source, 997), jobs))
    assert got == [s.data for s in SECTIONS] * 8


def test_open_source_reads_through_the_shared_descriptor(tmp_path):
    image = read(_eif(tmp_path))
    with open_source(image.kernel.source) as f:
        f.seek(1000)
        assert f.read(10) == SECTIONS[0].data[1000:1010]
    # closing the file object leaves the image's descriptor open
    assert _bytes(image.ramdisks[0].source) == SECTIONS[3].data


def test_a_closed_image_says_so_instead_of_reading_another_file(tmp_path):
    path = _eif(tmp_path)
    with read(path) as image:
        pass
    with pytest.raises(InputError, match="closed") as e:
        _bytes(image.kernel.source)
    assert e.value.path == str(path)


def test_a_file_cut_short_after_reading_is_an_input_error(tmp_path):
    path = _eif(tmp_path)
    image = read(path)
    os.truncate(path, 548 + 1000)
    with pytest.raises(InputError, match=r"ended \d+ bytes early") as e:
        _bytes(image.kernel.source)
    assert e.value.path == str(path) and e.value.offset == 548 + 1000


def test_read_small_names_the_limit_file_and_offset(tmp_path):
    path = _eif(tmp_path)
    image = read(path)
    cmdline = image.cmdline_section
    assert read_small(cmdline.source, 13, "cmdline section") == b"console=ttyS0"
    with pytest.raises(FormatError) as e:
        read_small(cmdline.source, 12, "cmdline section")
    assert str(e.value) == (
        f"{path}: offset {cmdline.offset + 12}: cmdline section is 13 bytes, "
        "more than the 12-byte limit"
    )
    with pytest.raises(FormatError, match="3 bytes, more than the 2-byte limit"):
        read_small(BytesSource(b"abc"), 2, "metadata")


def test_an_input_rewritten_in_place_while_being_read_is_refused(tmp_path):
    # Same size, same inode, new bytes (issue 11, item 6): 0.1 wrote an EIF of mixed
    # content. The rewrite waits past the file system's timestamp granularity.
    path = tmp_path / "ramdisk"
    path.write_bytes(b"a" * (3 << 20))
    source = FileSource.open(path, "ramdisk")
    chunks = source.chunks(1 << 20)
    assert bytes(next(chunks)) == b"a" * (1 << 20)
    time.sleep(0.05)
    with open(path, "r+b") as f:
        f.write(b"b" * (3 << 20))
    with pytest.raises(InputError, match=r"changed while it was being read \(mtime, ctime"):
        for _ in chunks:
            pass


def test_a_pipe_as_an_input_file_is_a_clean_error(tmp_path):
    fifo = tmp_path / "kernel.fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"must be a regular file .* found a pipe \(FIFO\)"):
        FileSource.open(fifo, "kernel")
