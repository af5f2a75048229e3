"""nitro-cli's ramdisks as EIF section sources, never written to disk.

The bootstrap ramdisk (``dev/``, ``init``, ``nsm.ko``) is small and packed in memory.
A customer ramdisk is made while the EIF is written: its size is computed from the
index (names and sizes, no data), and its bytes are encoded straight into the
writer's buffers, file data read (from an image's layers, or from a folder's files)
as it is reached, so the EIF writer hashes, CRCs and writes them in the same pass
that makes them. Its build lint (kernel modules for another kernel or CPU, as
``inspect_ramdisk`` finds them in a ramdisk file) reads only the ``.ko`` files' bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..inspect.kmod import MODULE_READ_LIMIT, ModuleInfo, module_info
from ..inspect.ramdisk import MAX_MODULES, module_findings
from ..sources import BytesSource, GeneratedSource
from .bootstrap import Blobs, pack_bootstrap_ramdisk
from .image import ContainerImage
from .linuxkit import LayerBytes, newc_size
from .nitro import (
    CustomerIndex,
    FileData,
    LayerData,
    config_warnings,
    customer_index,
    customer_pieces,
    index_pieces,
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


def _modules(index: CustomerIndex, data: FileData) -> list[tuple[str, ModuleInfo]]:
    found: list[tuple[str, ModuleInfo]] = []
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


def index_source(
    index: CustomerIndex,
    open_data: Callable[[], FileData],
    label: str,
    produce: Callable[[], Iterator[bytes]] | None = None,
) -> GeneratedSource:
    """The customer ramdisk of ``index`` as a :class:`GeneratedSource` whose file
    data comes from ``open_data()`` (called again for each read); ``produce``
    replaces the plain :func:`index_pieces` (to check something at the end)."""

    def lint(n: int, arch: str, kernel_release: str | None) -> list[tuple[str, str]]:
        found = module_findings(n, _modules(index, open_data()), arch, kernel_release)
        return [(f.level, f.message) for f in found]

    return GeneratedSource(
        length=newc_size(index.entries()),
        produce=produce or (lambda: index_pieces(index, open_data())),
        label=label,
        lint=lint,
    )


def customer_source(image: ContainerImage, *, implicit_dir_mtime: int = 0) -> CustomerSource:
    """nitro-cli 1.5.0's customer ramdisk for ``image`` as a :class:`GeneratedSource`
    (the layers are indexed now; file data is read when the source is read). The
    plain layers' digests are checked on a worker thread meanwhile, and the source's
    last bytes come only when they passed."""
    image.check_layers_in_background()
    index = customer_index(image, implicit_dir_mtime=implicit_dir_mtime)
    source = index_source(
        index,
        lambda: LayerData(image),
        f"{image.source} (customer ramdisk, made while written)",
        lambda: customer_pieces(image, index),
    )
    warnings = (*config_warnings(image.config), *index.warnings)
    return CustomerSource(source, index, warnings)
