"""Where each section goes in a file: the original layout or AWS's canonical one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from .errors import InputError
from .format import HEADER_SIZE, MAX_SECTIONS, SECTION_HEADER_SIZE, EifHeader, SectionType
from .image import EifImage, Section

Layout = Literal["original", "canonical"]

# AWS's section order (eif_build and nitro-cli build-enclave); the types eifkit build writes.
CANONICAL_ORDER = (
    SectionType.KERNEL,
    SectionType.CMDLINE,
    SectionType.METADATA,
    SectionType.RAMDISK,
    SectionType.SIGNATURE,
)
_RANK: dict[int, int] = {t: r for r, t in enumerate(CANONICAL_ORDER)}


def canonical_rank(section_type: int) -> int:
    """Position of a section type in AWS's order; types AWS does not write come last."""
    return _RANK.get(section_type, len(CANONICAL_ORDER))


def in_canonical_order(section_types: Iterable[int]) -> bool:
    """Whether sections of these types (in this order) follow AWS's order."""
    ranks = [canonical_rank(t) for t in section_types]
    return ranks == sorted(ranks)


def canonical_order(sections: Sequence[Section]) -> list[Section]:
    """AWS's order; sections of one type keep their relative order; others go last."""
    return sorted(sections, key=lambda s: canonical_rank(s.type))


@dataclass(frozen=True)
class PlacedSection:
    section: Section
    offset: int


def layout_of(image: EifImage) -> Layout:
    """How an image is measured and written by default: as read, or as AWS lays it out."""
    return "original" if image.has_original_layout else "canonical"


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
        # The file's own reserved fields and table entries past the sections stay.
        offsets = list(image.header.section_offsets)
        sizes = list(image.header.section_sizes)
        header = image.header
    elif layout == "canonical":
        pos = HEADER_SIZE
        for s in canonical_order(image.sections):
            placed.append(PlacedSection(s, pos))
            pos += SECTION_HEADER_SIZE + s.size
        end = pos
        offsets = [0] * MAX_SECTIONS
        sizes = [0] * MAX_SECTIONS
        header = replace(image.header, reserved=0, unused=0)
    else:
        raise ValueError(f"unknown layout {layout!r}")
    for i, p in enumerate(placed):
        offsets[i] = p.offset
        sizes[i] = p.section.size
    header = replace(
        header,
        num_sections=len(placed),
        section_offsets=tuple(offsets),
        section_sizes=tuple(sizes),
        crc32=0,
    )
    return header, placed, end
