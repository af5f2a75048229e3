"""A container image as eifkit reads it: its config and its layers, lowest first.

``open_image`` (the reading of docker-save archives and OCI layouts) lives with the
image half of issue 12; this module holds the two types both halves share.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

TarOpener = Callable[[], contextlib.AbstractContextManager[BinaryIO]]


@dataclass(frozen=True)
class Layer:
    digest: str  # "sha256:<hex>" of the blob as stored (compressed or not)
    media_type: str  # as declared (do not trust it: the compression is sniffed)
    index: int  # 0 = lowest layer
    opener: TarOpener | None = field(default=None, repr=False, compare=False)

    def open_tar(self) -> contextlib.AbstractContextManager[BinaryIO]:
        """A SEEKABLE binary stream of the UNCOMPRESSED layer tar."""
        if self.opener is None:
            raise NotImplementedError(f"layer {self.index} ({self.digest}) has no data")
        return self.opener()


@dataclass(frozen=True)
class ContainerImage:
    source: str  # the path the user gave
    reference: str | None  # the tag/name or None
    digest: str | None  # manifest digest when known
    config: Mapping[str, Any]  # the whole image config JSON
    config_bytes: bytes  # the config blob as stored
    layers: tuple[Layer, ...]

    def close(self) -> None:
        """Remove temporary files (none for this plain form)."""

    def __enter__(self) -> ContainerImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
