"""newc cpio archives (the kernel's initramfs format): a streaming reader and a
reproducible writer.

The writer turns a folder into the same bytes on any machine: entries sorted by
path (parents first), uid/gid 0, one mtime for all (``--mtime`` or
SOURCE_DATE_EPOCH, default 0), inode numbers assigned in order, no host device
numbers (only device nodes keep their rdev), hard links stored as separate files,
and, for ``.gz``, a gzip header with no file name and mtime 0.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from ..atomic import InputPaths, atomic_output
from ..errors import FormatError, InputError, LimitError, shown
from ..gzipio import GZIP_ERRORS, GZIP_MAGIC, open_gunzip
from ..limits import DEFAULT_LIMITS, PATH_MAX, ExpansionLimits
from ..sources import file_kind

MAGIC = b"070701"
MAGIC_CRC = b"070702"
HEADER_SIZE = 110
TRAILER = "TRAILER!!!"
BUFFER = 1 << 20


@dataclass(frozen=True)
class Entry:
    """One archive member. ``source`` is where its data comes from when writing."""

    name: str
    mode: int
    size: int = 0
    uid: int = 0
    gid: int = 0
    nlink: int = 1
    mtime: int = 0
    ino: int = 0
    rdevmajor: int = 0
    rdevminor: int = 0
    devmajor: int = 0
    devminor: int = 0
    source: str | bytes | None = None  # a file path, bytes (symlink target), or None
    data_offset: int | None = None  # where the data starts in the (uncompressed) archive

    @property
    def kind(self) -> str:
        return file_kind(self.mode)


def _pad(n: int) -> int:
    return (4 - n % 4) % 4


def header_bytes(e: Entry) -> bytes:
    name = e.name.encode("utf-8") + b"\0"
    fields = (
        e.ino,
        e.mode,
        e.uid,
        e.gid,
        e.nlink,
        e.mtime,
        e.size,
        e.devmajor,
        e.devminor,
        e.rdevmajor,
        e.rdevminor,
        len(name),
        0,
    )
    head = MAGIC + b"".join(b"%08X" % f for f in fields)
    return head + name + b"\0" * _pad(len(head) + len(name))


# ------------------------------------------------------------------ writing


def tree_entries(root: str | os.PathLike[str], *, mtime: int = 0, prefix: str = "") -> list[Entry]:
    """Entries for everything below ``root`` (not root itself), sorted, normalised.

    ``prefix`` ("rootfs" ...) puts everything under that folder, which is included too.
    """
    base = os.fspath(root)
    if not os.path.isdir(base):
        raise InputError("expected a folder", path=base)
    paths: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames.sort()
        rel = os.path.relpath(dirpath, base)
        for name in sorted(dirnames + filenames):
            paths.append(name if rel == "." else f"{rel}/{name}")
    paths.sort(key=lambda p: p.encode("utf-8"))
    prefix = prefix.strip("/")
    out: list[Entry] = []
    if prefix:
        parts = prefix.split("/")
        for i in range(len(parts)):
            out.append(Entry("/".join(parts[: i + 1]), stat.S_IFDIR | 0o755, nlink=2, mtime=mtime))
    for rel in paths:
        full = os.path.join(base, rel)
        st = os.lstat(full)
        name = f"{prefix}/{rel}" if prefix else rel
        perm = stat.S_IMODE(st.st_mode)
        kind = stat.S_IFMT(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            out.append(Entry(name, kind | perm, nlink=2, mtime=mtime))
        elif stat.S_ISREG(st.st_mode):
            out.append(Entry(name, kind | perm, size=st.st_size, mtime=mtime, source=full))
        elif stat.S_ISLNK(st.st_mode):
            target = os.readlink(full).encode("utf-8")
            out.append(Entry(name, kind | 0o777, size=len(target), mtime=mtime, source=target))
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            out.append(
                Entry(
                    name,
                    kind | perm,
                    mtime=mtime,
                    rdevmajor=os.major(st.st_rdev),
                    rdevminor=os.minor(st.st_rdev),
                )
            )
        elif stat.S_ISFIFO(st.st_mode):
            out.append(Entry(name, kind | perm, mtime=mtime))
        # sockets are skipped: they cannot be archived meaningfully
    return [Entry(**{**e.__dict__, "ino": i + 1}) for i, e in enumerate(out)]


# The folders nitro-cli's app ramdisk always has under rootfs/.
NITRO_CLI_ROOTFS_DIRS = ("dev", "run", "sys", "var", "proc", "tmp")


def app_entries(
    rootfs: str | os.PathLike[str], cmd: list[str], env: list[str], *, mtime: int = 0
) -> list[Entry]:
    """nitro-cli's app-ramdisk layout: ``rootfs/...`` (with dev, run, sys, var, proc, tmp)
    plus the files ``cmd`` and ``env``, one item per line, each line ending in a newline."""
    entries = tree_entries(rootfs, mtime=mtime, prefix="rootfs")
    have = {e.name for e in entries}
    for d in NITRO_CLI_ROOTFS_DIRS:
        if f"rootfs/{d}" not in have:
            entries.append(Entry(f"rootfs/{d}", stat.S_IFDIR | 0o755, nlink=2, mtime=mtime))
    for name, lines in (("cmd", cmd), ("env", env)):
        data = "".join(f"{line}\n" for line in lines).encode("utf-8")
        entries.append(Entry(name, stat.S_IFREG | 0o644, size=len(data), mtime=mtime, source=data))
    entries.sort(key=lambda e: e.name.encode("utf-8"))
    return [Entry(**{**e.__dict__, "ino": i + 1}) for i, e in enumerate(entries)]


class ByteSink(Protocol):
    """Where an archive is written: a file, or a gzip stream over one."""

    def write(self, data: bytes, /) -> int: ...


def write_entries(entries: Iterable[Entry], out: ByteSink) -> int:
    """Stream entries and the trailer into ``out``; return the bytes written."""
    total = 0
    for e in entries:
        head = header_bytes(e)
        out.write(head)
        total += len(head)
        written = 0
        if isinstance(e.source, bytes):
            out.write(e.source)
            written = len(e.source)
        elif isinstance(e.source, str):
            with open(e.source, "rb") as f:
                while chunk := f.read(BUFFER):
                    out.write(chunk)
                    written += len(chunk)
        if written != e.size:
            raise InputError(f"{e.name}: expected {e.size} bytes, read {written} (changed?)")
        pad = _pad(written)
        out.write(b"\0" * pad)
        total += written + pad
    trailer = header_bytes(Entry(TRAILER, 0, nlink=1))
    out.write(trailer)
    return total + len(trailer)


def write_archive(
    entries: Iterable[Entry],
    path: str | os.PathLike[str],
    *,
    compress: bool | None = None,
    inputs: InputPaths = (),
) -> int:
    """Write an archive atomically; gzip if ``compress`` (default: path ends in .gz).
    ``inputs`` (the folder packed ...) may not be or contain the output."""
    target = os.fspath(path)
    if compress is None:
        compress = target.endswith(".gz")
    with atomic_output(target, inputs=inputs) as af, af.open() as raw:
        if compress:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
                n = write_entries(entries, gz)
        else:
            n = write_entries(entries, raw)
    return n


# ------------------------------------------------------------------ reading


@dataclass(frozen=True)
class Member:
    """An archive member as read: the entry, and what was asked of its data."""

    entry: Entry
    data: bytes | None = None  # whole data (keep_data, regular files and symlinks <= 16 MiB)
    head: bytes | None = None  # the first ``prefix`` bytes of a regular file
    sha256: str | None = None  # of the data (digest=True, regular files and symlinks)
    header: bytes = b""  # the 110 header bytes as stored (for encoding-level comparisons)


def is_gzip(f: BinaryIO) -> bool:
    head = f.read(2)
    f.seek(0)
    return head == GZIP_MAGIC


DataSink = Callable[[Entry], Callable[[bytes], None] | None]


class _ArchiveStream:
    """The archive's (decompressed) bytes, counted against the limits, with a pushback
    buffer so that zero padding can be skipped in large reads."""

    def __init__(self, f: BinaryIO, limits: ExpansionLimits) -> None:
        self.gzip = is_gzip(f)
        self._stream = open_gunzip(f) if self.gzip else f
        self._seekable = not self.gzip and f.seekable()
        self._size = _size(f) if self._seekable else None
        self._pending = b""
        self.limits = limits
        self.pos = 0  # offset in the uncompressed archive
        self.read_bytes = 0  # bytes decompressed, against limits.max_bytes

    def read(self, n: int) -> bytes:
        data = self._pending[:n]
        self._pending = self._pending[n:]
        if len(data) < n:
            self._charge(n - len(data))
            try:
                data += self._stream.read(n - len(data))
            except GZIP_ERRORS as e:
                raise FormatError(
                    f"gzip stream is damaged: {e}", offset=self.pos, field="cpio"
                ) from None
        self.pos += len(data)
        return data

    def unread(self, data: bytes) -> None:
        self._pending = data + self._pending
        self.pos -= len(data)

    def skip(self, n: int) -> bool:
        """Skip ``n`` bytes by seeking if possible (True), else leave it to the caller."""
        if not self._seekable or self._pending or self._size is None:
            return False
        if self._stream.tell() + n > self._size:
            return False  # truncated: reading says where and how much is missing
        self._stream.seek(n, io.SEEK_CUR)
        self.pos += n
        return True

    def skip_zeros(self) -> int:
        """Skip zero bytes (padding between concatenated archives) in large reads."""
        skipped = 0
        while True:
            chunk = self.read(BUFFER)
            if not chunk:
                return skipped
            rest = chunk.lstrip(b"\0")
            skipped += len(chunk) - len(rest)
            if rest:
                self.unread(rest)
                return skipped

    def _charge(self, n: int) -> None:
        if not self.gzip:
            return  # bounded by the archive's own size
        self.read_bytes += n
        if self.read_bytes > self.limits.max_bytes + BUFFER:
            raise LimitError(
                f"stopped after {self.limits.max_bytes} bytes of decompressed data "
                "(the limit for this command)",
                limit="max_bytes",
                offset=self.pos,
                field="cpio",
            )


def _header_fields(head: bytes, pos: int) -> list[int]:
    if head[:6] not in (MAGIC, MAGIC_CRC):
        raise FormatError(f"not a newc cpio header (magic {head[:6]!r})", offset=pos, field="cpio")
    try:
        return [int(head[6 + 8 * i : 14 + 8 * i], 16) for i in range(13)]
    except ValueError:
        raise FormatError("cpio header has non-hex fields", offset=pos, field="cpio") from None


def _printable(name: bytes) -> str:
    """A name as text for messages and listings (undecodable bytes kept as escapes)."""
    return name.decode("utf-8", errors="surrogateescape")


def iter_members(
    f: BinaryIO,
    *,
    keep_data: bool | Callable[[Entry], bool] = False,
    keep_limit: int = 16 << 20,
    prefix: int = 0,
    digest: bool = False,
    sink: DataSink | None = None,
    limits: ExpansionLimits = DEFAULT_LIMITS,
    trailers: bool = False,
) -> Iterator[Member]:
    """Stream the members of a newc archive (plain or gzip; concatenated archives too).

    Memory stays bounded: data is read in chunks, kept only as asked (``keep_data`` up
    to ``keep_limit`` bytes per member, ``prefix`` bytes, or a SHA-256); an uncompressed
    archive's data is skipped by seeking when nothing is asked of it; zero padding is
    skipped in large reads. Work is bounded by ``limits`` (bytes read after
    decompression, members): past them a :class:`LimitError` is raised. A name longer
    than PATH_MAX (which the kernel skips) is a FormatError, so no name is ever held
    whole. Raises FormatError with the offset (in the uncompressed stream) of a
    truncated or non-cpio member. ``keep_data`` may be a predicate on the entry;
    ``sink(entry)`` may return a function that receives the member's data chunk by
    chunk (for unpacking in one pass). ``trailers`` also yields each ``TRAILER!!!``
    entry (its ``data_offset`` is where the archive it ends stops).
    """
    import hashlib

    stream = _ArchiveStream(f, limits)
    seen_any = False
    count = 0
    while True:
        pos = stream.pos
        head = stream.read(HEADER_SIZE)
        if not head:
            if not seen_any:
                raise FormatError("empty archive, expected a newc cpio", offset=0, field="cpio")
            return
        if head[:1] == b"\0":  # zero padding between concatenated archives
            stream.unread(head)
            stream.skip_zeros()
            continue
        if len(head) < HEADER_SIZE:
            raise FormatError(
                f"truncated cpio header ({len(head)} of {HEADER_SIZE} bytes)",
                offset=pos,
                field="cpio",
            )
        v = _header_fields(head, pos)
        ino, mode, uid, gid, nlink, mtime, size, dmaj, dmin, rmaj, rmin, namesize, _chk = v
        if namesize > PATH_MAX + 1:
            raise FormatError(
                f"name size is {namesize} bytes, more than the kernel's PATH_MAX "
                f"({PATH_MAX}); it would skip this entry",
                offset=pos + 94,
                field="cpio namesize",
            )
        count += 1
        if count > limits.max_entries:
            raise LimitError(
                f"stopped after {limits.max_entries} members (the limit for this command)",
                limit="max_entries",
                offset=pos,
                field="cpio",
            )
        name_len = namesize + _pad(HEADER_SIZE + namesize)
        name_raw = stream.read(name_len)
        if len(name_raw) < name_len:
            raise FormatError("truncated cpio name", offset=pos + HEADER_SIZE, field="cpio")
        name = _printable(name_raw[: max(namesize - 1, 0)])
        data_at = stream.pos
        seen_any = True
        entry = Entry(
            name,
            mode,
            size,
            uid,
            gid,
            nlink,
            mtime,
            ino,
            rmaj,
            rmin,
            dmaj,
            dmin,
            data_offset=data_at,
        )
        if name == TRAILER:
            if trailers:
                yield Member(entry, header=head)
            continue  # another archive may follow (the kernel accepts concatenations)
        is_data = stat.S_ISREG(mode) or stat.S_ISLNK(mode)
        keep = keep_data(entry) if callable(keep_data) else keep_data
        want_all = keep and is_data and size <= keep_limit
        out = sink(entry) if sink is not None and is_data else None
        want_head = prefix if stat.S_ISREG(mode) else 0
        hasher = hashlib.sha256() if digest and is_data else None
        total = size + _pad(size)
        if not (want_all or want_head or hasher or out) and stream.skip(total):
            yield Member(entry, header=head)
            continue
        kept = bytearray()
        head_bytes = bytearray()
        left, done = total, 0
        while left:
            chunk = stream.read(min(left, BUFFER))
            if not chunk:
                raise FormatError(
                    f"{shown(name)}: data truncated ({left} bytes missing)",
                    offset=data_at + total - left,
                    field="cpio",
                )
            useful = chunk[: max(0, size - done)]
            if want_all:
                kept += useful
            if want_head and len(head_bytes) < want_head:
                head_bytes += useful[: want_head - len(head_bytes)]
            if hasher is not None:
                hasher.update(useful)
            if out is not None and useful:
                out(useful)
            done += len(chunk)
            left -= len(chunk)
        yield Member(
            entry,
            bytes(kept) if want_all else None,
            bytes(head_bytes) if want_head else None,
            hasher.hexdigest() if hasher else None,
            head,
        )


def _size(stream: BinaryIO) -> int:
    here = stream.tell()
    end = stream.seek(0, io.SEEK_END)
    stream.seek(here)
    return end


def list_archive(path: str | os.PathLike[str]) -> list[Entry]:
    with open(path, "rb") as f:
        return [m.entry for m in iter_members(f)]
