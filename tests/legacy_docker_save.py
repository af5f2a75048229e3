"""TEST-ONLY: a ContainerImage from a legacy ``docker save`` archive (manifest.json,
``<id>.json``, ``<layer>/layer.tar`` stored plain in the outer tar), so that the
rootfs half can be tested without ``open_image``; and :class:`OpenedLayer`, a layer
whose tar comes from a function, for made-up layer stacks. Not a product reader: it
trusts the archive."""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from eifkit.container.image import ContainerImage, Layer

TarOpener = Callable[[], contextlib.AbstractContextManager[BinaryIO]]


class OpenedLayer(Layer):
    """A :class:`Layer` whose ``open_tar`` calls ``opener`` (whatever private fields
    the product's Layer has, they keep their defaults)."""

    def __init__(self, digest: str, media_type: str, index: int, opener: TarOpener) -> None:
        super().__init__(digest, media_type, index)
        object.__setattr__(self, "opener", opener)
        self.opener: TarOpener

    def open_tar(self) -> contextlib.AbstractContextManager[BinaryIO]:
        return self.opener()


def bytes_opener(data: bytes) -> TarOpener:
    return lambda: contextlib.closing(io.BytesIO(data))


def open_legacy_docker_save(path: str | Path) -> ContainerImage:
    with tarfile.open(path, "r:") as outer:
        manifest = json.loads(_member_bytes(outer, "manifest.json"))[0]
        config_bytes = _member_bytes(outer, manifest["Config"])
        layers = tuple(
            OpenedLayer(
                digest=f"sha256:{Path(name).parent.name}",
                media_type="application/vnd.docker.image.rootfs.diff.tar",
                index=index,
                opener=bytes_opener(_member_bytes(outer, name)),
            )
            for index, name in enumerate(manifest["Layers"])
        )
    tags = manifest.get("RepoTags") or [None]
    return ContainerImage(
        source=str(path),
        reference=tags[0],
        digest=None,
        config=json.loads(config_bytes),
        config_bytes=config_bytes,
        layers=layers,
    )


def _member_bytes(outer: tarfile.TarFile, name: str) -> bytes:
    handle = outer.extractfile(name)
    assert handle is not None
    return handle.read()
