"""A container image as eifkit reads it: its config and its layers, lowest first.

``open_image`` (the reading of docker-save archives and OCI layouts) lives with the
image half of issue 12, whose version of this module replaces this one; this one
holds only the two types both halves share, so that the rootfs half can be built
and tested on its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..errors import InputError


@dataclass(frozen=True)
class Layer:
    """One layer of an image, ``index`` 0 the lowest."""

    digest: str  # "sha256:<hex>" of the blob as stored (compressed or not)
    media_type: str  # as declared (do not trust it: the compression is sniffed)
    index: int  # 0 = lowest layer

    def open_tar(self) -> contextlib.AbstractContextManager[BinaryIO]:
        """A SEEKABLE binary stream of the UNCOMPRESSED layer tar."""
        raise InputError(f"layer {self.index} ({self.digest}) has no data attached")


@dataclass(frozen=True)
class ContainerImage:
    """One image: its name and digest, its config, its layers; a context manager."""

    source: str  # the path the user gave
    reference: str | None  # the tag/name or None
    digest: str | None  # manifest digest when known
    config: Mapping[str, Any]  # the whole image config JSON (its "config" has Cmd ...)
    config_bytes: bytes  # the config blob as stored
    layers: tuple[Layer, ...]

    def close(self) -> None:
        """Remove temporary files (this form has none)."""

    def __enter__(self) -> ContainerImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
