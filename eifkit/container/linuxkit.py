"""linuxkit 1.5.2's initrd: its newc writer and what it does to a container export.

This is the second half of nitro-cli 1.5.0's customer ramdisk: linuxkit (with the
aws-nitro-enclaves-sdk-bootstrap patches) reads ``docker export`` of the container,
drops and replaces a few entries, turns hard links into relative symlinks, and writes
every entry with surma/gocpio (``070701``, thirteen ``%08x`` fields, inodes from 721,
device 3:1, the file padded to 512 bytes). Every rule here is observed in
``shared/vectors/nitro-cli`` (see its README).
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ..errors import InputError, shown
from ..inspect.initramfs import ByteSink
from .rootfs import BLOCK, CHAR, DIR, FIFO, FILE, SYMLINK, ExportEntry

DEFAULT_MTIME = 1492533000  # 2017-04-18T16:30:00Z, linuxkit's fixed time
FIRST_INO = 721
MAGIC = b"070701"
TRAILER = b"TRAILER!!!"

# linuxkit's /etc/hosts (160 bytes, taken from a vector's customer.cpio)
HOSTS = (
    b"127.0.0.1       localhost\n"
    b"::1     localhost ip6-localhost ip6-loopback\n"
    b"fe00::0 ip6-localnet\n"
    b"ff00::0 ip6-mcastprefix\n"
    b"ff02::1 ip6-allnodes\n"
    b"ff02::2 ip6-allrouters\n"
)
RESOLV_CONF_TARGET = "/run/resolvconf/resolv.conf"
DROPPED = frozenset({".dockerenv", "Dockerfile", "dev/console", "etc/hostname"})
TOUCHED = frozenset({"dev/", "dev/pts/", "dev/shm/", "etc/", "etc/mtab", "proc/", "sys/"})

TYPE_BITS = {
    FILE: 0o100000,
    DIR: 0o040000,
    SYMLINK: 0o120000,
    CHAR: 0o020000,
    BLOCK: 0o060000,
    FIFO: 0o010000,
}
_FIELD_LIMIT = 1 << 32
_NEWC_HEADER = len(MAGIC) + 13 * 8


@dataclass(frozen=True, slots=True)
class LayerBytes:
    """Where a regular file's bytes are: ``size`` bytes at ``offset`` of layer
    ``layer``'s uncompressed tar (for a folder made into a ramdisk: of its file number
    ``layer``, see :mod:`.folder`)."""

    layer: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class CpioEntry:
    """One newc entry before numbering; ``body`` is the data (bytes, or where to read
    it), ``size`` its length."""

    name: str
    kind: str
    mode: int  # permission bits (setuid/setgid/sticky kept)
    uid: int = 0
    gid: int = 0
    mtime: int = DEFAULT_MTIME
    rdev: tuple[int, int] = (0, 0)
    body: bytes | LayerBytes = b""

    @property
    def size(self) -> int:
        return self.body.size if isinstance(self.body, LayerBytes) else len(self.body)


DataReader = Callable[[LayerBytes], Iterator[bytes]]


def _padding(offset: int, multiple: int) -> bytes:
    return bytes(-offset % multiple)


def _entry_fields(entry: CpioEntry, ino: int, name: bytes) -> dict[str, int]:
    return {
        "ino": ino,
        "mode": entry.mode | TYPE_BITS[entry.kind],
        "uid": entry.uid,
        "gid": entry.gid,
        "nlink": 2 if entry.kind == DIR else 1,
        "mtime": entry.mtime,
        "filesize": entry.size,
        "devmajor": 3,
        "devminor": 1,
        "rdevmajor": entry.rdev[0],
        "rdevminor": entry.rdev[1],
        "namesize": len(name) + 1,
        "check": 0,
    }


def _trailer_fields(ino: int) -> dict[str, int]:
    fields = dict.fromkeys(("ino", "mode", "uid", "gid"), 0)
    fields.update(ino=ino, nlink=1, mtime=0, filesize=0, devmajor=3, devminor=1)
    fields.update(rdevmajor=0, rdevminor=0, namesize=len(TRAILER) + 1, check=0)
    return fields


def _header_bytes(name: bytes, fields: dict[str, int]) -> bytes:
    """A newc header and the NUL-ended name (padding not included)."""
    for field, value in fields.items():
        if not 0 <= value < _FIELD_LIMIT:
            raise InputError(
                f"{field} {value} does not fit the 8 hex digits of a newc header"
                " (nitro-cli would write a corrupt archive)",
                field=shown(name.decode("utf-8", "replace")),
            )
    return MAGIC + b"".join(b"%08x" % v for v in fields.values()) + name + b"\0"


class NewcEncoder:
    """surma/gocpio as linuxkit drives it, sans I/O: :meth:`entry` and :meth:`trailer`
    yield an archive's bytes piece by piece (file data as ``read`` gives it), keeping
    count of the offset, inode and entries. Refuses what ``%08x`` cannot hold (Go would
    write wider fields and a corrupt archive, as in vector c6)."""

    def __init__(self, read: DataReader) -> None:
        self.read = read
        self.offset = 0
        self.ino = FIRST_INO
        self.entries = 0  # the trailer not counted

    def _counted(self, data: bytes) -> bytes:
        self.offset += len(data)
        return data

    def _header(self, name: bytes, fields: dict[str, int]) -> Iterator[bytes]:
        yield self._counted(_header_bytes(name, fields))
        yield self._counted(_padding(self.offset, 4))
        self.ino += 1

    def entry(self, entry: CpioEntry) -> Iterator[bytes]:
        name = entry.name.encode("utf-8", "surrogateescape")
        yield from self._header(name, _entry_fields(entry, self.ino, name))
        if isinstance(entry.body, LayerBytes):
            for chunk in self.read(entry.body):
                yield self._counted(chunk)
        else:
            yield self._counted(entry.body)
        yield self._counted(_padding(self.offset, 4))
        self.entries += 1

    def trailer(self) -> Iterator[bytes]:
        """The trailer, then zeros up to a multiple of 512 bytes."""
        yield from self._header(TRAILER, _trailer_fields(self.ino))
        yield self._counted(_padding(self.offset, 512))

    def archive(self, entries: Iterable[CpioEntry]) -> Iterator[bytes]:
        """Every entry, then the trailer."""
        for entry in entries:
            yield from self.entry(entry)
        yield from self.trailer()


def newc_size(entries: Iterable[CpioEntry]) -> int:
    """The size of the archive :class:`NewcEncoder` writes for ``entries``, from their
    names and sizes alone (no file data is read)."""
    offset = 0
    for entry in entries:
        offset += _NEWC_HEADER + len(entry.name.encode("utf-8", "surrogateescape")) + 1
        offset += -offset % 4 + entry.size
        offset += -offset % 4
    offset += _NEWC_HEADER + len(TRAILER) + 1
    offset += -offset % 4
    return offset + -offset % 512


class NewcWriter:
    """:class:`NewcEncoder` into a sink, hashing (SHA-384) what it writes."""

    def __init__(self, sink: ByteSink, read: DataReader) -> None:
        self.sink = sink
        self.encoder = NewcEncoder(read)
        self.hash = hashlib.sha384()

    @property
    def offset(self) -> int:
        return self.encoder.offset

    @property
    def entries(self) -> int:
        return self.encoder.entries

    def _put(self, pieces: Iterable[bytes]) -> None:
        for data in pieces:
            self.sink.write(data)
            self.hash.update(data)

    def add(self, entry: CpioEntry) -> None:
        self._put(self.encoder.entry(entry))

    def finish(self) -> None:
        """The trailer, then zeros up to a multiple of 512 bytes."""
        self._put(self.encoder.trailer())


def export_entries(exported: Iterable[ExportEntry], prefix: str = "rootfs/") -> Iterator[CpioEntry]:
    """linuxkit's treatment of ``docker export`` entries, named ``prefix`` + name."""
    for entry in exported:
        name, node = entry.name, entry.node
        if name in DROPPED:
            continue
        kind, mtime = node.kind, DEFAULT_MTIME if name in TOUCHED else node.mtime
        body: bytes | LayerBytes = b""
        if entry.link_to is not None:
            here = posixpath.dirname("/" + name)
            kind, body = SYMLINK, _target(posixpath.relpath("/" + entry.link_to, here))
        elif name == "etc/hosts":
            _must_be(node.kind, FILE, name)
            mtime, body = DEFAULT_MTIME, HOSTS
        elif name == "etc/resolv.conf":
            _must_be(node.kind, FILE, name)
            kind, mtime, body = SYMLINK, DEFAULT_MTIME, _target(RESOLV_CONF_TARGET)
        elif node.kind == FILE:
            body = LayerBytes(node.layer, node.offset, node.size)
        elif node.kind == SYMLINK:
            body = _target(node.target)
        rdev = node.rdev if kind in (CHAR, BLOCK) else (0, 0)
        yield CpioEntry(prefix + name, kind, node.mode, node.uid, node.gid, mtime, rdev, body)


def _target(target: str) -> bytes:
    return target.encode("utf-8", "surrogateescape")


def _must_be(kind: str, expected: str, name: str) -> None:
    if kind != expected:
        raise InputError(
            f"the image's {name} is not a regular file where Docker's init layer"
            " puts one; what linuxkit does with it was never observed",
            field=name,
        )


def files_entries(files: Iterable[tuple[str, int, bytes | None]]) -> Iterator[CpioEntry]:
    """linuxkit's ``files:`` section: each ``(path, mode, body)`` (``None`` body: a
    directory) after its parent directories, which are written again (0755) for each
    section even when the export had them."""
    made: set[str] = set()
    for path, mode, body in files:
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent not in made:
                made.add(parent)
                yield CpioEntry(parent, DIR, 0o755)
        made.add(path)
        if body is None:
            yield CpioEntry(path, DIR, mode)
        else:
            yield CpioEntry(path, FILE, mode, body=body)
