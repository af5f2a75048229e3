"""Reading an OCI image layout: ``index.json`` and ``blobs/sha256/<hex>``, in a folder,
in an OCI archive tar, or in the tar newer Docker writes with ``docker save``.

The top-level ``index.json`` lists images (named by annotations); an entry may be a
manifest or an image index (a manifest list), which names one manifest per platform
and may nest. Every blob read here is checked against its descriptor's size and
digest before it is used.
"""

from __future__ import annotations

from typing import Any

from ..errors import ImageError, LimitError, shown
from .blobs import BlobLocation, check_digest, read_json_blob
from .resolved import (
    MAX_LAYERS,
    ResolvedImage,
    ResolvedLayer,
    check_layer_count,
    config_diff_ids,
)
from .selection import Candidate, chosen_name, select_image, select_platform
from .stores import BlobStore

INDEX_NAME = "index.json"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
# Image indexes may point at image indexes; this deep at most.
MAX_INDEX_DEPTH = 4
MAX_DESCRIPTORS = 10_000


def _descriptor(value: object, where: str) -> dict[str, Any]:
    """A descriptor (mediaType, digest, size) checked for shape."""
    if not isinstance(value, dict):
        raise ImageError("descriptor is not a JSON object", path=where)
    check_digest(value.get("digest"), where)
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ImageError(f"descriptor size {shown(str(size))} is not a byte count", path=where)
    if not isinstance(value.get("mediaType", ""), str):
        raise ImageError("descriptor mediaType is not a string", path=where)
    return value


def _descriptors(document: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    items = document.get(key)
    if not isinstance(items, list):
        raise ImageError(f"has no {key} list", path=where)
    if len(items) > MAX_DESCRIPTORS:
        raise LimitError(
            f"lists {len(items)} {key}, at most {MAX_DESCRIPTORS}",
            limit="max_descriptors",
            path=where,
        )
    return [_descriptor(item, f"{where} {key}[{i}]") for i, item in enumerate(items)]


def locate_blob(store: BlobStore, descriptor: dict[str, Any], what: str) -> BlobLocation:
    """Where the blob a descriptor names is, its stored size checked against the
    descriptor's (a truncated or padded blob is refused here)."""
    digest = descriptor["digest"]
    location = store.locate("blobs/sha256/" + digest.split(":", 1)[1], what)
    if location.size != descriptor["size"]:
        raise ImageError(
            f"{what} blob is {location.size} bytes, its descriptor says {descriptor['size']}",
            path=location.name,
        )
    return location


def _names(descriptor: dict[str, Any]) -> tuple[str, ...]:
    notes = descriptor.get("annotations")
    if not isinstance(notes, dict):
        return ()
    found = [notes.get(CONTAINERD_NAME), notes.get(REF_NAME)]
    return tuple(n for n in found if isinstance(n, str) and n)


def _platform(descriptor: dict[str, Any]) -> str | None:
    """``os/arch[/variant]`` of an index entry; None for entries that are not images
    (buildx's attestation manifests say ``unknown/unknown``)."""
    platform = descriptor.get("platform")
    if not isinstance(platform, dict):
        return None
    parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
    if not all(isinstance(p, str) for p in parts[:2]) or "unknown" in parts[:2]:
        return None
    return "/".join(p for p in parts if isinstance(p, str) and p)


def _is_index(descriptor: dict[str, Any], document: dict[str, Any]) -> bool:
    media = document.get("mediaType", descriptor.get("mediaType"))
    return media in INDEX_TYPES or ("manifests" in document and "layers" not in document)


def _resolve(
    store: BlobStore, descriptor: dict[str, Any], arch: str | None, name: str | None, depth: int
) -> ResolvedImage:
    """The image a descriptor names, following image indexes to ``arch``'s manifest."""
    location = locate_blob(store, descriptor, "manifest")
    _, document = read_json_blob(location, descriptor["digest"], "manifest")
    if _is_index(descriptor, document):
        if depth >= MAX_INDEX_DEPTH:
            raise LimitError(
                f"image indexes nest more than {MAX_INDEX_DEPTH} deep",
                limit="max_index_depth",
                path=location.name,
            )
        entries = _descriptors(document, "manifests", location.name)
        platforms = [(p, e) for e in entries if (p := _platform(e)) is not None]
        if not platforms and len(entries) == 1:
            return _resolve(store, entries[0], arch, name, depth + 1)  # an index of an index
        chosen = select_platform(platforms, arch, location.name)
        return _resolve(store, chosen, arch, name, depth + 1)
    config_descriptor = _descriptor(document.get("config"), f"{location.name} config")
    layer_descriptors = _descriptors(document, "layers", location.name)
    if len(layer_descriptors) > MAX_LAYERS:
        raise LimitError(
            f"lists {len(layer_descriptors)} layers, at most {MAX_LAYERS}",
            limit="max_layers",
            path=location.name,
        )
    config_location = locate_blob(store, config_descriptor, "config")
    config_bytes, config = read_json_blob(
        config_location, config_descriptor["digest"], "image config"
    )
    diff_ids = config_diff_ids(config, config_location.name)
    check_layer_count(len(layer_descriptors), diff_ids, location.name)
    layers = tuple(
        ResolvedLayer(
            location=locate_blob(store, d, f"layer {i}"),
            digest=d["digest"],
            media_type=d.get("mediaType", ""),
            diff_id=diff_ids[i],
        )
        for i, d in enumerate(layer_descriptors)
    )
    return ResolvedImage(name, descriptor["digest"], config_bytes, config, layers)


def read_oci_layout(store: BlobStore, selector: str | None, arch: str | None) -> ResolvedImage:
    """The image ``selector`` names (a tag, a name, ``sha256:<hex>`` or None for the
    only one) in the OCI layout ``store``, for ``arch`` when it is multi-platform."""
    index_location = store.locate(INDEX_NAME, "image index")
    _, index = read_json_blob(index_location, None, "index.json")
    entries = _descriptors(index, "manifests", index_location.name)
    platforms = [(p, e) for e in entries if (p := _platform(e)) is not None]
    if selector is None and len(entries) > 1 and len(platforms) == len(entries):
        # index.json itself lists one manifest per platform, without names.
        chosen = select_platform(platforms, arch, index_location.name)
        return _resolve(store, chosen, arch, next(iter(_names(chosen)), None), 0)
    candidates = [Candidate(_names(e), e["digest"], e) for e in entries]
    picked = select_image(candidates, selector, store.path)
    return _resolve(store, picked.item, arch, chosen_name(picked, selector), 0)
