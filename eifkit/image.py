"""The in-memory model of an EIF: its header plus an ordered list of sections.

A section holds a *source* of bytes, never the payload itself (except for the
small sections the builder makes, such as the cmdline and metadata): a range of
an existing file, a whole file, or a small ``bytes`` value. Every consumer reads a
source in chunks, so memory stays bounded whatever the section size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import overload

from .format import MAX_SECTIONS, Arch, EifHeader, SectionType, section_type_name
from .sources import FileRange, Source


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


class _HeaderField:
    """``image.NAME`` reads ``image.header.NAME``: one source of truth, no copy."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, image: None, owner: type) -> _HeaderField: ...

    @overload
    def __get__(self, image: EifImage, owner: type | None = None) -> int: ...

    def __get__(self, image: EifImage | None, owner: type | None = None) -> int | _HeaderField:
        if image is None:
            return self
        value: int = getattr(image.header, self.name)
        return value


@dataclass(frozen=True)
class EifImage:
    """An EIF image: its header and its sections in header-table order.

    ``header`` is the header as read from a file (for a built image: version, flags
    and defaults, with empty section tables); the writer derives the section tables
    from ``sections``. What a file had beyond its sections (``fillers``, the header's
    reserved fields and table entries past the last section, its stored CRC) is kept,
    so that writing with the original layout gives back the same bytes.

    An image read from a file reads its sections through one open descriptor of that
    file (see :class:`eifkit.sources.OpenFile`); :meth:`close` (or ``with``) closes it
    now, otherwise it closes when the image and its sections are gone.
    """

    sections: tuple[Section, ...]
    header: EifHeader = field(default_factory=EifHeader)
    fillers: tuple[Filler, ...] = ()
    path: str | None = None
    file_size: int | None = None
    # odd-but-harmless things the reader noticed (gaps, trailing bytes, order ...)
    findings: tuple[str, ...] = ()

    def close(self) -> None:
        """Close the file the sections are read from (if read from a file)."""
        for source in [s.source for s in self.sections] + [f.source for f in self.fillers]:
            if isinstance(source, FileRange):
                source.file.close()

    def __enter__(self) -> EifImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The header's fields that callers ask for by name (read-only views, no copies).
    version = _HeaderField()
    flags = _HeaderField()
    default_mem = _HeaderField()
    default_cpus = _HeaderField()

    @property
    def arch(self) -> Arch:
        return self.header.arch

    @property
    def stored_crc(self) -> int | None:
        """The CRC32 stored in the file the image was read from (None if not read)."""
        return self.header.crc32 if self.path is not None else None

    @property
    def stray_table_entries(self) -> tuple[tuple[int, int, int], ...]:
        """Non-zero ``(index, offset, size)`` header-table entries past the sections."""
        h = self.header
        return tuple(
            (i, h.section_offsets[i], h.section_sizes[i])
            for i in range(len(self.sections), MAX_SECTIONS)
            if h.section_offsets[i] or h.section_sizes[i]
        )

    def of_type(self, t: SectionType) -> list[Section]:
        return [s for s in self.sections if s.type == t]

    def first_of_type(self, t: SectionType) -> Section | None:
        return next((s for s in self.sections if s.type == t), None)

    @property
    def kernel(self) -> Section | None:
        return self.first_of_type(SectionType.KERNEL)

    @property
    def cmdline_section(self) -> Section | None:
        return self.first_of_type(SectionType.CMDLINE)

    @property
    def ramdisks(self) -> list[Section]:
        return self.of_type(SectionType.RAMDISK)

    @property
    def metadata_section(self) -> Section | None:
        return self.first_of_type(SectionType.METADATA)

    @property
    def signature_section(self) -> Section | None:
        return self.first_of_type(SectionType.SIGNATURE)

    @property
    def is_signed(self) -> bool:
        return self.signature_section is not None

    @property
    def has_original_layout(self) -> bool:
        return all(s.offset is not None for s in self.sections)
