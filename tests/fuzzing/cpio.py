"""Hostile newc cpio ramdisks, written byte by byte (no eifkit code involved).

Each builder takes ``outside``, an absolute path of a folder that an extraction must
never touch (the harness makes it and watches it), and returns the archive's bytes.
All of them are small (at most a few hundred KiB); decompression bombs are not here.
"""

from __future__ import annotations

import gzip
import random
import stat
from collections.abc import Callable

NEWC = b"070701"
FILE, DIR, LINK = stat.S_IFREG | 0o644, stat.S_IFDIR | 0o755, stat.S_IFLNK | 0o777


def member(
    name: bytes,
    data: bytes = b"",
    mode: int = FILE,
    *,
    ino: int = 1,
    nlink: int = 1,
    mtime: int = 0,
    namesize: int | None = None,
    filesize: int | None = None,
    rdev: tuple[int, int] = (0, 0),
    magic: bytes = NEWC,
) -> bytes:
    """One newc member; ``namesize``/``filesize`` may lie about what follows."""
    fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        mtime,
        len(data) if filesize is None else filesize,
        0,
        0,
        rdev[0],
        rdev[1],
        len(name) + 1 if namesize is None else namesize,
        0,
    ]
    head = magic + b"".join(b"%08X" % v for v in fields) + name + b"\0"
    return _pad(head) + _pad(data)


