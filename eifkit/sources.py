"""Where section bytes come from: ranges of files, whole input files, small in-memory
values, or bytes the writer makes late (the signature of a signed build).

A source is read in chunks, so memory stays bounded whatever the section size.
"""

from __future__ import annotations

import io
import os
import stat
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from .errors import EifError, FormatError, InputError

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


class OpenFile:
    """One read-only descriptor of a file, shared by every range read from it.

    Every read is a positional ``os.pread``, so readers on several threads never race
    on a file offset, and all of them see the same file even if the path is replaced
    meanwhile: an image read from a file is a consistent snapshot of that file. The
    descriptor is closed by :meth:`close` or, at the latest, when the last range
    using it is gone.
    """

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd
        self._finalizer = weakref.finalize(self, os.close, fd)

    @classmethod
    def open(cls, path: str) -> OpenFile:
        """Open ``path`` for reading (OSError as ``open`` raises it)."""
        return cls(path, os.open(path, os.O_RDONLY | os.O_CLOEXEC))

    @property
    def size(self) -> int:
        return os.fstat(self.fileno()).st_size

    def fileno(self) -> int:
        if self._fd is None:
            raise InputError("the file was closed before all of it was read", path=self.path)
        return self._fd

    def close(self) -> None:
        self._fd = None
        self._finalizer()

    def __enter__(self) -> OpenFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (fewer only at the end of the file)."""
        return os.pread(self.fileno(), n, offset)

    def read_into(self, view: memoryview, offset: int) -> int:
        """Read up to ``len(view)`` bytes at ``offset`` into ``view``; 0 at the end."""
        return os.preadv(self.fileno(), [view], offset)

    def read_range(self, offset: int, length: int, space: Space) -> Iterator[memoryview]:
        """Yield ``length`` bytes from ``offset``, each chunk read into (a prefix of) the
        buffer ``space(bytes still wanted)`` returns."""
        remaining = length
        while remaining > 0:
            view = space(remaining)[:remaining]
            got = self.read_into(view, offset + length - remaining) if len(view) else 0
            if not got:
                raise InputError(
                    f"file ended {remaining} bytes early (expected {length} bytes from offset "
                    f"{offset}); was it changed while being read?",
                    path=self.path,
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


class _FileBytes:
    """``size`` and ``chunks`` for a source of ``length`` bytes read by its
    ``read_into`` (the two file sources, and bytes generated while read)."""

    length: int

    @property
    def size(self) -> int:
        return self.length

    def chunks(self, buffer_size: int = DEFAULT_BUFFER_SIZE) -> Iterator[memoryview]:
        return self.read_into(_one_buffer(buffer_size, self.length))

    def read_into(self, space: Space) -> Iterator[memoryview]:
        raise NotImplementedError


@dataclass(frozen=True)
class FileRange(_FileBytes):
    """``length`` bytes at ``offset`` of an open file (an EIF being read)."""

    file: OpenFile
    offset: int
    length: int

    @property
    def path(self) -> str:
        return self.file.path

    def read_into(self, space: Space) -> Iterator[memoryview]:
        return self.file.read_range(self.offset, self.length, space)

    def describe(self) -> str:
        return f"{self.path}[{self.offset}:{self.offset + self.length}]"


_IDENTITY_FIELDS = ("device", "inode", "size", "mtime", "ctime")


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def file_kind(mode: int) -> str:
    """``dir``, ``file``, ``symlink``, ``char``, ``block``, ``fifo``, ``socket`` or
    ``unknown``: what a file mode (``st_mode``, a cpio ``c_mode``) says a file is."""
    for test, name in (
        (stat.S_ISDIR, "dir"),
        (stat.S_ISREG, "file"),
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISCHR, "char"),
        (stat.S_ISBLK, "block"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "unknown"


_SPECIAL_FILE_NAMES = {
    "fifo": "pipe (FIFO)",
    "char": "character device",
    "block": "block device",
    "socket": "socket",
}


@dataclass(frozen=True)
class FileSource(_FileBytes):
    """A whole input file (kernel, ramdisk ...), as it was when it was opened.

    Its size and identity (device, inode, size, mtime, ctime) are taken when it is
    opened; every read checks that the file is still that file before it starts and
    after it ends, so a file replaced or rewritten in place meanwhile is an
    :class:`InputError` instead of an EIF of mixed content."""

    path: str
    length: int
    identity: tuple[int, ...] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], what: str) -> FileSource:
        p = os.fspath(path)
        try:
            st = os.stat(p)
        except FileNotFoundError:
            raise InputError(f"{what} file not found", path=p) from None
        except OSError as e:
            raise InputError(f"cannot read {what} file: {e.strerror}", path=p) from None
        if stat.S_ISDIR(st.st_mode):
            raise InputError(f"{what} must be a file, found a directory", path=p)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(
                f"{what} must be a regular file (its size is needed before it is read), "
                f"found a {_SPECIAL_FILE_NAMES.get(file_kind(st.st_mode), 'special file')}",
                path=p,
            )
        try:
            with open(p, "rb"):
                pass
        except OSError as e:
            raise InputError(f"cannot read {what} file: {e.strerror}", path=p) from None
        return cls(path=p, length=st.st_size, identity=_identity(st))

    def read_into(self, space: Space) -> Iterator[memoryview]:
        try:
            f = OpenFile.open(self.path)
        except OSError as e:
            raise InputError(f"cannot read file: {e.strerror}", path=self.path) from None
        with f:
            self._check_unchanged(f, "since it was opened")
            yield from f.read_range(0, self.length, space)
            self._check_unchanged(f, "while it was being read")

    def _check_unchanged(self, f: OpenFile, when: str) -> None:
        if self.identity is None:
            return
        now = _identity(os.fstat(f.fileno()))
        if now != self.identity:
            changed = [
                n for n, a, b in zip(_IDENTITY_FIELDS, self.identity, now, strict=True) if a != b
            ]
            raise InputError(
                f"the file changed {when} ({', '.join(changed)} differ); refusing to mix "
                "its old and new bytes",
                path=self.path,
            )

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
    # Called before ``produce`` with the CRC-32 and length of the section headers and
    # data written before this section: ``eifkit sign`` checks there, in the same
    # pass, that the file it signs was not damaged (its stored CRC).
    check_prefix: Callable[[int, int], None] | None = None

    @property
    def size(self) -> int:
        return self.estimated_size

    def chunks(self, buffer_size: int = DEFAULT_BUFFER_SIZE) -> Iterator[memoryview]:
        raise TypeError("a deferred section is only produced by the writer")

    def read_into(self, space: Space) -> Iterator[memoryview]:
        raise TypeError("a deferred section is only produced by the writer")

    def describe(self) -> str:
        return "<made while writing>"


@dataclass(frozen=True)
class GeneratedSource(_FileBytes):
    """Bytes made while they are read: each call of ``produce()`` gives a fresh
    iterator of pieces (any sizes) that add up to exactly ``length`` bytes, e.g. a cpio
    archive written from an index straight into the EIF, never stored whole. Reading
    it twice makes it twice. ``label`` is what :meth:`describe` says.

    ``lint`` (optional): the build's look inside it, since it cannot be opened as a
    file: ``lint(index, arch, kernel_release)`` gives ``(level, message)`` pairs."""

    length: int
    produce: Callable[[], Iterator[bytes]]
    label: str
    lint: Callable[[int, str, str | None], list[tuple[str, str]]] | None = None

    def read_into(self, space: Space) -> Iterator[memoryview]:
        """The pieces copied into the buffers ``space`` gives, each filled before it is
        handed on (the last may be short); more bytes than ``length`` is an error."""
        pieces = self.produce()
        try:
            done, target, filled = 0, memoryview(b""), 0
            for piece in pieces:
                view = memoryview(piece)
                while view:
                    if filled == len(target):
                        if filled:
                            yield target
                            done += filled
                        target, filled = space(self.length - done), 0
                        if not len(target):
                            raise InputError(
                                f"{self.label} made more than the {self.length} bytes it promised"
                            )
                    n = min(len(view), len(target) - filled)
                    target[filled : filled + n] = view[:n]
                    filled += n
                    view = view[n:]
            if filled:
                yield target[:filled]
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()

    def describe(self) -> str:
        return self.label


class RangeFile(io.RawIOBase):
    """A read-only, seekable file object over ``length`` bytes of ``file`` at ``offset``.

    Reads are positional, so several RangeFiles can share one :class:`OpenFile`.
    ``owns_file``: close ``file`` when this object is closed.
    """

    def __init__(self, file: OpenFile, offset: int, length: int, *, owns_file: bool) -> None:
        super().__init__()
        self._file, self._owns_file = file, owns_file
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
        got = self._file.read_into(memoryview(buf).cast("B")[:n], self._start + self._pos)
        self._pos += got
        return got

    def close(self) -> None:
        if self._owns_file:
            self._file.close()
        super().close()


def open_source(source: Source) -> BinaryIO:
    """A seekable binary file object reading a source (no copy of a file's bytes)."""
    if isinstance(source, BytesSource):
        return io.BytesIO(source.data)
    if isinstance(source, FileRange):
        raw = RangeFile(source.file, source.offset, source.length, owns_file=False)
    elif isinstance(source, FileSource):
        try:
            f = OpenFile.open(source.path)
        except OSError as e:
            raise InputError(f"cannot read file: {e.strerror}", path=source.path) from None
        raw = RangeFile(f, 0, source.length, owns_file=True)
    else:
        raise TypeError(f"cannot open {source.describe()} as a file")
    return io.BufferedReader(raw, 1 << 20)


def read_small(source: Source, limit: int, what: str, error: type[EifError] = FormatError) -> bytes:
    """A small source's bytes (``what``: "cmdline section" ...), or ``error`` naming the
    limit if it holds more than ``limit`` bytes."""
    if source.size > limit:
        where = source if isinstance(source, FileRange) else None
        raise error(
            f"{what} is {source.size} bytes, more than the {limit}-byte limit",
            path=where.path if where else None,
            offset=where.offset if where else None,
        )
    if isinstance(source, BytesSource):
        return source.data
    return b"".join(bytes(c) for c in source.chunks())
