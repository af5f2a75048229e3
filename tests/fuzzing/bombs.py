"""Decompression and allocation bombs, kept small on disk and bounded in what they expand to.

Each is at most a few MiB in the EIF and expands to at most 128 MiB, enough to see
whether memory follows the expanded size (issue 11 item 3 measured the full-size ones:
10 GiB of zeros, 40 links with 16 MiB targets, a 16 MiB metadata section).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

from tests.fuzzing.cpio import FILE, LINK, TRAILER, member

MIB = 1 << 20


def _gzip_stream(parts: Callable[[], list[bytes]]) -> bytes:
    """gzip of the concatenation of ``parts()``, without holding the whole plain text."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [z.compress(p) for p in parts()]
    out.append(z.flush())
    return b"".join(out)


def zeros_file(size: int) -> bytes:
    """A gzip cpio holding one file of ``size`` zero bytes."""
    head = member(b"init", b"", FILE, filesize=size)
    zero = bytes(MIB)
    return _gzip_stream(
        lambda: [head, *(zero for _ in range(size // MIB)), bytes(size % MIB), TRAILER]
    )


def long_links(count: int, target: int) -> bytes:
    """A gzip cpio of ``count`` symlinks, each with a ``target``-byte target."""
    return gzip.compress(
        b"".join(member(b"l%d" % i, b"t" * target, LINK, ino=i + 2) for i in range(count))
        + TRAILER,
        mtime=0,
    )


def zeros_array_metadata(size: int) -> bytes:
    """A metadata section of ``size`` bytes: ``[0,0,...,0]``."""
    n = (size - 1) // 2
    return b"[" + b"0," * (n - 1) + b"0]"


RAMDISK_BOMBS: dict[str, Callable[[], bytes]] = {
    "zeros-128m.gz": lambda: zeros_file(128 * MIB),
    "links-8x16m.gz": lambda: long_links(8, 16 * MIB),
}
METADATA_BOMBS: dict[str, Callable[[], bytes]] = {
    "zeros-array-2m": lambda: zeros_array_metadata(2 * MIB),
}