def _pad(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


TRAILER = member(b"TRAILER!!!", mode=0, ino=0)


def archive(*members: bytes) -> bytes:
    return b"".join(members) + TRAILER


def _link(name: bytes, target: bytes) -> bytes:
    return member(name, target, LINK, ino=2)


def _many_entries(count: int) -> bytes:
    return archive(*(member(b"e%d" % i, ino=i + 1) for i in range(count)))


def _init() -> bytes:
    return member(b"init", b"\x7fELF" + bytes(60), stat.S_IFREG | 0o755)


CpioBuilder = Callable[[bytes], bytes]

# name -> builder(outside as bytes) -> archive bytes
CPIO: dict[str, CpioBuilder] = {
    "dotdot": lambda o: archive(member(b"../escape-dotdot", b"x")),
    "dotdot-inner": lambda o: archive(member(b"a/../../escape-inner", b"x")),
    "dotdot-deep": lambda o: archive(member(b"../" * 6 + b"escape-deep", b"x")),
    "absolute-file": lambda o: archive(member(o + b"/abs-file", b"x")),
    "absolute-dir": lambda o: archive(member(o + b"/abs-dir", mode=stat.S_IFDIR | 0o777)),
    "nul-in-name": lambda o: archive(member(b"in\0it", b"x")),
    "nul-in-link-target": lambda o: archive(_link(b"ln", b"tar\0get")),
    "namesize-huge": lambda o: archive(member(b"x", namesize=0xFFFFFFF0)),
    "namesize-zero": lambda o: archive(member(b"x", b"data", namesize=0)),
    "namesize-one": lambda o: archive(member(b"", b"data", namesize=1)),
    "filesize-huge": lambda o: archive(member(b"x", b"abc", filesize=0xFFFFFFFF)),
    "filesize-past-end": lambda o: member(b"x", b"abc", filesize=4096),
    "link-long-target": lambda o: archive(_link(b"ln", b"t" * 65536)),
    "link-then-dir": lambda o: archive(
        _link(b"victimdir", o), member(b"victimdir", mode=stat.S_IFDIR | 0o777)
    ),
    "link-then-file-through": lambda o: archive(
        _link(b"ln", o), member(b"ln/through-link", b"pwned")
    ),
    "link-then-file-same-name": lambda o: archive(
        _link(b"f", o + b"/victim-file"), member(b"f", b"pwned", ino=3)
    ),
    "link-absolute-target": lambda o: archive(_link(b"ln", o)),
    "link-dotdot-target": lambda o: archive(_link(b"ln", b"../" * 8)),
    "link-chain-out": lambda o: archive(_link(b"a", b"b"), _link(b"b", b"../" * 8)),
    "hardlink-pair": lambda o: archive(
        member(b"h1", nlink=2, ino=7), member(b"h2", b"shared", nlink=2, ino=7)
    ),
    "many-empty": lambda o: _many_entries(1000),
    "no-trailer": lambda o: _init(),
    "trailer-cut": lambda o: _init() + TRAILER[:60],
    "cut-mid-header": lambda o: _init()[:50],
    "cut-mid-data": lambda o: _init()[:120],
    "crc-magic-bad-check": lambda o: archive(member(b"x", b"abc", magic=b"070702")),
    "odc-magic": lambda o: b"070707" + b"0" * 70,
    "nonhex-field": lambda o: archive(member(b"x", b"abc")[:54] + b"zzzzzzzz" + b"\0" * 60),
    "device-nodes": lambda o: archive(
        member(b"chr", mode=stat.S_IFCHR | 0o666, rdev=(1, 3)),
        member(b"blk", mode=stat.S_IFBLK | 0o666, rdev=(8, 0), ino=2),
        member(b"fifo", mode=stat.S_IFIFO | 0o666, ino=3),
        member(b"sock", mode=stat.S_IFSOCK | 0o666, ino=4),
    ),
    "setuid": lambda o: archive(member(b"suid", b"x", stat.S_IFREG | 0o7755)),
    "mode-bogus": lambda o: archive(member(b"odd", b"x", 0o170777)),
    "dir-then-file": lambda o: archive(member(b"d", mode=DIR), member(b"d", b"x", ino=2)),
    "file-then-dir": lambda o: archive(member(b"d", b"x"), member(b"d", mode=DIR, ino=2)),
    "long-name": lambda o: archive(member(b"n" * 8192, b"x")),
    "deep-path": lambda o: archive(member(b"a/" * 2100 + b"f", b"x")),
    "dot-names": lambda o: archive(
        member(b".", mode=DIR), member(b"./", mode=DIR, ino=2), member(b"./init", b"x", ino=3)
    ),
    "mtime-max": lambda o: archive(member(b"t", b"x", mtime=0xFFFFFFFF)),
    "empty": lambda o: b"",
    "only-trailer": lambda o: TRAILER,
    "not-cpio": lambda o: random.Random(1).randbytes(512),
}


def gzip_variant(data: bytes) -> bytes:
    """``data`` gzip-compressed, deterministically (mtime 0)."""
    return gzip.compress(data, mtime=0)


# gzip streams that are themselves broken (their content is a plain small cpio)
GZIP_BROKEN: dict[str, Callable[[bytes], bytes]] = {
    "gzip-truncated": lambda o: gzip_variant(archive(_init()))[:40],
    "gzip-garbage": lambda o: b"\x1f\x8b\x08\x00" + random.Random(2).randbytes(300),
    "gzip-trailing-garbage": lambda o: gzip_variant(archive(_init())) + b"garbage",
    "gzip-concatenated": lambda o: gzip_variant(_init()) + gzip_variant(TRAILER),
    "gzip-bad-crc": lambda o: gzip_variant(archive(_init()))[:-8] + b"\0" * 8,
}


def ramdisk_names() -> list[str]:
    """Names of every hostile ramdisk: each cpio as is and gzipped (``.gz``), broken gzip."""
    names = [f"{n}{gz}" for n in CPIO for gz in ("", ".gz")]
    return names + list(GZIP_BROKEN)


def hostile_ramdisk(name: str, outside: bytes) -> bytes:
    """The hostile ramdisk called ``name`` (see ``ramdisk_names``)."""
    if name in GZIP_BROKEN:
        return GZIP_BROKEN[name](outside)
    if name.endswith(".gz"):
        return gzip_variant(CPIO[name.removesuffix(".gz")](outside))
    return CPIO[name](outside)
