"""Open an EIF file as an :class:`EifImage` whose sections point into the file.

Nothing here reads section data: each section is a :class:`FileRange`. Structural
problems raise :class:`FormatError` naming the file, offset, field, what was found
and what was expected.

Two modes:

- strict (default): what a loader is entitled to expect of an EIF v4 file:
  version 4, only the arch bit in the flags, section flags 0, no type 0 or unknown
  types, exactly one kernel and one cmdline, at least one ramdisk, at most one
  metadata and one signature section, a signature of at most 32768 bytes.
- lenient: anything that can be parsed at all (unknown types, any version or
  flags, duplicate or missing sections ...), so that fixtures can be inspected.

In both modes these are errors, because no reading of the file makes sense
otherwise: a file shorter than the header, a wrong magic, more than 32 sections, a
section starting inside the header or past the end of the file, a section whose
table size differs from its own header, and sections that overlap.

Odd but harmless things (gaps, trailing bytes, non-zero reserved fields, an order
other than AWS's, no metadata section) are reported in ``EifImage.findings``.
"""

from __future__ import annotations

import itertools
import os
import stat
from collections import Counter
from dataclasses import replace

from .errors import FormatError
from .format import (
    ARCH_AARCH64_FLAG,
    CURRENT_VERSION,
    HEADER,
    HEADER_SIZE,
    MAGIC,
    MAX_SECTIONS,
    MAX_SIGNATURE_SIZE,
    SECTION_HEADER,
    SECTION_HEADER_SIZE,
    EifHeader,
    SectionHeader,
    SectionType,
    section_type_name,
)
from .image import EifImage, Filler, Section
from .layout import in_canonical_order
from .sources import FileRange, OpenFile


def read(path: str | os.PathLike[str], *, strict: bool = True) -> EifImage:
    """Parse the header and section table of the EIF at ``path``.

    Returns an image whose sections are lazy ranges of the file, all read through the
    one descriptor opened here (close it with ``image.close()`` or ``with``). Raises
    FormatError on structural problems and when the file cannot be read.
    """
    p = os.fspath(path)
    try:
        f = OpenFile.open(p)
    except FileNotFoundError:
        raise FormatError("file not found", path=p) from None
    except IsADirectoryError:
        raise FormatError("expected an EIF file, found a directory", path=p) from None
    except OSError as e:
        raise FormatError(f"cannot read: {e.strerror}", path=p) from None
    try:
        if stat.S_ISDIR(os.fstat(f.fileno()).st_mode):
            raise FormatError("expected an EIF file, found a directory")
        return _parse(f, strict)
    except FormatError as e:
        f.close()
        raise e.with_path(p) from None
    except OSError as e:
        f.close()
        raise FormatError(f"cannot read: {e.strerror}", path=p) from None


def _err(msg: str, field: str | None = None, offset: int | None = None) -> FormatError:
    if offset is None and field is not None:
        base, _, index = field.partition("[")
        known = HEADER.by_name.get(base)
        if known is not None:
            offset = known.item_offset(int(index.rstrip("]")) if index[:1].isdigit() else 0)
    return FormatError(msg, field=field, offset=offset)


