"""Structural validation: each problem gives a FormatError naming offset/field and values."""

from __future__ import annotations

import struct

import pytest

from eifkit import EifHeader, FormatError, read
from tests import naive
from tests.naive import CMDLINE, KERNEL, METADATA, RAMDISK, SIGNATURE, RawSection


def good_sections():
    return [
        RawSection(KERNEL, b"K" * 100),
        RawSection(CMDLINE, b"console=ttyS0"),
        RawSection(METADATA, b"{}"),
        RawSection(RAMDISK, b"R" * 50),
    ]


def write(tmp_path, data, name="x.eif"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    b = bytearray(data)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


def test_good_file_has_no_findings(tmp_path):
    img = read(write(tmp_path, naive.assemble(good_sections())))
    assert img.findings == ()
    assert [s.type_name for s in img.sections] == ["kernel", "cmdline", "metadata", "ramdisk"]
    assert img.sections[0].offset == 548 and img.sections[0].size == 100


@pytest.mark.parametrize(
    "mutate, match, offset",
    [
        (lambda d: d[:100], "100 bytes, shorter than the 548-byte EIF header", 0),
        (lambda d: b"", "0 bytes, shorter", 0),
        (lambda d: b"EIF!" + d[4:], "magic is 45494621, expected 2e656966", 0),
        (lambda d: patch(d, 26, ">H", 33), "num_sections is 33, at most 32", 26),
        (lambda d: patch(d, 26, ">H", 65535), "num_sections is 65535", 26),
        (lambda d: patch(d, 28, ">Q", 100), "section 0 starts at offset 100, inside", 28),
        (
            lambda d: patch(d, 36, ">Q", 1 << 40),
            "section 1 header at offset 1099511627776 runs past",
            36,
        ),
        (
            lambda d: d[:-10],
            r"section 3 \(ramdisk\) needs 50 bytes of data but the file ends 40",
            None,
        ),
        (
            lambda d: patch(d, 284, ">Q", 99),
            "size is 99 in the header table but 100 in its section header",
            552,
        ),
        (
            lambda d: patch(patch(d, 36, ">Q", 548), 292, ">Q", 100),
            "section 1 at offset 548 overlaps section 0",
            36,
        ),
    ],
)
def test_structural_errors(tmp_path, mutate, match, offset):
    p = write(tmp_path, mutate(naive.assemble(good_sections())))
    for strict in (True, False):
        with pytest.raises(FormatError, match=match) as ei:
            read(p, strict=strict)
        assert ei.value.path == str(p)
        if offset is not None:
            assert ei.value.offset == offset
        assert str(p) in str(ei.value)


def test_huge_sizes_near_2_64_are_refused_cleanly(tmp_path):
    data = naive.assemble(good_sections())
    data = patch(data, 284 + 8 * 3, ">Q", (1 << 64) - 1)
    data = patch(data, 548 + 112 + 13 + 4, ">Q", 0)  # keep going: size mismatch comes first
    with pytest.raises(FormatError):
        read(write(tmp_path, data), strict=False)


def _strict_only(tmp_path, **kw):
    sections = kw.pop("sections", good_sections())
    return write(tmp_path, naive.assemble(sections, **kw))


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(version=3), "version is 3, expected 4"),
        (dict(flags=2), "flags is 0x0002, only bit 0"),
        (
            dict(
                sections=[
                    *good_sections()[:1],
                    RawSection(CMDLINE, b"a", flags=1),
                    *good_sections()[2:],
                ]
            ),
            "section 1 flags is 0x0001",
        ),
        (
            dict(sections=[*good_sections(), RawSection(0, b"")]),
            "section 4 type is 0 \\(invalid\\)",
        ),
        (
            dict(sections=[*good_sections(), RawSection(7, b"x")]),
            "section 4 type is 7 \\(unknown\\(7\\)\\)",
        ),
        (dict(sections=[*good_sections(), RawSection(KERNEL, b"k")]), "found 2 kernel sections"),
        (dict(sections=[s for s in good_sections() if s.type != CMDLINE]), "found 0 cmdline"),
        (dict(sections=[s for s in good_sections() if s.type != RAMDISK]), "no ramdisk"),
        (dict(sections=[*good_sections(), RawSection(METADATA, b"{}")]), "2 metadata sections"),
        (
            dict(sections=[*good_sections(), RawSection(SIGNATURE, b"\x00" * 32769)]),
            "signature section is 32769 bytes, at most 32768",
        ),
        (dict(sections=[]), "found 0 kernel sections"),
    ],
)
def test_strict_only_errors_and_lenient_findings(tmp_path, kw, match):
    p = _strict_only(tmp_path, **kw)
    with pytest.raises(FormatError, match=match):
        read(p)
    img = read(p, strict=False)  # lenient parses it
    assert isinstance(img.findings, tuple)


def test_findings_for_gap_trailing_order_and_reserved(tmp_path):
    secs = good_sections()
    data = naive.assemble(
        [secs[3], secs[0], secs[1], secs[2]],
        offsets=[900, 548 + 10, 548 + 10 + 112, 548 + 10 + 112 + 25],
        file_size=1200,
        reserved=5,
    )
    img = read(write(tmp_path, data))
    text = "\n".join(img.findings)
    assert "gap of 10 bytes at offset 548" in text
    assert "trailing bytes" in text
    assert "reserved header field is 5" in text
    assert "section order is not AWS's" in text
    assert "header table order differs from file order" in text


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FormatError, match="file not found"):
        read(tmp_path / "nope.eif")
    with pytest.raises(FormatError, match="directory"):
        read(tmp_path)


def test_image_holds_the_header_as_read(tmp_path):
    data = naive.assemble(good_sections(), flags=1, reserved=3, unused=9)
    img = read(write(tmp_path, data), strict=False)
    assert img.header == EifHeader.unpack(data[:548])
    assert (img.arch.value, img.flags, img.version) == ("aarch64", 1, 4)
    assert (img.header.reserved, img.header.unused) == (3, 9)
    assert img.stored_crc == struct.unpack(">I", data[544:548])[0]


def test_table_entries_past_the_sections_are_kept_and_reported(tmp_path):
    data = naive.assemble(good_sections())
    data = patch(patch(data, 28 + 8 * 6, ">Q", 1234), 284 + 8 * 6, ">Q", 56)
    img = read(write(tmp_path, data))
    assert img.stray_table_entries == ((6, 1234, 56),)
    assert "header table entry 6 (beyond num_sections) holds offset 1234 size 56" in img.findings
