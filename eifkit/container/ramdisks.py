"""nitro-cli's two ramdisks of an image as EIF section sources, never written to disk.

The bootstrap ramdisk (``dev/``, ``init``, ``nsm.ko``) is small and packed in memory.
The customer ramdisk is made while the EIF is written: its size is computed from the
index of the applied layers (names and sizes, no data), and its bytes are encoded
straight into the writer's buffers, file data read from the layers as it is reached,
so the EIF writer hashes, CRCs and writes them in the same pass that makes them.
Its build lint (kernel modules for another kernel or CPU, as ``inspect_ramdisk``
finds them in a ramdisk file) reads only the ``.ko`` files' bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from ..inspect.kmod import MODULE_READ_LIMIT, ModuleInfo, module_info
from ..inspect.ramdisk import MAX_MODULES, module_findings
from ..sources import BytesSource, GeneratedSource
from .bootstrap import Blobs, pack_bootstrap_ramdisk
from .image import ContainerImage
from .linuxkit import LayerBytes, newc_size
from .nitro import (
    CustomerIndex,
    LayerData,
    config_warnings,
    customer_index,
    customer_pieces,
)
from .rootfs import FILE


def bootstrap_source(blobs: Blobs) -> BytesSource:
    """nitro-cli's bootstrap ramdisk for ``blobs``, in memory (init and nsm.ko are
    held in memory while packed anyway; real ones are KiB to a few MiB)."""
    buffer = io.BytesIO()
    pack_bootstrap_ramdisk(blobs, buffer)
    return BytesSource(buffer.getvalue())


@dataclass(frozen=True)
class CustomerSource:
    """The customer ramdisk as a section source, and what nitro-cli's output would
    not reproduce or what its init ignores (``warnings``)."""

    source: GeneratedSource
    index: CustomerIndex
    warnings: tuple[str, ...]


def _modules(image: ContainerImage, index: CustomerIndex) -> list[tuple[str, ModuleInfo]]:
    found: list[tuple[str, ModuleInfo]] = []
    data = LayerData(image)
    try:
        for entry in index.entries():
            if len(found) >= MAX_MODULES:
                break
            body = entry.body
            if entry.kind != FILE or not entry.name.endswith(".ko"):
                continue
            if isinstance(body, LayerBytes) and body.size <= MODULE_READ_LIMIT:
                found.append((entry.name, module_info(b"".join(data.read(body)))))
    finally:
        data.close()
    return found


def customer_source(image: ContainerImage, *, implicit_dir_mtime: int = 0) -> CustomerSource:
    """nitro-cli 1.5.0's customer ramdisk for ``image`` as a :class:`GeneratedSource`
    (the layers are indexed now; file data is read when the source is read). The
    plain layers' digests are checked on a worker thread meanwhile, and the source's
    last bytes come only when they passed."""
    image.check_layers_in_background()
    index = customer_index(image, implicit_dir_mtime=implicit_dir_mtime)

    def lint(n: int, arch: str, kernel_release: str | None) -> list[tuple[str, str]]:
        found = module_findings(n, _modules(image, index), arch, kernel_release)
        return [(f.level, f.message) for f in found]

    source = GeneratedSource(
        length=newc_size(index.entries()),
        produce=lambda: customer_pieces(image, index),
        label=f"{image.source} (customer ramdisk, made while written)",
        lint=lint,
    )
    warnings = (*config_warnings(image.config), *index.warnings)
    return CustomerSource(source, index, warnings)
