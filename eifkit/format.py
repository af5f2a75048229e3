"""On-disk structures of EIF v4, each declared once.

All integers are big-endian. ``EifHeader`` and ``SectionHeader`` each own one
``struct`` layout from which both ``unpack`` and ``pack`` are derived, so the
reader and the writer cannot drift apart (the CPython ``tarfile``/``zipfile``
pattern).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import FormatError

MAGIC = b".eif"
CURRENT_VERSION = 4
MAX_SECTIONS = 32
HEADER_SIZE = 548
SECTION_HEADER_SIZE = 12
CRC_OFFSET = 544
ARCH_AARCH64_FLAG = 0x1
DEFAULT_MEMORY = 1 << 30
DEFAULT_CPUS = 2
MAX_SIGNATURE_SIZE = 32768


@dataclass(frozen=True)
class Field:
    """One field of an on-disk structure: its name, ``struct`` code, count and offset.

    A field with ``count > 1`` is a table of that many items (the section offset and
    size tables); ``item_size`` is one item's size in bytes.
    """

    name: str
    code: str
    count: int = 1
    offset: int = 0

    @property
    def item_size(self) -> int:
        return struct.calcsize(">" + self.code)

    @property
    def size(self) -> int:
        return self.item_size * self.count

    def item_offset(self, index: int = 0) -> int:
        """Byte offset of item ``index`` of this field within its structure."""
        return self.offset + index * self.item_size


class Layout:
    """An on-disk structure declared once as a field table.

    The ``struct.Struct``, every field's offset, and pack/unpack to a dict are all
    derived from the table, so the reader, the writer, error messages and the
    loader-test editor cannot disagree about where a field is.
    """

    def __init__(self, name: str, fields: list[tuple[str, str] | tuple[str, str, int]]) -> None:
        self.name = name
        placed: list[Field] = []
        offset = 0
        for spec in fields:
            count = spec[2] if len(spec) == 3 else 1
            f = Field(spec[0], spec[1], count, offset)
            placed.append(f)
            offset += f.size
        self.fields: tuple[Field, ...] = tuple(placed)
        self.by_name: dict[str, Field] = {f.name: f for f in placed}
        codes = "".join(f"{f.count}{f.code}" if f.count > 1 else f.code for f in placed)
        self.struct = struct.Struct(">" + codes)
        self.size = self.struct.size
        assert self.size == offset, (name, self.size, offset)

    def offset(self, name: str, index: int = 0) -> int:
        """Byte offset of field ``name`` (item ``index`` of a table)."""
        return self.by_name[name].item_offset(index)

    def unpack(self, data: bytes) -> dict[str, Any]:
        """Field name -> value (a tuple for tables) from exactly ``size`` bytes."""
        values = self.struct.unpack(data)
        out: dict[str, Any] = {}
        i = 0
        for f in self.fields:
            if f.count > 1:
                out[f.name] = tuple(values[i : i + f.count])
            else:
                out[f.name] = values[i]
            i += f.count
        return out

    def pack(self, values: dict[str, object]) -> bytes:
        flat: list[object] = []
        for f in self.fields:
            v = values[f.name]
            if f.count > 1:
                assert isinstance(v, tuple | list)
                if len(v) != f.count:
                    raise ValueError(f"{self.name}.{f.name} needs {f.count} items, got {len(v)}")
                flat.extend(v)
            else:
                flat.append(v)
        return self.struct.pack(*flat)


HEADER = Layout(
    "header",
    [
        ("magic", "4s"),
        ("version", "H"),
        ("flags", "H"),
        ("default_mem", "Q"),
        ("default_cpus", "Q"),
        ("reserved", "H"),
        ("num_sections", "H"),
        ("section_offsets", "Q", MAX_SECTIONS),
        ("section_sizes", "Q", MAX_SECTIONS),
        ("unused", "I"),
        ("eif_crc32", "I"),
    ],
)
SECTION_HEADER = Layout("section header", [("type", "H"), ("flags", "H"), ("size", "Q")])
assert HEADER.size == HEADER_SIZE
assert SECTION_HEADER.size == SECTION_HEADER_SIZE
assert HEADER.offset("eif_crc32") == CRC_OFFSET


class SectionType(enum.IntEnum):
    """Known section types. Unknown numeric types are kept as plain ints."""

    INVALID = 0
    KERNEL = 1
    CMDLINE = 2
    RAMDISK = 3
    SIGNATURE = 4
    METADATA = 5


def section_type_name(value: int) -> str:
    """Human name of a section type: ``kernel``, ``ramdisk`` ... or ``unknown(7)``."""
    try:
        return SectionType(value).name.lower()
    except ValueError:
        return f"unknown({value})"


class Arch(enum.Enum):
    """Architecture encoded in bit 0 of the header flags."""

    X86_64 = "x86_64"
    AARCH64 = "aarch64"

    @property
    def flag(self) -> int:
        return ARCH_AARCH64_FLAG if self is Arch.AARCH64 else 0

    @classmethod
    def from_flags(cls, flags: int) -> Arch:
        return cls.AARCH64 if flags & ARCH_AARCH64_FLAG else cls.X86_64


@dataclass(frozen=True)
class EifHeader:
    """The 548-byte file header."""

    version: int = CURRENT_VERSION
    flags: int = 0
    default_mem: int = DEFAULT_MEMORY
    default_cpus: int = DEFAULT_CPUS
    reserved: int = 0
    num_sections: int = 0
    section_offsets: tuple[int, ...] = field(default=(0,) * MAX_SECTIONS)
    section_sizes: tuple[int, ...] = field(default=(0,) * MAX_SECTIONS)
    unused: int = 0
    crc32: int = 0
    magic: bytes = MAGIC

    @classmethod
    def unpack(cls, data: bytes) -> EifHeader:
        """Parse exactly ``HEADER_SIZE`` bytes. Checks only the length."""
        if len(data) != HEADER_SIZE:
            raise FormatError(
                f"EIF header needs {HEADER_SIZE} bytes, found {len(data)}",
                offset=0,
                field="header",
            )
        v = HEADER.unpack(data)
        v["crc32"] = v.pop("eif_crc32")
        return cls(**v)

    def pack(self) -> bytes:
        """Serialize to exactly ``HEADER_SIZE`` bytes."""
        if len(self.section_offsets) != MAX_SECTIONS or len(self.section_sizes) != MAX_SECTIONS:
            raise ValueError("section tables must have exactly 32 entries")
        values: dict[str, object] = {f.name: getattr(self, f.name, None) for f in HEADER.fields}
        values["eif_crc32"] = self.crc32
        return HEADER.pack(values)

    @property
    def arch(self) -> Arch:
        return Arch.from_flags(self.flags)

    def with_crc(self, crc32: int) -> EifHeader:
        return replace(self, crc32=crc32)


@dataclass(frozen=True)
class SectionHeader:
    """The 12-byte header in front of every section's data."""

    type: int
    flags: int
    size: int

    @classmethod
    def unpack(cls, data: bytes) -> SectionHeader:
        if len(data) != SECTION_HEADER_SIZE:
            raise FormatError(
                f"section header needs {SECTION_HEADER_SIZE} bytes, found {len(data)}",
                field="section header",
            )
        return cls(**SECTION_HEADER.unpack(data))

    def pack(self) -> bytes:
        return SECTION_HEADER.pack({"type": self.type, "flags": self.flags, "size": self.size})
