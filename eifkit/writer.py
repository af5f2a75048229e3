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

import errno
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from time import perf_counter
from typing import Literal

from .atomic import InputPaths, atomic_output, write_error
from .format import EifHeader
from .image import EifImage
from .layout import Layout, plan
from .measure import DEFAULT_ALGORITHM, MeasureEngine, Measurements
from .outfile import OutputFile, WriteStats
from .sources import DEFAULT_BUFFER_SIZE, Source
from .stream import Consume, StageTimes, copy_counted, walk

CrcMode = Literal["compute", "keep"]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class WriteTimes:
    """Where a write's wall time went, in seconds. The stages overlap (the second
    SHA-384 stream and the disk writes run on other threads), so they are the time
    the writing thread spent in each, and they add up to ``total``:

    - ``measure``: hashing and CRC on this thread, including waiting for the second
      stream's worker;
    - ``read``: reading the inputs into the output's staging buffers;
    - ``disk``: waiting for the disk (a staging buffer still being written, the last
      writes, fsync, the rename);
    - ``other``: the rest (layout, headers, signing).
    """

    total: float
    measure: float
    read: float
    disk: float

    @property
    def other(self) -> float:
        return max(0.0, self.total - self.measure - self.read - self.disk)


@dataclass(frozen=True)
class WriteResult:
    """What :func:`write` produced."""

    path: str
    size: int
    crc32: int
    measurements: Measurements
    header: EifHeader
    io: WriteStats
    times: WriteTimes


@dataclass(frozen=True)
class _ToFile:
    """The walk's :class:`~eifkit.stream.DataPath` into the output file.

    Each chunk is read straight into the output's staging buffer and hashed there; the
    buffer is written in the background (see :mod:`eifkit.outfile`) while the next one
    is read and hashed.
    """

    out: OutputFile

    def header(self, offset: int, data: bytes) -> None:
        self.out.write_at(offset, data)

    def copy(self, source: Source, offset: int, consume: Consume) -> None:
        self.out.start_run(offset)
        try:
            for chunk in source.read_into(self.out.space):
                consume(chunk)
                self.out.commit(len(chunk))
        finally:
            self.out.end_run()


RESERVE_MIN = 64 << 20


def _reserve(fd: int, size: int, target: str) -> None:
    """Allocate a large output's blocks before writing it: the file system then does
    not allocate them write by write (a third less kernel time per page-cache write
    here), and a full disk is reported before any hashing. Skipped where the file
    system cannot do it cheaply."""
    if size < RESERVE_MIN:
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            return
        raise write_error(e, target) from None


def _ignore(chunk: memoryview) -> None:
    pass


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
    direct_io: bool = False,
    inputs: InputPaths = (),
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
    the file system allows it and the disk keeps up; see :mod:`eifkit.outfile`. Off
    by default: what usually comes next (verify, pcr, an upload, a boot) reads the EIF
    again, and finds it in the page cache only if it was written through it.
    ``WriteResult.io`` says how the bytes were written.

    ``inputs``: the files the caller read to make ``image`` (keys, certificates ...);
    writing over one of them, or into an input folder, is refused
    (:func:`eifkit.atomic.check_output_not_input`).
    """
    target = os.fspath(path)
    if crc is None:
        crc = "keep" if layout == "original" else "compute"
    engine = MeasureEngine(algo)
    pool = ThreadPoolExecutor(1, thread_name_prefix="eifkit-write")
    times = StageTimes()
    started = perf_counter()
    try:
        with atomic_output(target, fsync=fsync, inputs=inputs) as af:
            _reserve(af.fd, plan(image, layout)[2], target)
            out = OutputFile(
                af.tmp, af.fd, buffer_size=buffer_size, pool=pool, direct=direct_io, name=target
            )
            try:
                to_file = _ToFile(out)
                walked = walk(image, layout, engine, to_file, progress, times)
                if layout == "original":
                    for filler in image.fillers:
                        copy_counted(to_file, filler.source, filler.offset, _ignore, "filler")
                measurements = engine.finish()
                if crc == "keep" and image.stored_crc is not None:
                    final_crc = image.stored_crc
                else:
                    final_crc = measurements.crc32
                header = walked.header.with_crc(final_crc)
                out.write_at(0, header.pack())
                try:
                    os.ftruncate(af.fd, walked.size)
                except OSError as e:
                    raise write_error(e, target) from None
                finishing, waited = perf_counter(), out.stats.waited
            finally:
                out.close()
    finally:
        pool.shutdown()
        engine.close()
    ended = perf_counter()
    disk = waited + (ended - finishing)
    return WriteResult(
        path=target,
        size=walked.size,
        crc32=final_crc,
        measurements=measurements,
        header=header,
        io=out.stats,
        times=WriteTimes(
            total=ended - started,
            measure=times.measure,
            read=max(0.0, times.copy - times.measure - waited),
            disk=disk,
        ),
    )
