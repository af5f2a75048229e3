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
U64_MAX = (1 << 64) - 1

# magic, version, flags, default_mem, default_cpus, reserved, num_sections,
# 32 section offsets, 32 section sizes, unused, eif_crc32
_HEADER_STRUCT = struct.Struct(f">4sHHQQHH{MAX_SECTIONS}Q{MAX_SECTIONS}QII")
# section_type, flags, section_size
_SECTION_STRUCT = struct.Struct(">HHQ")
assert _HEADER_STRUCT.size == HEADER_SIZE
assert _SECTION_STRUCT.size == SECTION_HEADER_SIZE
assert _HEADER_STRUCT.size - 4 == CRC_OFFSET


class SectionType(enum.IntEnum):
    """Known section types. Unknown numeric types are kept as plain ints."""

    INVALID = 0
    KERNEL = 1
    CMDLINE = 2
    RAMDISK = 3
    SIGNATURE = 4
    METADATA = 5


def section_type(value: int) -> SectionType | int:
    """Return the enum member for a known type, else the int itself (preserved)."""
    try:
        return SectionType(value)
    except ValueError:
        return value


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
        v = _HEADER_STRUCT.unpack(data)
        n = MAX_SECTIONS
        return cls(
            magic=v[0],
            version=v[1],
            flags=v[2],
            default_mem=v[3],
            default_cpus=v[4],
            reserved=v[5],
            num_sections=v[6],
            section_offsets=tuple(v[7 : 7 + n]),
            section_sizes=tuple(v[7 + n : 7 + 2 * n]),
            unused=v[7 + 2 * n],
            crc32=v[8 + 2 * n],
        )

    def pack(self) -> bytes:
        """Serialize to exactly ``HEADER_SIZE`` bytes."""
        if len(self.section_offsets) != MAX_SECTIONS or len(self.section_sizes) != MAX_SECTIONS:
            raise ValueError("section tables must have exactly 32 entries")
        return _HEADER_STRUCT.pack(
            self.magic,
            self.version,
            self.flags,
            self.default_mem,
            self.default_cpus,
            self.reserved,
            self.num_sections,
            *self.section_offsets,
            *self.section_sizes,
            self.unused,
            self.crc32,
        )

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
        t, f, s = _SECTION_STRUCT.unpack(data)
        return cls(type=t, flags=f, size=s)

    def pack(self) -> bytes:
        return _SECTION_STRUCT.pack(self.type, self.flags, self.size)
