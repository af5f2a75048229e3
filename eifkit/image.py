"""The in-memory model of an EIF: header fields plus an ordered list of sections.

A section holds a *source* of bytes, never the payload itself (except for the
small sections the builder makes, such as the cmdline and metadata): a range of
an existing file, a whole file, or a small ``bytes`` value. Every consumer reads a
source in chunks, so memory stays bounded whatever the section size.
"""

from __future__ import annotations

from dataclasses import dataclass

from .format import (
    CURRENT_VERSION,
    DEFAULT_CPUS,
    DEFAULT_MEMORY,
    MAGIC,
    Arch,
    SectionType,
    section_type_name,
)
from .sources import Source


@dataclass(frozen=True)
class Section:
    """One section: its type (known or not), header flags and data source.

    ``offset`` is where the section header sat in the file it was read from (None
    for sections that come from build inputs).
    """

    type: int
    source: Source
    flags: int = 0
    offset: int | None = None

    @property
    def size(self) -> int:
        return self.source.size

    @property
    def type_name(self) -> str:
        return section_type_name(self.type)

    @property
    def known_type(self) -> SectionType | None:
        try:
            return SectionType(self.type)
        except ValueError:
            return None


@dataclass(frozen=True)
class Filler:
    """Bytes of the original file that belong to no section (a gap or trailing data)."""

    offset: int
    source: Source


@dataclass(frozen=True)
class EifImage:
    """An EIF image: header fields and sections in header-table order.

    ``fillers``, ``stray_table_entries``, ``reserved``, ``unused`` and ``stored_crc`` record
    what a file read from disk had beyond its sections, so that writing with the
    original layout gives back the same bytes.
    """

    sections: tuple[Section, ...]
    version: int = CURRENT_VERSION
    flags: int = 0
    default_mem: int = DEFAULT_MEMORY
    default_cpus: int = DEFAULT_CPUS
    reserved: int = 0
    unused: int = 0
    magic: bytes = MAGIC
    stored_crc: int | None = None
    fillers: tuple[Filler, ...] = ()
    # non-zero (index, offset, size) table entries at indexes >= num_sections
    stray_table_entries: tuple[tuple[int, int, int], ...] = ()
    path: str | None = None
    file_size: int | None = None
    # odd-but-harmless things the reader noticed (gaps, trailing bytes, order ...)
    findings: tuple[str, ...] = ()

    @property
    def arch(self) -> Arch:
        return Arch.from_flags(self.flags)

    def of_type(self, t: SectionType) -> list[Section]:
        return [s for s in self.sections if s.type == t]

    @property
    def kernel(self) -> Section | None:
        found = self.of_type(SectionType.KERNEL)
        return found[0] if found else None

    @property
    def cmdline_section(self) -> Section | None:
        found = self.of_type(SectionType.CMDLINE)
        return found[0] if found else None

    @property
    def ramdisks(self) -> list[Section]:
        return self.of_type(SectionType.RAMDISK)

    @property
    def metadata_section(self) -> Section | None:
        found = self.of_type(SectionType.METADATA)
        return found[0] if found else None

    @property
    def signature_section(self) -> Section | None:
        found = self.of_type(SectionType.SIGNATURE)
        return found[0] if found else None

    @property
    def is_signed(self) -> bool:
        return self.signature_section is not None

    @property
    def has_original_layout(self) -> bool:
        return all(s.offset is not None for s in self.sections)
