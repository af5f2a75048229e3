"""The one walk over an image as it lies in a file: the header, then each placed
section's header and data, fed to the measurement engine on the way.

Measuring (:func:`measure_image`) and writing (:mod:`eifkit.writer`) both walk an
image with :func:`walk`; they differ only in the :class:`DataPath` that moves the
bytes: measuring just reads them, the writer reads them into its output buffers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from time import perf_counter
from typing import Protocol

from .errors import InputError
from .format import SECTION_HEADER_SIZE, EifHeader, SectionHeader
from .image import EifImage
from .layout import Layout, PlacedSection, layout_of, plan
from .measure import DEFAULT_ALGORITHM, MeasureEngine, Measurements
from .sources import DEFAULT_BUFFER_SIZE, BytesSource, DeferredSource, Source

Progress = Callable[[int], None]
Consume = Callable[[memoryview], None]


class DataPath(Protocol):
    """Where the walk's bytes go."""

    def header(self, offset: int, data: bytes) -> None:
        """The file header (offset 0) or a section header, as it will be in the file."""
        ...

    def copy(self, source: Source, offset: int, consume: Consume) -> None:
        """Move ``source``'s bytes to ``offset`` of the file, handing every chunk to
        ``consume`` (which must be done with it before the next one is read)."""
        ...


@dataclass
class StageTimes:
    """Where a walk's time went, in seconds of this thread's wall clock: ``measure``
    in the measuring engine (SHA-384 streams, CRC, waiting for the second stream's
    worker), ``copy`` moving the bytes in all (reading, staging, and ``measure``)."""

    measure: float = 0.0
    copy: float = 0.0


@dataclass(frozen=True)
class Walked:
    """The file a walk laid out: its header (CRC 0, final size table) and size."""

    header: EifHeader
    size: int


def copy_counted(path: DataPath, source: Source, offset: int, consume: Consume, what: str) -> None:
    """``path.copy``, checking that the source gave exactly the bytes it promised."""
    moved = 0

    def count(chunk: memoryview) -> None:
        nonlocal moved
        moved += len(chunk)
        consume(chunk)

    path.copy(source, offset, count)
    if moved != source.size:
        raise InputError(
            f"{what} gave {moved} bytes, expected {source.size}; was it changed while being read?"
        )


def _check_deferred_is_last(placed: list[PlacedSection], index: int) -> None:
    last_in_file = max(range(len(placed)), key=lambda j: placed[j].offset)
    if index != len(placed) - 1 or index != last_in_file:
        raise ValueError("a deferred section must be the last one in the table and the file")


def walk(
    image: EifImage,
    layout: Layout,
    engine: MeasureEngine,
    path: DataPath,
    progress: Progress | None = None,
    times: StageTimes | None = None,
) -> Walked:
    """Lay ``image`` out, then pass its header and every section through ``path`` and
    ``engine`` in header-table order. A deferred section (the signature of a signed
    build) is produced from the PCR0 of what came before it.

    The engine gets the final header last (a deferred section changes the size table);
    ``path`` gets the header with CRC 0 first; whoever writes the CRC does it after.
    """
    header, placed, end = plan(image, layout)
    path.header(0, header.pack())

    def consume(chunk: memoryview) -> None:
        if times is None:
            engine.feed(chunk)
        else:
            started = perf_counter()
            engine.feed(chunk)
            times.measure += perf_counter() - started
        if progress is not None:
            progress(len(chunk))

    for i, p in enumerate(placed):
        source: Source = p.section.source
        if isinstance(source, DeferredSource):
            _check_deferred_is_last(placed, i)
            if source.check_prefix is not None:
                source.check_prefix(*engine.sections_crc_so_far())
            source = BytesSource(source.produce(engine.pcr0_so_far()))
            sizes = list(header.section_sizes)
            sizes[i] = source.size
            header = replace(header, section_sizes=tuple(sizes))
            end = p.offset + SECTION_HEADER_SIZE + source.size
        section_header = SectionHeader(p.section.type, p.section.flags, source.size).pack()
        path.header(p.offset, section_header)
        engine.start_section(section_header, p.section.type)
        what = f"section {i} ({p.section.type_name}) from {source.describe()}"
        started = perf_counter()
        copy_counted(path, source, p.offset + SECTION_HEADER_SIZE, consume, what)
        if times is not None:
            times.copy += perf_counter() - started
        engine.end_section()
    engine.header(header.pack())
    return Walked(header, end)


@dataclass(frozen=True)
class _ReadOnly:
    """A :class:`DataPath` that only reads: for measuring."""

    buffer_size: int

    def header(self, offset: int, data: bytes) -> None:
        pass

    def copy(self, source: Source, offset: int, consume: Consume) -> None:
        for chunk in source.chunks(self.buffer_size):
            consume(chunk)


def measure_image(
    image: EifImage,
    algo: str = DEFAULT_ALGORITHM,
    *,
    buffer_size: int = DEFAULT_BUFFER_SIZE,
    progress: Progress | None = None,
) -> Measurements:
    """Measure an image by streaming its section sources through the engine.

    An image read from a file is measured as laid out in that file (its header
    table order); an image made from build inputs as it would be written
    canonically (a signed build is signed on the way, as the writer would).
    """
    engine = MeasureEngine(algo)
    try:
        walk(image, layout_of(image), engine, _ReadOnly(buffer_size), progress)
        return engine.finish()
    finally:
        engine.close()
