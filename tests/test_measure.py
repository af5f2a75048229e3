"""The sans-I/O measurement engine against a naive whole-buffer computation."""

from __future__ import annotations

import hashlib
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eifkit.crc import crc32_combine
from eifkit.format import SectionHeader
from eifkit.measure import (
    PCRS_FED_BY,
    MeasureEngine,
    extend_from_zero,
    pcr_of_bytes,
    section_role,
)
from tests import naive


def _feed(sections, chunk, algo="sha384", parallel=True):
    e = MeasureEngine(algo, parallel=parallel)
    header = bytes(range(256)) * 2 + bytes(36)
    e.header(header)
    for t, data in sections:
        sh = SectionHeader(t, 0, len(data)).pack()
        e.start_section(sh, t)
        for i in range(0, len(data), chunk):
            e.feed(data[i : i + chunk])
        e.end_section()
    return header, e.finish()


section_lists = st.lists(
    st.tuples(st.sampled_from([1, 2, 3, 3, 3, 5, 7, 0]), st.binary(max_size=300)), max_size=8
)


@settings(max_examples=200)
@given(
    sections=section_lists,
    chunk=st.integers(1, 64),
    algo=st.sampled_from(["sha256", "sha384", "sha512"]),
)
def test_engine_equals_naive_reference(sections, chunk, algo):
    _check_against_naive(sections, chunk, algo, parallel=False)


@settings(max_examples=100)
@given(sections=section_lists, chunk=st.integers(1, 64), algo=st.sampled_from(["sha384", "sha256"]))
def test_parallel_engine_equals_naive_reference(sections, chunk, algo):
    import eifkit.measure as measure

    saved = measure.PARALLEL_MIN
    measure.PARALLEL_MIN = 1  # every chunk takes the two-thread path
    try:
        _check_against_naive(sections, chunk, algo, parallel=True)
    finally:
        measure.PARALLEL_MIN = saved


def test_large_chunks_parallel_and_sequential_agree():
    import os

    data = [
        (1, os.urandom(3 << 20)),
        (2, b"console=ttyS0"),
        (3, os.urandom(1 << 20)),
        (3, os.urandom(5 << 20)),
        (3, os.urandom(700 << 10)),
    ]
    _, a = _feed(data, 1 << 20, parallel=True)
    _, b = _feed(data, 1 << 20, parallel=False)
    assert a == b
    assert a.pcr2.hex() == naive.pcr(data[3][1] + data[4][1])


def _check_against_naive(sections, chunk, algo, parallel):
    header, m = _feed(sections, chunk, algo, parallel)
    covered = header[:544] + b"".join(SectionHeader(t, 0, len(d)).pack() + d for t, d in sections)
    assert m.crc32 == zlib.crc32(covered)
    all_ = b"".join(d for t, d in sections if t in (1, 2, 3))
    ramdisks = [d for t, d in sections if t == 3]
    # PCR1: kernel and cmdline wherever they are, plus the first ramdisk, in table order.
    boot_parts, seen = [], 0
    for t, d in sections:
        if t in (1, 2):
            boot_parts.append(d)
        elif t == 3:
            if seen == 0:
                boot_parts.append(d)
            seen += 1
    boot = b"".join(boot_parts)
    assert m.pcr0.hex() == naive.pcr(all_, algo)
    assert m.pcr1.hex() == naive.pcr(boot, algo)
    assert m.pcr2.hex() == naive.pcr(b"".join(ramdisks[1:]), algo)
    assert m.pcr8 is None


def test_pcr2_of_single_ramdisk_is_pcr_of_empty_string():
    _, m = _feed([(1, b"k"), (2, b"c"), (3, b"r")], 4)
    assert m.pcr2.hex() == naive.pcr(b"")
    assert m.pcr0 == m.pcr1


def test_pcr1_forks_correctly_when_kernel_comes_after_app_ramdisk():
    # table order: ramdisk0, ramdisk1, cmdline, kernel (a fixture-style reordering)
    secs = [(3, b"r0"), (3, b"r1"), (2, b"c"), (1, b"k")]
    _, m = _feed(secs, 1)
    assert m.pcr0.hex() == naive.pcr(b"r0r1ck")
    assert m.pcr1.hex() == naive.pcr(b"r0ck")
    assert m.pcr2.hex() == naive.pcr(b"r1")


def test_runtime_pcr_check_values_from_the_format_notes():
    pcr3 = extend_from_zero(b"arn:aws:iam::123456789012:role/Webserver").hex()
    assert pcr3.startswith("78fce75d") and pcr3.endswith("6921e6")
    pcr4 = extend_from_zero(b"i-1234567890abcdef0").hex()
    assert pcr4.startswith("08f996b5") and pcr4.endswith("e79ce0")
    # PCR3 is an extend of the raw bytes, not of their hash
    assert (
        pcr3 == hashlib.sha384(bytes(48) + b"arn:aws:iam::123456789012:role/Webserver").hexdigest()
    )


def test_pcr_of_bytes_is_extend_of_hash():
    assert pcr_of_bytes(b"abc").hex() == naive.pcr(b"abc")


def test_engine_refuses_misuse():
    e = MeasureEngine()
    with pytest.raises(RuntimeError):
        e.feed(b"x")
    e.start_section(bytes(12), 1)
    with pytest.raises(RuntimeError):
        e.finish()
    e.end_section()
    with pytest.raises(RuntimeError, match="header"):
        e.finish()


def test_header_may_come_last_and_be_replaced():
    a = MeasureEngine()
    a.header(bytes(548))
    a.start_section(SectionHeader(1, 0, 3).pack(), 1)
    a.feed(b"abc")
    a.end_section()
    a.header(b"\x01" * 548)
    b = MeasureEngine()
    b.start_section(SectionHeader(1, 0, 3).pack(), 1)
    b.feed(b"abc")
    b.end_section()
    b.header(b"\x01" * 548)
    expected = zlib.crc32(b"\x01" * 544 + SectionHeader(1, 0, 3).pack() + b"abc")
    assert a.finish().crc32 == b.finish().crc32 == expected


@given(a=st.binary(max_size=3000), b=st.binary(max_size=3000))
def test_crc32_combine(a, b):
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


@pytest.mark.parametrize(
    "section_type, ramdisks_before, pcrs",
    [
        (1, 0, ("PCR0", "PCR1")),  # kernel
        (2, 3, ("PCR0", "PCR1")),  # cmdline, wherever it is
        (3, 0, ("PCR0", "PCR1")),  # first ramdisk
        (3, 1, ("PCR0", "PCR2")),  # later ramdisks
        (4, 0, ("PCR8",)),  # signature
        (5, 0, ()),  # metadata: CRC only
        (9, 0, ()),  # unknown type: CRC only
    ],
)
def test_which_section_feeds_which_pcr(section_type, ramdisks_before, pcrs):
    assert PCRS_FED_BY[section_role(section_type, ramdisks_before)] == pcrs


def test_measure_depends_only_on_format_level_modules():
    import ast
    from pathlib import Path

    import eifkit.measure

    tree = ast.parse(Path(eifkit.measure.__file__).read_text())
    local = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level > 0 and node.module
    }
    assert local <= {"format", "crc", "sigsection", "errors"}, local
