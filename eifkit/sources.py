"""Where section bytes come from: ranges of files, whole input files, small in-memory
values, or bytes the writer makes late (the signature of a signed build).

A source is read in chunks, so memory stays bounded whatever the section size.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from .errors import InputError

DEFAULT_BUFFER_SIZE = 4 << 20
# Gives a writable buffer for at most the given number of bytes (at least one byte).
Space = Callable[[int], memoryview]


class Source(Protocol):
    """Where a section's bytes come from."""

    @property
    def size(self) -> int: ...

    def chunks(self, buffer_size: int = DEFAULT_BUFFER_SIZE) -> Iterator[memoryview]:
        """The bytes in chunks of at most ``buffer_size``, each in the same reused
        buffer: a consumer must be done with a chunk before it asks for the next."""
        ...

    def read_into(self, space: Space) -> Iterator[memoryview]:
        """The bytes in chunks, each read straight into (a prefix of) the writable
        buffer ``space(bytes still wanted)`` returns, for a caller that owns the
        buffers (the writer's page-aligned staging buffers)."""
        ...

    def describe(self) -> str: ...


def _one_buffer(buffer_size: int, length: int) -> Space:
    """A :data:`Space` that hands out the same buffer every time."""
    view = memoryview(bytearray(min(buffer_size, max(length, 1))))
    return lambda limit: view[:limit]


def _read_range(path: str, offset: int, length: int, space: Space) -> Iterator[memoryview]:
    """Yield ``length`` bytes of ``path`` from ``offset``, each chunk read into (a prefix
    of) the buffer ``space(bytes still wanted)`` returns."""
    remaining = length
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        while remaining > 0:
            view = space(remaining)
            got = f.readinto(view[:remaining]) if len(view) else 0
            if not got:
                raise InputError(
                    f"file ended {remaining} bytes early (expected {length} bytes from offset "
                    f"{offset}); was it changed while being read?",
                    path=path,
                    offset=offset + length - remaining,
                )
            remaining -= got
            yield view[:got]


def _copy_into(data: bytes, space: Space) -> Iterator[memoryview]:
    view = memoryview(data)
    while view:
        target = space(len(view))
        n = len(target)
        if not n:
            raise ValueError("space() gave no room")
        target[:] = view[:n]
        view = view[n:]
        yield target


@dataclass(frozen=True)
class FileRange:
    """``length`` bytes of ``path`` starting at ``offset``."""

    path: str
    offset: int
    length: int

    @property
    def size(self) -> int:
        return self.length

    def chunks(self, buffer_size: int = DEFAULT_BUFFER_SIZE) -> Iterator[memoryview]:
        return self.read_into(_one_buffer(buffer_size, self.length))

    def read_into(self, space: Space) -> Iterator[memoryview]:
        return _read_range(self.path, self.offset, self.length, space)

    def read(self, limit: int) -> bytes:
        """Read the whole range if it is at most ``limit`` bytes (for small sections)."""
        return read_small(self, limit)

    def describe(self) -> str:
        return f"{self.path}[{self.offset}:{self.offset + self.length}]"


@dataclass(frozen=True)
class FileSource:
    """A whole input file (kernel, ramdisk ...). Its size is taken when it is opened."""

    path: str
    length: int

    @classmethod
    def open(cls, path: str | os.PathLike[str], what: str) -> FileSource:
        p = os.fspath(path)
        try:
            st = os.stat(p)
        except FileNotFoundError:
            raise InputError(f"{what} file not found", path=p) from None
        except OSError as e:
            raise InputError(f"cannot read {what} file: {e.strerror}", path=p) from None
        if os.path.isdir(p):
            raise InputError(f"{what} must be a file, found a directory", path=p)
        try:
            with open(p, "rb"):
                pass
        except OSError as e:
            raise InputError(f"cannot read {what} file: {e.strerror}", path=p) from None
        return cls(path=p, length=st.st_size)

    @property
    def size(self) -> int:
        return self.length

    def chunks(self, buffer_size: int = DEFAULT_BUFFER_SIZE) -> Iterator[memoryview]:
        return self.read_into(_one_buffer(buffer_size, self.length))

    def read_into(self, space: Space) -> Iterator[memoryview]:
        return _read_range(self.path, 0, self.length, space)

    def describe(self) -> str:
        return self.path


@dataclass(frozen=True)
class BytesSource:
    """Bytes held in memory: only for small sections (cmdline, metadata, signature)."""

    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def chunks(self, buffer_size: int = DEFAULT_BUFFER_SIZE) -> Iterator[memoryview]:
        view = memoryview(self.data)
        for start in range(0, len(view), buffer_size):
            yield view[start : start + buffer_size]

    def read_into(self, space: Space) -> Iterator[memoryview]:
        return _copy_into(self.data, space)

    def describe(self) -> str:
        return f"<{len(self.data)} bytes>"


@dataclass(frozen=True)
class DeferredSource:
    """Bytes the writer makes once the sections before it are measured.

    Used for the signature section of a signed build: ``produce(pcr0)`` returns the
    section bytes, so kernel and ramdisks are read once. Its size is unknown until
    then (``size`` is only an estimate), so it must be the last section in the file
    and in the header table.
    """

    produce: Callable[[bytes], bytes]
    estimated_size: int = 0

    @property
    def size(self) -> int:
        return self.estimated_size

    def chunks(self, buffer_size: int = DEFAULT_BUFFER_SIZE) -> Iterator[memoryview]:
        raise TypeError("a deferred section is only produced by the writer")

    def read_into(self, space: Space) -> Iterator[memoryview]:
        raise TypeError("a deferred section is only produced by the writer")

    def describe(self) -> str:
        return "<made while writing>"


class RangeFile(io.RawIOBase):
    """A read-only, seekable file object over ``length`` bytes of ``path`` at ``offset``."""

    def __init__(self, path: str, offset: int, length: int) -> None:
        super().__init__()
        self._f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._start, self._length, self._pos = offset, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def readinto(self, buf: Any) -> int:
        n = max(0, min(len(buf), self._length - self._pos))
        if n == 0:
            return 0
        self._f.seek(self._start + self._pos)
        got = self._f.readinto(memoryview(buf)[:n])
        self._pos += got or 0
        return got or 0

    def close(self) -> None:
        self._f.close()
        super().close()


def open_source(source: Source) -> BinaryIO:
    """A seekable binary file object reading a source (no copy of a file's bytes)."""
    if isinstance(source, BytesSource):
        return io.BytesIO(source.data)
    if isinstance(source, FileRange):
        return io.BufferedReader(RangeFile(source.path, source.offset, source.length), 1 << 20)
    if isinstance(source, FileSource):
        return io.BufferedReader(RangeFile(source.path, 0, source.length), 1 << 20)
    raise TypeError(f"cannot open {source.describe()} as a file")


def read_small(source: Source, limit: int) -> bytes:
    """Return a source's bytes, refusing sources larger than ``limit``."""
    if isinstance(source, BytesSource):
        data = source.data
        if len(data) > limit:
            raise ValueError(f"{len(data)} bytes is more than the {limit}-byte limit")
        return data
    if source.size > limit:
        raise ValueError(f"{source.size} bytes is more than the {limit}-byte limit")
    return b"".join(bytes(c) for c in source.chunks())
