"""Where each section goes in a file: the original layout or AWS's canonical one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .errors import InputError
from .format import HEADER_SIZE, MAX_SECTIONS, SECTION_HEADER_SIZE, EifHeader, SectionType
from .image import EifImage, Section

Layout = Literal["original", "canonical"]

# AWS's section order (eif_build and nitro-cli build-enclave).
CANONICAL_ORDER = (
    SectionType.KERNEL,
    SectionType.CMDLINE,
    SectionType.METADATA,
    SectionType.RAMDISK,
    SectionType.SIGNATURE,
)


@dataclass(frozen=True)
class PlacedSection:
    section: Section
    offset: int


def canonical_order(sections: Sequence[Section]) -> list[Section]:
    """AWS's order; sections of one type keep their relative order; others go last."""
    rank = {t: r for r, t in enumerate(CANONICAL_ORDER)}
    indexed = sorted(enumerate(sections), key=lambda p: (rank.get(p[1].type, len(rank)), p[0]))
    return [s for _, s in indexed]


def plan(image: EifImage, layout: Layout) -> tuple[EifHeader, list[PlacedSection], int]:
    """Header (CRC 0), sections with offsets in header-table order, and total file size."""
    if len(image.sections) > MAX_SECTIONS:
        raise InputError(
            f"{len(image.sections)} sections, at most {MAX_SECTIONS} fit in an EIF header",
            field="num_sections",
        )
    placed: list[PlacedSection] = []
    if layout == "original":
        if not image.has_original_layout:
            raise ValueError("the original layout needs an image read from a file")
        placed = [PlacedSection(s, s.offset or 0) for s in image.sections]
        end = max(
            [p.offset + SECTION_HEADER_SIZE + p.section.size for p in placed]
            + [f.offset + f.source.size for f in image.fillers]
            + [HEADER_SIZE]
        )
        stray = image.stray_table_entries
        reserved, unused = image.reserved, image.unused
    elif layout == "canonical":
        pos = HEADER_SIZE
        for s in canonical_order(image.sections):
            placed.append(PlacedSection(s, pos))
            pos += SECTION_HEADER_SIZE + s.size
        end = pos
        stray = ()
        reserved = unused = 0
    else:
        raise ValueError(f"unknown layout {layout!r}")
    offsets = [0] * MAX_SECTIONS
    sizes = [0] * MAX_SECTIONS
    for i, p in enumerate(placed):
        offsets[i] = p.offset
        sizes[i] = p.section.size
    for i, off, size in stray:
        offsets[i], sizes[i] = off, size
    header = EifHeader(
        magic=image.magic,
        version=image.version,
        flags=image.flags,
        default_mem=image.default_mem,
        default_cpus=image.default_cpus,
        reserved=reserved,
        num_sections=len(placed),
        section_offsets=tuple(offsets),
        section_sizes=tuple(sizes),
        unused=unused,
        crc32=0,
    )
    return header, placed, end
