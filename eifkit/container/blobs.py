"""The bytes of one blob of a container image, wherever it lies.

A blob (a manifest, a config, a layer) is a range of a file: a whole file of an OCI
layout directory, or a member's data inside a tar archive (``docker save``, an OCI
archive). :class:`BlobLocation` names that range; :func:`open_window` reads it as a
seekable file without copying it; :func:`read_json_blob` reads a small one whole, with
a size cap and its digest checked; :func:`verify_blob` checks a large one's digest by
streaming it; :func:`decompress_blob` streams a gzip or zstd layer into a file,
checking the digest of what it reads and of what it writes in the same pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import sys
import threading
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from ..errors import ImageError, LimitError, shown
from ..gzipio import GZIP_ERRORS, GZIP_MAGIC, open_gunzip
from ..sources import OpenFile, RangeFile

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

# How much of a blob is held in memory at a time when it is streamed.
BUFFER_SIZE = 1 << 20
# The read-ahead of a layer window: small, because tar readers seek past file data
# to each 512-byte header (a larger read-ahead would read data they skip); large
# reads bypass it.
WINDOW_BUFFER_SIZE = io.DEFAULT_BUFFER_SIZE
# Manifests, indexes and configs are a few KiB; a larger one is refused, not read.
JSON_LIMIT = 16 << 20
# What one compressed layer may expand to (a parameter of open_image).
DEFAULT_MAX_LAYER_BYTES = 64 << 30

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def check_digest(value: object, where: str) -> str:
    """``value`` if it is a ``sha256:<64 lowercase hex>`` digest, else an ImageError
    naming ``where`` (the only algorithm Docker and skopeo write)."""
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise ImageError(f"digest {shown(str(value))} is not sha256:<64 hex digits>", path=where)
    return value


@dataclass(frozen=True)
class BlobLocation:
    """Where a blob's bytes are: ``size`` bytes of ``path`` from ``offset``.
    ``name`` is what error messages call it (``archive.tar!blobs/sha256/…``)."""

    path: str
    offset: int
    size: int
    name: str


def _open_range(location: BlobLocation) -> RangeFile:
    """A read-only, seekable raw file over the blob's bytes only (position 0 is its
    first byte; reads stop at its end), on a descriptor of its own."""
    return RangeFile(OpenFile.open(location.path), location.offset, location.size, owns_file=True)


def open_window(location: BlobLocation) -> BinaryIO:
    """A buffered, seekable file over the blob's bytes alone (the caller closes it)."""
    return cast(BinaryIO, io.BufferedReader(_open_range(location), WINDOW_BUFFER_SIZE))


class _HashingReader(io.RawIOBase):
    """Reads a blob once from start to end, hashing every byte as it passes, so that
    :meth:`check` can compare the digest without a second pass."""

    def __init__(self, location: BlobLocation) -> None:
        super().__init__()
        self._window = _open_range(location)
        self._location = location
        self._hash = hashlib.sha256()
        self._count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        got = self._window.readinto(buffer)
        self._hash.update(memoryview(buffer)[:got])
        self._count += got
        return got

    def check(self, digest: str) -> None:
        """An ImageError unless the whole blob was read and its sha256 is ``digest``."""
        if self._count != self._location.size:
            raise ImageError(
                f"read {self._count} of {self._location.size} bytes", path=self._location.name
            )
        check_hash(self._hash, digest, self._location.name, "")

    def close(self) -> None:
        self._window.close()
        super().close()


def check_hash(found: Any, digest: str, name: str, what: str) -> None:
    """An ImageError naming ``name`` unless ``found`` (a sha256 object) is ``digest``."""
    actual = "sha256:" + found.hexdigest()
    if actual != digest:
        raise ImageError(f"{what}sha256 is {actual}, expected {digest}", path=name)


