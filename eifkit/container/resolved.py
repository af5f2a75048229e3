"""What reading an archive's manifests yields: where one image's config and layers
are and which digests they must have, before any layer is read. Both readers
(:mod:`~eifkit.container.ocilayout` and :mod:`~eifkit.container.dockersave`) produce a
:class:`ResolvedImage`; :func:`~eifkit.container.image.open_image` turns it into a
:class:`~eifkit.container.image.ContainerImage`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ImageError, LimitError
from .blobs import BlobLocation, check_digest

# More layers than any registry accepts (Docker refuses more than 127 at load).
MAX_LAYERS = 1000


@dataclass(frozen=True)
class ResolvedLayer:
    """One layer blob: where it is, the sha256 of its stored bytes (``digest``), its
    declared media type, and the sha256 of its uncompressed tar (``diff_id``, from
    the config)."""

    location: BlobLocation
    digest: str
    media_type: str
    diff_id: str


@dataclass(frozen=True)
class ResolvedImage:
    """One image: its name and manifest digest when known, its config (stored bytes
    and parsed) and its layers, lowest first."""

    reference: str | None
    digest: str | None
    config_bytes: bytes
    config: dict[str, Any]
    layers: tuple[ResolvedLayer, ...]


def config_diff_ids(config: dict[str, Any], where: str) -> list[str]:
    """The ``rootfs.diff_ids`` of an image config (the uncompressed layers' digests,
    lowest first); an ImageError naming ``where`` when they are missing or malformed."""
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list):
        raise ImageError("image config has no rootfs.diff_ids list", path=where)
    if len(diff_ids) > MAX_LAYERS:
        raise LimitError(
            f"image has {len(diff_ids)} layers, at most {MAX_LAYERS} allowed",
            limit="max_layers",
            path=where,
        )
    return [check_digest(d, f"{where} rootfs.diff_ids[{i}]") for i, d in enumerate(diff_ids)]


def check_layer_count(layers: int, diff_ids: list[str], where: str) -> None:
    """An ImageError unless the manifest lists as many layers as the config has
    diff_ids."""
    if layers != len(diff_ids):
        raise ImageError(
            f"manifest lists {layers} layers, the config's rootfs.diff_ids {len(diff_ids)}",
            path=where,
        )
