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
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..atomic import atomic_output
from ..errors import FormatError, InputError

MAGIC = b"070701"
MAGIC_CRC = b"070702"
HEADER_SIZE = 110
TRAILER = "TRAILER!!!"
BUFFER = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"


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
        m = self.mode
        for test, name in (
            (stat.S_ISDIR, "dir"),
            (stat.S_ISREG, "file"),
            (stat.S_ISLNK, "symlink"),
            (stat.S_ISCHR, "char"),
            (stat.S_ISBLK, "block"),
            (stat.S_ISFIFO, "fifo"),
            (stat.S_ISSOCK, "socket"),
        ):
            if test(m):
                return name
        return "unknown"


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


def write_entries(entries: Iterable[Entry], out: BinaryIO) -> int:
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
    entries: Iterable[Entry], path: str | os.PathLike[str], *, compress: bool | None = None
) -> int:
    """Write an archive atomically; gzip if ``compress`` (default: path ends in .gz)."""
    target = os.fspath(path)
    if compress is None:
        compress = target.endswith(".gz")
    with atomic_output(target) as af, af.open() as raw:
        if compress:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
                n = write_entries(entries, gz)  # type: ignore[arg-type]
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


def is_gzip(f: BinaryIO) -> bool:
    head = f.read(2)
    f.seek(0)
    return head == GZIP_MAGIC


DataSink = Callable[[Entry], Callable[[bytes], None] | None]


def iter_members(
    f: BinaryIO,
    *,
    keep_data: bool | Callable[[Entry], bool] = False,
    prefix: int = 0,
    digest: bool = False,
    sink: DataSink | None = None,
) -> Iterator[Member]:
    """Stream the members of a newc archive (plain or gzip; concatenated archives too).

    Memory stays bounded: data is read in chunks, kept only as asked (``keep_data`` up
    to 16 MiB per member, ``prefix`` bytes, or a SHA-256); an uncompressed archive's
    data is skipped by seeking when nothing is asked of it. Raises FormatError with the
    offset (in the uncompressed stream) of a truncated or non-cpio member.
    ``keep_data`` may be a predicate on the entry; ``sink(entry)`` may return a function
    that receives the member's data chunk by chunk (for unpacking in one pass).
    """
    import hashlib

    gz = is_gzip(f)
    stream: BinaryIO = gzip.GzipFile(fileobj=f, mode="rb") if gz else f  # type: ignore[assignment]
    seekable = not gz and f.seekable()
    pos = 0
    seen_any = False

    def read(n: int) -> bytes:
        try:
            return stream.read(n)
        except (OSError, EOFError, zlib.error) as e:
            raise FormatError(f"gzip stream is damaged: {e}", offset=pos, field="cpio") from None

    while True:
        head = read(HEADER_SIZE)
        if not head:
            if not seen_any:
                raise FormatError("empty archive, expected a newc cpio", offset=0, field="cpio")
            return
        if head.strip(b"\0") == b"":  # zero padding between concatenated archives
            pos += len(head)
            continue
        if len(head) < HEADER_SIZE:
            raise FormatError(
                f"truncated cpio header ({len(head)} of {HEADER_SIZE} bytes)",
                offset=pos,
                field="cpio",
            )
        if head[:6] not in (MAGIC, MAGIC_CRC):
            raise FormatError(
                f"not a newc cpio header (magic {head[:6]!r})", offset=pos, field="cpio"
            )
        try:
            v = [int(head[6 + 8 * i : 14 + 8 * i], 16) for i in range(13)]
        except ValueError:
            raise FormatError("cpio header has non-hex fields", offset=pos, field="cpio") from None
        ino, mode, uid, gid, nlink, mtime, size, dmaj, dmin, rmaj, rmin, namesize, _chk = v
        name_len = namesize + _pad(HEADER_SIZE + namesize)
        name_raw = read(name_len)
        if len(name_raw) < name_len:
            raise FormatError("truncated cpio name", offset=pos + HEADER_SIZE, field="cpio")
        name = name_raw[: max(namesize - 1, 0)].decode("utf-8", errors="surrogateescape")
        data_at = pos + HEADER_SIZE + name_len
        seen_any = True
        if name == TRAILER:
            pos = data_at
            continue  # another archive may follow (the kernel accepts concatenations)
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
        is_data = stat.S_ISREG(mode) or stat.S_ISLNK(mode)
        keep = keep_data(entry) if callable(keep_data) else keep_data
        want_all = keep and is_data and size <= (16 << 20)
        out = sink(entry) if sink is not None and is_data else None
        want_head = prefix if stat.S_ISREG(mode) else 0
        hasher = hashlib.sha256() if digest and is_data else None
        total = size + _pad(size)
        if seekable and not (want_all or want_head or hasher or out):
            here = stream.tell()
            end = stream.seek(total, io.SEEK_CUR)
            if end - here != total or end > _size(stream):
                raise FormatError(f"{name}: data truncated", offset=data_at, field="cpio")
            pos = data_at + total
            yield Member(entry)
            continue
        kept = bytearray()
        head_bytes = bytearray()
        left, done = total, 0
        while left:
            chunk = read(min(left, BUFFER))
            if not chunk:
                raise FormatError(
                    f"{name}: data truncated ({left} bytes missing)",
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
        pos = data_at + total
        yield Member(
            entry,
            bytes(kept) if want_all else None,
            bytes(head_bytes) if want_head else None,
            hasher.hexdigest() if hasher else None,
        )


def _size(stream: BinaryIO) -> int:
    here = stream.tell()
    end = stream.seek(0, io.SEEK_END)
    stream.seek(here)
    return end


def list_archive(path: str | os.PathLike[str]) -> list[Entry]:
    with open(path, "rb") as f:
        return [m.entry for m in iter_members(f)]
