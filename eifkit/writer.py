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

import contextlib
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import BinaryIO, Literal

from .errors import InputError
from .format import SECTION_HEADER_SIZE, EifHeader, SectionHeader
from .image import DEFAULT_BUFFER_SIZE, BytesSource, DeferredSource, EifImage, Source
from .layout import Layout, PlacedSection, plan
from .measure import DEFAULT_ALGORITHM, MeasureEngine, Measurements
from .signing import certificate_der_from_section

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
    out: BinaryIO,
    expected: int,
    engine: MeasureEngine | None,
    buffer_size: int,
    progress: Progress | None,
    what: str,
    pool: ThreadPoolExecutor,
) -> None:
    """Stream ``source`` into ``out`` and the engine.

    Writing chunk N (a copy into the page cache, which costs about half as much as
    hashing it) runs on ``pool`` while chunk N+1 is read and hashed; two alternating
    read buffers keep chunk N intact until its write has finished.
    """
    written = 0
    pending: Future[int] | None = None
    try:
        for chunk in source.chunks(buffer_size, buffers=2):
            if engine is not None:
                engine.feed(chunk)
            if pending is not None:
                pending.result()
            pending = pool.submit(out.write, chunk)
            written += len(chunk)
            if progress is not None:
                progress(len(chunk))
    finally:
        if pending is not None:
            pending.result()
    if written != expected:
        raise InputError(
            f"{what} gave {written} bytes, expected {expected}; was it changed while being read?"
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
) -> WriteResult:
    """Write ``image`` to ``path`` atomically; return its size, CRC and measurements.

    ``crc``: "compute" (the default for the canonical layout) writes the CRC32 of
    what was written; "keep" (the default for the original layout) writes the CRC
    the image was read with, so read -> write is exact even for a file whose CRC is
    wrong.

    The file appears at ``path`` only when complete (temporary file + rename). With
    ``fsync`` its data is also flushed to the disk before the rename, so that it
    survives a power loss; that costs the disk's write speed.
    """
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise InputError("output folder does not exist", path=folder)
    if os.path.isdir(target):
        raise InputError("output path is a directory", path=target)
    if crc is None:
        crc = "keep" if layout == "original" else "compute"
    header, placed, end = plan(image, layout)
    engine = MeasureEngine(algo, certificate_der_from_section)
    pool = ThreadPoolExecutor(1, thread_name_prefix="eifkit-write")

    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder
        )
    except OSError as e:
        raise InputError(f"cannot create the output file: {e.strerror}", path=target) from None
    try:
        with os.fdopen(fd, "wb") as out:
            raw = header.pack()
            engine.header(raw)
            out.write(raw)
            for i, p in enumerate(placed):
                source: Source = p.section.source
                if isinstance(source, DeferredSource):
                    _check_deferred_is_last(placed, i)
                    data = source.produce(engine.pcr0_so_far())
                    source = BytesSource(data)
                    header = _with_size(header, i, len(data))
                    end = p.offset + SECTION_HEADER_SIZE + len(data)
                sh = SectionHeader(p.section.type, p.section.flags, source.size).pack()
                out.seek(p.offset)
                out.write(sh)
                engine.start_section(sh, p.section.type)
                _copy(
                    source,
                    out,
                    source.size,
                    engine,
                    buffer_size,
                    progress,
                    f"section {i} ({p.section.type_name}) from {source.describe()}",
                    pool,
                )
                engine.end_section()
            if layout == "original":
                for filler in image.fillers:
                    out.seek(filler.offset)
                    _copy(
                        filler.source,
                        out,
                        filler.source.size,
                        None,
                        buffer_size,
                        None,
                        "filler",
                        pool,
                    )
            engine.header(header.pack())  # the size table may have changed
            measurements = engine.finish()
            if crc == "keep" and image.stored_crc is not None:
                final_crc = image.stored_crc
            else:
                final_crc = measurements.crc32
            header = header.with_crc(final_crc)
            out.seek(0)
            out.write(header.pack())
            out.truncate(end)
            out.flush()
            if fsync:
                os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        pool.shutdown()
        engine.close()
    return WriteResult(
        path=target, size=end, crc32=final_crc, measurements=measurements, header=header
    )
