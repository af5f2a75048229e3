"""Reading gzip streams: one reader and one list of the errors a damaged stream raises.

isal's gzip reader is a few times faster than zlib's (the ramdisk check, diff, unpack
and container layers all decompress through it), and it raises its own error type,
which is not an ``OSError``: every caller catches :data:`GZIP_ERRORS`, never a list of
its own.
"""

from __future__ import annotations

import importlib
import zlib
from typing import Any, BinaryIO, cast

GZIP_MAGIC = b"\x1f\x8b"


def _gzip_errors() -> tuple[type[Exception], ...]:
    isal_zlib: Any = importlib.import_module("isal.isal_zlib")  # no type information
    return (OSError, EOFError, zlib.error, isal_zlib.error)


# What reading a damaged gzip stream raises: zlib's and isal's errors.
GZIP_ERRORS = _gzip_errors()


def open_gunzip(f: BinaryIO) -> BinaryIO:
    """The decompressed bytes of the gzip stream ``f`` (concatenated members too)."""
    igzip: Any = importlib.import_module("isal.igzip")
    return cast(BinaryIO, igzip.IGzipFile(fileobj=f, mode="rb"))
