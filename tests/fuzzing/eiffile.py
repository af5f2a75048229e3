"""Take a well-formed EIF apart and put it back together, and poke single fields.

Field positions come from ``eifkit.format.HEADER`` and ``SECTION_HEADER`` (the field
tables); the rest (assembling, the CRC) is ``tests.naive``, which shares no code with
eifkit's reader or writer, so a mutation means the same thing whatever eifkit does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from eifkit.format import HEADER, SECTION_HEADER
from tests.naive import RawSection, assemble, crc_of_file

KERNEL, CMDLINE, RAMDISK, SIGNATURE, METADATA = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class EifParts:
    """The sections of a well-formed EIF, in header-table order, with their offsets."""

    sections: tuple[RawSection, ...]
    offsets: tuple[int, ...]
    flags: int

    def index_of(self, section_type: int, nth: int = 0) -> int:
        """Table index of the ``nth`` section of ``section_type``."""
        found = [i for i, s in enumerate(self.sections) if s.type == section_type]
        return found[nth]


def split(data: bytes) -> EifParts:
    """The sections of ``data``; only for EIFs this harness built (no checks)."""
    head = HEADER.unpack(data[: HEADER.size])
    n = head["num_sections"]
    sections, offsets = [], []
    for i in range(n):
        off = head["section_offsets"][i]
        sh = SECTION_HEADER.unpack(data[off : off + SECTION_HEADER.size])
        start = off + SECTION_HEADER.size
        sections.append(RawSection(sh["type"], data[start : start + sh["size"]], sh["flags"]))
        offsets.append(off)
    return EifParts(tuple(sections), tuple(offsets), head["flags"])


def replace_section(data: bytes, section_type: int, new_data: bytes, nth: int = 0) -> bytes:
    """``data`` with the ``nth`` section of ``section_type`` holding ``new_data``.

    The file is laid out again contiguously, with every size and the CRC right, so the
    new content is what a reader meets (not a size mismatch in front of it).
    """
    parts = split(data)
    i = parts.index_of(section_type, nth)
    sections = list(parts.sections)
    sections[i] = RawSection(section_type, new_data, sections[i].flags)
    return assemble(sections, flags=parts.flags)


def put_field(data: bytes, name: str, value: int | bytes, index: int = 0) -> bytes:
    """``data`` with header field ``name`` (item ``index`` of a table) set to ``value``."""
    f = HEADER.by_name[name]
    return _put(data, HEADER.offset(name, index), f.code, value)


def put_section_field(data: bytes, header_offset: int, name: str, value: int) -> bytes:
    """``data`` with field ``name`` of the section header at ``header_offset`` set."""
    f = SECTION_HEADER.by_name[name]
    return _put(data, header_offset + SECTION_HEADER.offset(name), f.code, value)


def _put(data: bytes, offset: int, code: str, value: int | bytes) -> bytes:
    if isinstance(value, int):  # wrap, as a value computed from another file's shape may not fit
        value %= 1 << (8 * struct.calcsize(">" + code))
    packed = struct.pack(">" + code, value)
    if offset + len(packed) > len(data):
        return data
    return data[:offset] + packed + data[offset + len(packed) :]


def with_crc_fixed(data: bytes) -> bytes:
    """``data`` with the CRC32 a loader would compute, so that checks past it are reached.

    Files too short to hold a header, or whose table cannot be read, are returned as is.
    """
    if len(data) < HEADER.size:
        return data
    try:
        crc = crc_of_file(data)
    except (struct.error, OverflowError, MemoryError):
        return data
    return put_field(data, "eif_crc32", crc)