def read_json_value(
    location: BlobLocation, digest: str | None, what: str, limit: int = JSON_LIMIT
) -> tuple[bytes, object]:
    """The bytes of a small JSON blob and the value they hold, at most ``limit``
    bytes, its sha256 checked against ``digest`` when one is given. An ImageError
    naming the blob when it is too large, has another digest or is not JSON."""
    if location.size > limit:
        raise LimitError(
            f"{what} is {location.size} bytes, at most {limit} allowed",
            limit="json_bytes",
            path=location.name,
        )
    with _open_range(location) as f:
        data = bytearray()
        while len(data) < location.size and (chunk := f.read(location.size - len(data))):
            data += chunk
    if len(data) != location.size:
        raise ImageError(f"{what} ends at byte {len(data)} of {location.size}", path=location.name)
    raw = bytes(data)
    if digest is not None:
        check_hash(hashlib.sha256(raw), digest, location.name, "")
    try:
        return raw, json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise ImageError(f"{what} is not JSON: {shown(str(e), 120)}", path=location.name) from None


def read_json_blob(
    location: BlobLocation, digest: str | None, what: str, limit: int = JSON_LIMIT
) -> tuple[bytes, dict[str, Any]]:
    """:func:`read_json_value` for a blob that must hold a JSON object."""
    raw, parsed = read_json_value(location, digest, what, limit)
    if not isinstance(parsed, dict):
        raise ImageError(f"{what} is not a JSON object", path=location.name)
    return raw, parsed


def sniff_compression(location: BlobLocation) -> str:
    """``"gzip"``, ``"zstd"`` or ``"tar"``, from the blob's first bytes (media types
    are not trusted: skopeo labels plain tars ``+gzip``)."""
    with _open_range(location) as f:
        head = f.read(4)
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head == ZSTD_MAGIC:
        return "zstd"
    return "tar"


def verify_blob(location: BlobLocation, digest: str, stop: threading.Event | None = None) -> None:
    """Stream the blob once (``BUFFER_SIZE`` at a time) and check its sha256; when
    ``stop`` is set meanwhile, return at once, unchecked (its reader gave up)."""
    buffer = bytearray(BUFFER_SIZE)
    with _HashingReader(location) as reader:
        while reader.readinto(buffer):
            if stop is not None and stop.is_set():
                return
        reader.check(digest)


def _decompressor(compression: str, raw: BinaryIO) -> BinaryIO:
    if compression == "gzip":
        return open_gunzip(raw)
    return cast(BinaryIO, zstd.ZstdFile(raw, mode="rb"))


def decompress_blob(
    location: BlobLocation,
    compression: str,
    digest: str,
    diff_id: str | None,
    out_path: str,
    max_bytes: int,
) -> None:
    """Decompress a gzip or zstd blob into a new file ``out_path``, streaming
    (``BUFFER_SIZE`` at a time), in one pass that checks the compressed bytes against
    ``digest`` and the decompressed tar against ``diff_id`` (when given). Refuses to
    write more than ``max_bytes``. On any error ``out_path`` is removed."""
    try:
        with (
            _HashingReader(location) as raw,
            _decompressor(compression, cast(BinaryIO, raw)) as stream,
            open(out_path, "xb") as out,
        ):
            tar_hash = hashlib.sha256()
            written = 0
            while chunk := stream.read(BUFFER_SIZE):
                written += len(chunk)
                if written > max_bytes:
                    raise LimitError(
                        f"{compression} layer expands to more than {max_bytes} bytes "
                        "(the limit on a decompressed layer)",
                        limit="max_layer_bytes",
                        path=location.name,
                    )
                tar_hash.update(chunk)
                out.write(chunk)
            if raw.read(1):
                raise ImageError(
                    f"data after the end of the {compression} stream", path=location.name
                )
            raw.check(digest)
            if diff_id is not None:
                check_hash(tar_hash, diff_id, location.name, "decompressed layer's ")
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(out_path)
        if isinstance(e, (*GZIP_ERRORS, ValueError, zstd.ZstdError)):
            raise ImageError(
                f"cannot decompress {compression} layer: {shown(str(e), 120)}", path=location.name
            ) from None
        raise
