"""TEST-ONLY: a ContainerImage from a legacy ``docker save`` archive (manifest.json,
``<id>.json``, ``<layer>/layer.tar`` stored plain in the outer tar), so that the
rootfs half can be tested before ``open_image`` exists. Not a product reader: it
trusts the archive."""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
from pathlib import Path
from typing import BinaryIO

from eifkit.container.image import ContainerImage, Layer, TarOpener


def open_legacy_docker_save(path: str | Path) -> ContainerImage:
    with tarfile.open(path, "r:") as outer:
        manifest = json.loads(_member_bytes(outer, "manifest.json"))[0]
        config_bytes = _member_bytes(outer, manifest["Config"])
        places = {}
        for name in manifest["Layers"]:
            member = outer.getmember(name)
            places[name] = (member.offset_data, member.size)
    layers = []
    for index, name in enumerate(manifest["Layers"]):
        offset, size = places[name]
        layers.append(
            Layer(
                digest=f"sha256:{Path(name).parent.name}",
                media_type="application/vnd.docker.image.rootfs.diff.tar",
                index=index,
                opener=_window(str(path), offset, size),
            )
        )
    tags = manifest.get("RepoTags") or [None]
    return ContainerImage(
        source=str(path),
        reference=tags[0],
        digest=None,
        config=json.loads(config_bytes),
        config_bytes=config_bytes,
        layers=tuple(layers),
    )


def _member_bytes(outer: tarfile.TarFile, name: str) -> bytes:
    handle = outer.extractfile(name)
    assert handle is not None
    return handle.read()


def _window(path: str, offset: int, size: int) -> TarOpener:
    def opened() -> contextlib.AbstractContextManager[BinaryIO]:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(size)
        return contextlib.closing(io.BytesIO(data))

    return opened