def _parse(f: OpenFile, strict: bool) -> EifImage:
    path, file_size = f.path, f.size
    raw = f.read_at(0, HEADER_SIZE)
    if len(raw) < HEADER_SIZE:
        raise _err(
            f"file is {len(raw)} bytes, shorter than the {HEADER_SIZE}-byte EIF header",
            field="header",
            offset=0,
        )
    hdr = EifHeader.unpack(raw)
    if hdr.magic != MAGIC:
        raise _err(f"magic is {hdr.magic.hex()}, expected {MAGIC.hex()} ('.eif')", field="magic")
    n = hdr.num_sections
    if n > MAX_SECTIONS:
        raise _err(f"num_sections is {n}, at most {MAX_SECTIONS} allowed", field="num_sections")
    if strict:
        if hdr.version != CURRENT_VERSION:
            raise _err(f"version is {hdr.version}, expected {CURRENT_VERSION}", field="version")
        if hdr.flags & ~ARCH_AARCH64_FLAG:
            raise _err(f"flags is {hdr.flags:#06x}, only bit 0 (aarch64) may be set", field="flags")

    sections: list[Section] = []
    for i in range(n):
        off, size = hdr.section_offsets[i], hdr.section_sizes[i]
        where = f"section_offsets[{i}]"
        if off < HEADER_SIZE:
            raise _err(
                f"section {i} starts at offset {off}, inside the {HEADER_SIZE}-byte header",
                field=where,
                offset=HEADER.offset("section_offsets", i),
            )
        if off + SECTION_HEADER_SIZE > file_size:
            raise _err(
                f"section {i} header at offset {off} runs past the end of the file "
                f"({file_size} bytes)",
                field=where,
                offset=HEADER.offset("section_offsets", i),
            )
        sh = SectionHeader.unpack(f.read_at(off, SECTION_HEADER_SIZE))
        if sh.size != size:
            raise _err(
                f"section {i} size is {size} in the header table but {sh.size} in its "
                "section header",
                field=f"section {i} section_size",
                offset=off + SECTION_HEADER.offset("size"),
            )
        if off + SECTION_HEADER_SIZE + size > file_size:
            raise _err(
                f"section {i} ({section_type_name(sh.type)}) needs {size} bytes of data "
                f"but the file ends {file_size - off - SECTION_HEADER_SIZE} bytes after "
                "its header (truncated)",
                field=f"section {i} data",
                offset=off + SECTION_HEADER_SIZE,
            )
        if strict:
            if sh.flags != 0:
                raise _err(
                    f"section {i} flags is {sh.flags:#06x}, expected 0",
                    field=f"section {i} flags",
                    offset=off + SECTION_HEADER.offset("flags"),
                )
            if sh.type == SectionType.INVALID or sh.type > max(SectionType):
                raise _err(
                    f"section {i} type is {sh.type} ({section_type_name(sh.type)}), expected "
                    f"{SectionType.KERNEL:d}..{max(SectionType):d}",
                    field=f"section {i} type",
                    offset=off,
                )
            if sh.type == SectionType.SIGNATURE and size > MAX_SIGNATURE_SIZE:
                raise _err(
                    f"signature section is {size} bytes, at most {MAX_SIGNATURE_SIZE} allowed",
                    field=f"section {i} section_size",
                    offset=off + SECTION_HEADER.offset("size"),
                )
        sections.append(
            Section(
                type=sh.type,
                flags=sh.flags,
                offset=off,
                source=FileRange(f, off + SECTION_HEADER_SIZE, size),
            )
        )

    extents = sorted(
        (s.offset or 0, (s.offset or 0) + SECTION_HEADER_SIZE + s.size, i)
        for i, s in enumerate(sections)
    )
    for (s0, e0, i0), (s1, _e1, i1) in itertools.pairwise(extents):
        if s1 < e0:
            raise _err(
                f"section {i1} at offset {s1} overlaps section {i0} ({s0}..{e0})",
                field=f"section_offsets[{i1}]",
                offset=HEADER.offset("section_offsets", i1),
            )

    counts = Counter(s.type for s in sections)
    if strict:
        for t, what in ((SectionType.KERNEL, "kernel"), (SectionType.CMDLINE, "cmdline")):
            if counts[t] != 1:
                raise _err(
                    f"found {counts[t]} {what} sections, expected exactly 1", field="sections"
                )
        if counts[SectionType.RAMDISK] < 1:
            raise _err("found no ramdisk section, expected at least 1", field="sections")
        for t, what in ((SectionType.METADATA, "metadata"), (SectionType.SIGNATURE, "signature")):
            if counts[t] > 1:
                raise _err(
                    f"found {counts[t]} {what} sections, expected at most 1", field="sections"
                )

    fillers: list[Filler] = []
    findings: list[str] = []
    pos = HEADER_SIZE
    for start, end, _i in extents:
        if start > pos:
            fillers.append(Filler(pos, FileRange(f, pos, start - pos)))
            findings.append(f"gap of {start - pos} bytes at offset {pos} (not covered by the CRC)")
        pos = max(pos, end)
    if file_size > pos:
        fillers.append(Filler(pos, FileRange(f, pos, file_size - pos)))
        findings.append(f"{file_size - pos} trailing bytes after the last section at offset {pos}")
    image = EifImage(
        sections=tuple(sections),
        header=hdr,
        fillers=tuple(fillers),
        path=path,
        file_size=file_size,
    )
    findings.extend(_findings(image, counts, strict))
    return replace(image, findings=tuple(findings))


def _findings(image: EifImage, counts: Counter[int], strict: bool) -> list[str]:
    hdr, sections, stray = image.header, image.sections, image.stray_table_entries
    out: list[str] = []
    if hdr.reserved:
        out.append(f"reserved header field is {hdr.reserved}, expected 0")
    if hdr.unused:
        out.append(f"unused header field is {hdr.unused}, expected 0")
    for i, off, size in stray:
        out.append(f"header table entry {i} (beyond num_sections) holds offset {off} size {size}")
    if counts[SectionType.METADATA] == 0:
        out.append("no metadata section (AWS's tools always write one for version 4)")
    if not strict:
        if hdr.version != CURRENT_VERSION:
            out.append(f"version is {hdr.version}, expected {CURRENT_VERSION}")
        if hdr.flags & ~ARCH_AARCH64_FLAG:
            out.append(f"flags is {hdr.flags:#06x}, only bit 0 (aarch64) is defined")
        for i, s in enumerate(sections):
            if s.flags:
                out.append(f"section {i} flags is {s.flags:#06x}, expected 0")
            if s.known_type is None or s.type == SectionType.INVALID:
                out.append(f"section {i} has type {s.type} ({s.type_name})")
    if not in_canonical_order(s.type for s in sections):
        out.append(
            "section order is not AWS's (kernel, cmdline, metadata, ramdisks, signature): "
            + ", ".join(s.type_name for s in sections)
        )
    offsets = [s.offset or 0 for s in sections]
    if offsets != sorted(offsets):
        out.append("header table order differs from file order (AWS's reader uses file order)")
    return out
