from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eifkit.errors import FormatError
from eifkit.format import (
    HEADER_SIZE,
    SECTION_HEADER_SIZE,
    Arch,
    EifHeader,
    SectionHeader,
    section_type_name,
)

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, (1 << 64) - 1)


@given(
    version=u16,
    flags=u16,
    mem=u64,
    cpus=u64,
    reserved=u16,
    n=u16,
    offs=st.lists(u64, min_size=32, max_size=32),
    sizes=st.lists(u64, min_size=32, max_size=32),
    unused=u32,
    crc=u32,
)
def test_header_pack_unpack_round_trip(
    version, flags, mem, cpus, reserved, n, offs, sizes, unused, crc
):
    h = EifHeader(
        version=version,
        flags=flags,
        default_mem=mem,
        default_cpus=cpus,
        reserved=reserved,
        num_sections=n,
        section_offsets=tuple(offs),
        section_sizes=tuple(sizes),
        unused=unused,
        crc32=crc,
    )
    raw = h.pack()
    assert len(raw) == HEADER_SIZE
    assert EifHeader.unpack(raw) == h
    # Field positions as eif-format.md §1 gives them, read independently.
    assert raw[0:4] == b".eif"
    assert struct.unpack(">H", raw[4:6])[0] == version
    assert struct.unpack(">H", raw[26:28])[0] == n
    assert struct.unpack(">Q", raw[28:36])[0] == offs[0]
    assert struct.unpack(">Q", raw[284:292])[0] == sizes[0]
    assert struct.unpack(">I", raw[540:544])[0] == unused
    assert struct.unpack(">I", raw[544:548])[0] == crc


@given(t=u16, f=u16, s=u64)
def test_section_header_round_trip_keeps_unknown_types(t, f, s):
    raw = SectionHeader(t, f, s).pack()
    assert len(raw) == SECTION_HEADER_SIZE
    assert raw == struct.pack(">HHQ", t, f, s)
    assert SectionHeader.unpack(raw) == SectionHeader(t, f, s)


def test_section_type_names():
    assert section_type_name(5) == "metadata"
    assert section_type_name(7) == "unknown(7)"


def test_short_header_is_a_format_error():
    with pytest.raises(FormatError, match="548"):
        EifHeader.unpack(b"\0" * 100)


def test_arch_flags():
    assert Arch.from_flags(1) is Arch.AARCH64
    assert Arch.from_flags(0) is Arch.X86_64
    assert Arch.AARCH64.flag == 1
