"""Write an :class:`EifImage` to disk, streaming, measuring in the same pass.

Layouts:

- ``original``: every section at the offset it had in the file it was read from,
  with the gaps, trailing bytes, reserved fields and stray table entries of that
  file. Read -> write gives back the same bytes.
- ``canonical``: AWS's layout: kernel, cmdline, metadata, ramdisks (in their
  order), signature, then any other sections, contiguous from byte 548; reserved
  fields zeroed, no gaps.

The output is written to a temporary file in the target folder and renamed over
the target only when complete, so nothing half-written is ever left at ``path``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Literal

from .atomic import atomic_output, write_error
from .errors import InputError
from .format import SECTION_HEADER_SIZE, EifHeader, SectionHeader
from .image import EifImage
from .layout import Layout, PlacedSection, plan
from .measure import DEFAULT_ALGORITHM, MeasureEngine, Measurements
from .outfile import OutputFile, WriteStats
from .signing.signers import certificate_der_from_section
from .sources import DEFAULT_BUFFER_SIZE, BytesSource, DeferredSource, Source

CrcMode = Literal["compute", "keep"]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class WriteResult:
    """What :func:`write` produced."""

    path: str
    size: int
    crc32: int
    measurements: Measurements
    header: EifHeader
    io: WriteStats


def _check_deferred_is_last(placed: list[PlacedSection], index: int) -> None:
    last_in_file = max(range(len(placed)), key=lambda j: placed[j].offset)
    if index != len(placed) - 1 or index != last_in_file:
        raise ValueError("a deferred section must be the last one in the table and the file")


def _with_size(header: EifHeader, index: int, size: int) -> EifHeader:
    sizes = list(header.section_sizes)
    sizes[index] = size
    return replace(header, section_sizes=tuple(sizes))


def _copy(
    source: Source,
    out: OutputFile,
    offset: int,
    engine: MeasureEngine | None,
    progress: Progress | None,
    what: str,
) -> None:
    """Stream ``source`` to ``offset`` of ``out`` and into the engine.

    Each chunk is read straight into ``out``'s staging buffer and hashed there; the
    buffer is written in the background (see :mod:`eifkit.outfile`) while the next
    one is read and hashed.
    """
    written = 0
    out.start_run(offset)
    try:
        for chunk in source.read_into(out.space):
            if engine is not None:
                engine.feed(chunk)
            out.commit(len(chunk))
            written += len(chunk)
            if progress is not None:
                progress(len(chunk))
    finally:
        out.end_run()
    if written != source.size:
        raise InputError(
            f"{what} gave {written} bytes, expected {source.size}; was it changed while being read?"
        )


def write(
    image: EifImage,
    path: str | os.PathLike[str],
    *,
    layout: Layout = "canonical",
    crc: CrcMode | None = None,
    algo: str = DEFAULT_ALGORITHM,
    buffer_size: int = DEFAULT_BUFFER_SIZE,
    progress: Progress | None = None,
    fsync: bool = False,
    direct_io: bool = True,
) -> WriteResult:
    """Write ``image`` to ``path`` atomically; return its size, CRC and measurements.

    ``crc``: "compute" (the default for the canonical layout) writes the CRC32 of
    what was written; "keep" (the default for the original layout) writes the CRC
    the image was read with, so read -> write is exact even for a file whose CRC is
    wrong.

    The file appears at ``path`` only when complete (temporary file + rename). With
    ``fsync`` its data is also flushed to the disk before the rename, so that it
    survives a power loss; that costs the disk's write speed.

    ``direct_io``: long sections are written past the page cache (``O_DIRECT``) where
    the file system allows it and the disk keeps up; see :mod:`eifkit.outfile`.
    ``WriteResult.io`` says how the bytes were written.
    """
    target = os.fspath(path)
    if crc is None:
        crc = "keep" if layout == "original" else "compute"
    header, placed, end = plan(image, layout)
    engine = MeasureEngine(algo, certificate_der_from_section)
    pool = ThreadPoolExecutor(1, thread_name_prefix="eifkit-write")
    try:
        with atomic_output(target, fsync=fsync) as af:
            out = OutputFile(
                af.tmp, af.fd, buffer_size=buffer_size, pool=pool, direct=direct_io, name=target
            )
            try:
                raw = header.pack()
                engine.header(raw)
                out.write_at(0, raw)
                for i, p in enumerate(placed):
                    source: Source = p.section.source
                    if isinstance(source, DeferredSource):
                        _check_deferred_is_last(placed, i)
                        data = source.produce(engine.pcr0_so_far())
                        source = BytesSource(data)
                        header = _with_size(header, i, len(data))
                        end = p.offset + SECTION_HEADER_SIZE + len(data)
                    sh = SectionHeader(p.section.type, p.section.flags, source.size).pack()
                    out.write_at(p.offset, sh)
                    engine.start_section(sh, p.section.type)
                    _copy(
                        source,
                        out,
                        p.offset + SECTION_HEADER_SIZE,
                        engine,
                        progress,
                        f"section {i} ({p.section.type_name}) from {source.describe()}",
                    )
                    engine.end_section()
                if layout == "original":
                    for filler in image.fillers:
                        _copy(filler.source, out, filler.offset, None, None, "filler")
                engine.header(header.pack())  # the size table may have changed
                measurements = engine.finish()
                if crc == "keep" and image.stored_crc is not None:
                    final_crc = image.stored_crc
                else:
                    final_crc = measurements.crc32
                header = header.with_crc(final_crc)
                out.write_at(0, header.pack())
                try:
                    os.ftruncate(af.fd, end)
                except OSError as e:
                    raise write_error(e, target) from None
            finally:
                out.close()
    finally:
        pool.shutdown()
        engine.close()
    return WriteResult(
        path=target,
        size=end,
        crc32=final_crc,
        measurements=measurements,
        header=header,
        io=out.stats,
    )
