"""Reading the legacy ``docker save`` format: ``manifest.json``, a list of
``{"Config": "<id>.json", "RepoTags": [...], "Layers": ["<dir>/layer.tar", ...]}``.

The config's file name is its own sha256 (the image ID), and each ``layer.tar`` is an
uncompressed tar whose sha256 is the config's ``rootfs.diff_ids`` entry; both are
checked. ``PATH@sha256:<hex>`` selects by image ID here (the format keeps no manifest
digest).
"""

from __future__ import annotations

import re

from ..errors import ImageError
from .blobs import read_json_blob, read_json_value
from .resolved import ResolvedImage, ResolvedLayer, check_layer_count, config_diff_ids
from .selection import Candidate, chosen_name, select_image
from .stores import BlobStore, check_member_name

MANIFEST_NAME = "manifest.json"
# "<64 hex>.json" (Docker up to 24) or "blobs/sha256/<64 hex>" (Docker 25+).
_NAMED_BY_DIGEST = re.compile(r"(?:^|/)(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?$")


def _digest_in_name(name: str) -> str | None:
    """The sha256 a docker-save file name carries (``<hex>.json``,
    ``blobs/sha256/<hex>``), or None."""
    match = _NAMED_BY_DIGEST.search(name)
    return "sha256:" + match.group(1) if match else None


def _entry(value: object, where: str) -> tuple[str, tuple[str, ...], list[str]]:
    """Config name, RepoTags and layer names of one manifest.json entry, checked."""
    if not isinstance(value, dict):
        raise ImageError("entry is not a JSON object", path=where)
    config = check_member_name(value.get("Config"), f"{where} Config")
    tags = value.get("RepoTags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ImageError("RepoTags is not a list of strings", path=where)
    layers = value.get("Layers")
    if not isinstance(layers, list):
        raise ImageError("has no Layers list", path=where)
    names = [check_member_name(n, f"{where} Layers[{i}]") for i, n in enumerate(layers)]
    return config, tuple(tags), names


def read_docker_save(store: BlobStore, selector: str | None) -> ResolvedImage:
    """The image ``selector`` names (a RepoTag or its tag, the image ID as
    ``sha256:<hex>``, or None for the only one) in a legacy docker-save ``store``."""
    manifest_location = store.locate(MANIFEST_NAME, "docker-save manifest")
    _, entries = read_json_value(manifest_location, None, "manifest.json")
    if not isinstance(entries, list):
        raise ImageError("manifest.json is not a JSON list", path=manifest_location.name)
    candidates = []
    for i, value in enumerate(entries):
        config_name, tags, layer_names = _entry(value, f"{manifest_location.name}[{i}]")
        candidates.append(Candidate(tags, _digest_in_name(config_name), (config_name, layer_names)))
    picked = select_image(candidates, selector, store.path)
    config_name, layer_names = picked.item
    config_location = store.locate(config_name, "image config")
    config_bytes, config = read_json_blob(config_location, picked.digest, "image config")
    diff_ids = config_diff_ids(config, config_location.name)
    check_layer_count(len(layer_names), diff_ids, manifest_location.name)
    layers = tuple(
        ResolvedLayer(
            location=store.locate(name, f"layer {i}"),
            digest=(_digest_in_name(name) if name.startswith("blobs/") else None) or diff_ids[i],
            media_type="application/vnd.docker.image.rootfs.diff.tar",
            diff_id=diff_ids[i],
        )
        for i, name in enumerate(layer_names)
    )
    return ResolvedImage(chosen_name(picked, selector), None, config_bytes, config, layers)
