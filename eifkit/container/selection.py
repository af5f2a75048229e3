"""Choosing one image among those an archive holds: by name, tag or digest, and one
platform among those an image index lists.

Names are what Docker and OCI tools write: ``RepoTags`` of a ``docker save``
(``eifkit-vectors/c3-multilayer:v1``), the ``org.opencontainers.image.ref.name``
annotation of an OCI layout (``v1``) and Docker's ``io.containerd.image.name``
(``docker.io/library/busybox:latest``). A selector matches a name when it is the
name, the name without Docker's default ``docker.io/`` or ``docker.io/library/``,
that without its ``:latest`` (Docker's default tag), or the name's tag alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..errors import ImageError, shown

T = TypeVar("T")

# Architecture spellings users write, as OCI names them.
_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "arm64v8": "arm64"}
DEFAULT_ARCH = "amd64"


@dataclass(frozen=True)
class Candidate(Generic[T]):
    """One image an archive offers: its names, its digest if known, and what the
    reader needs to open it (``item``)."""

    names: tuple[str, ...]
    digest: str | None
    item: T


def normalize_arch(arch: str) -> str:
    """``arch`` as OCI spells it (``x86_64`` → ``amd64``, ``aarch64`` → ``arm64``)."""
    lowered = arch.lower()
    return _ARCH_ALIASES.get(lowered, lowered)


def _tag(name: str) -> str | None:
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def name_matches(name: str, selector: str) -> bool:
    """Whether ``selector`` names the image called ``name`` (see the module text)."""
    forms = {name}
    for prefix in ("docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            forms.add(name[len(prefix) :])
    if selector in forms:
        return True
    if _tag(selector) is None and f"{selector}:latest" in forms:
        return True  # Docker's default tag
    return ":" not in selector and "/" not in selector and _tag(name) == selector


def _describe(candidate: Candidate[T]) -> str:
    label = ", ".join(candidate.names) if candidate.names else "(no name)"
    return f"{label} {candidate.digest}" if candidate.digest else label


def describe_all(candidates: Sequence[Candidate[T]]) -> str:
    """What an archive holds, for an error line (at most 10 images listed)."""
    shown_ = [_describe(c) for c in candidates[:10]]
    more = f" and {len(candidates) - 10} more" if len(candidates) > 10 else ""
    return "; ".join(shown_) + more


def _distinct(candidates: Sequence[Candidate[T]]) -> list[Candidate[T]]:
    """``candidates`` with entries of the same digest merged (one image under two
    tags is listed twice in an OCI index.json): the first keeps all their names."""
    merged: dict[object, Candidate[T]] = {}
    for i, c in enumerate(candidates):
        key = c.digest if c.digest is not None else i
        first = merged.get(key)
        names = c.names if first is None else first.names + c.names
        merged[key] = Candidate(names, c.digest, c.item if first is None else first.item)
    return list(merged.values())


def select_image(
    candidates: Sequence[Candidate[T]], selector: str | None, path: str
) -> Candidate[T]:
    """The one image ``selector`` names (``sha256:<hex>`` for a digest, else a name
    or tag), or the only one when ``selector`` is None; entries with the same digest
    are one image. An ImageError listing what the archive holds when nothing or
    several match."""
    candidates = _distinct(candidates)
    if not candidates:
        raise ImageError("holds no image", path=path)
    if selector is None:
        if len(candidates) == 1:
            return candidates[0]
        raise ImageError(
            f"holds {len(candidates)} images, name one with PATH:TAG or PATH@sha256:…: "
            f"{describe_all(candidates)}",
            path=path,
        )
    if selector.startswith("sha256:"):
        found = [c for c in candidates if c.digest == selector]
    else:
        found = [c for c in candidates if any(name_matches(n, selector) for n in c.names)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ImageError(
            f"no image {shown(selector)}; it holds: {describe_all(candidates)}", path=path
        )
    raise ImageError(
        f"{shown(selector)} names {len(found)} images, give the full name or a digest: "
        f"{describe_all(found)}",
        path=path,
    )


def select_platform(platforms: Sequence[tuple[str, T]], arch: str | None, where: str) -> T:
    """The item of ``platforms`` (pairs of ``os/arch[/variant]`` and item) for
    ``arch`` (Linux's: an enclave runs Linux); without ``arch``, the only one, else
    amd64's. An ImageError naming the
    platforms there are when the requested one is missing or is listed twice."""
    if arch is None and len(platforms) == 1:
        return platforms[0][1]
    want = normalize_arch(arch) if arch is not None else DEFAULT_ARCH
    found = [item for label, item in platforms if label.split("/")[:2] == ["linux", want]]
    listed = ", ".join(label for label, _ in platforms) or "none"
    if len(found) == 1:
        return found[0]
    if not found:
        raise ImageError(
            f"has no image for {want} (platforms: {listed}); choose with --arch", path=where
        )
    raise ImageError(f"lists {len(found)} images for {want} (platforms: {listed})", path=where)


def chosen_name(candidate: Candidate[T], selector: str | None) -> str | None:
    """The name to report for ``candidate``: the one ``selector`` matched, else its
    first (the fullest: Docker's full reference comes before a bare tag)."""
    if selector is not None and not selector.startswith("sha256:"):
        for name in candidate.names:
            if name_matches(name, selector):
                return name
    return next(iter(candidate.names), None)
