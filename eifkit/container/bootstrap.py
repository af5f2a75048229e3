"""nitro-cli 1.5.0's bootstrap ramdisk, byte for byte, from its blobs folder.

nitro-cli ships a folder of blobs (default ``/usr/share/nitro_enclaves/blobs``): the
enclave kernel (``bzImage`` on x86_64, ``Image`` on aarch64) with its ``.config``, the
kernel ``cmdline``, the enclave's ``init`` and the NSM driver ``nsm.ko``. Its
bootstrap ramdisk is linuxkit's pack of ``dev/`` (0755), ``init`` and ``nsm.ko``
(both 0755), root-owned, mtime 1492533000: the modes and times of the blob files
themselves do not matter.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..atomic import InputPaths, atomic_output
from ..errors import EifError, InputError
from ..inputs import read_input_file
from ..inspect.initramfs import ByteSink
from .linuxkit import LayerBytes, NewcWriter, files_entries

NITRO_CLI_BLOBS = "/usr/share/nitro_enclaves/blobs"
# init and nsm.ko are held in memory while packed: real ones are KiB to a few MiB.
BLOB_READ_LIMIT = 64 << 20
KERNEL_NAMES = ("bzImage", "Image")


@dataclass(frozen=True)
class Blobs:
    """The files of a nitro-cli blobs folder (None for what it lacks)."""

    folder: str
    init: str
    nsm_ko: str
    kernel: str | None
    kernel_config: str | None
    cmdline: str | None

    @classmethod
    def find(cls, folder: str | os.PathLike[str] | None = None) -> Blobs:
        """The blobs in ``folder``, or in nitro-cli's folder when none is given;
        InputError when ``init`` or ``nsm.ko`` is missing."""
        where = os.fspath(folder) if folder is not None else NITRO_CLI_BLOBS
        if not os.path.isdir(where):
            hint = "" if folder is not None else " (nitro-cli's; give --blobs DIR)"
            raise InputError(f"no blobs folder here{hint}", path=where)
        for needed in ("init", "nsm.ko"):
            if not os.path.isfile(os.path.join(where, needed)):
                raise InputError(f"the blobs folder has no {needed}", path=where)
        kernel = next((k for k in KERNEL_NAMES if os.path.isfile(os.path.join(where, k))), None)

        def present(name: str | None) -> str | None:
            path = os.path.join(where, name) if name else None
            return path if path and os.path.isfile(path) else None

        return cls(
            folder=where,
            init=os.path.join(where, "init"),
            nsm_ko=os.path.join(where, "nsm.ko"),
            kernel=present(kernel),
            kernel_config=present(f"{kernel}.config" if kernel else None),
            cmdline=present("cmdline"),
        )


@dataclass(frozen=True)
class BootstrapRamdisk:
    path: str
    size: int
    sha384: bytes


def _no_layers(_where: LayerBytes) -> list[bytes]:
    raise AssertionError("the bootstrap ramdisk has no layer data")  # pragma: no cover


def pack_bootstrap_ramdisk(blobs: Blobs, sink: ByteSink) -> bytes:
    """Stream nitro-cli's bootstrap ramdisk for ``blobs`` into ``sink``; return its
    SHA-384."""
    init = read_input_file(blobs.init, "init blob", BLOB_READ_LIMIT)
    nsm = read_input_file(blobs.nsm_ko, "nsm.ko blob", BLOB_READ_LIMIT)
    files = [("dev", 0o755, None), ("init", 0o755, init), ("nsm.ko", 0o755, nsm)]
    writer = NewcWriter(sink, lambda where: iter(_no_layers(where)))
    for entry in files_entries(files):
        writer.add(entry)
    writer.finish()
    return writer.hash.digest()


def write_bootstrap_ramdisk(
    blobs: Blobs, out: str | os.PathLike[str], *, inputs: InputPaths = ()
) -> BootstrapRamdisk:
    """Write nitro-cli's bootstrap ramdisk for ``blobs`` to ``out``, atomically."""
    try:
        with atomic_output(out, inputs=[blobs.init, blobs.nsm_ko, *inputs]) as tmp:
            with tmp.open() as sink:
                digest = pack_bootstrap_ramdisk(blobs, sink)
            target = tmp.target
    except EifError as e:
        raise e.with_path(blobs.folder) from None
    return BootstrapRamdisk(target, os.path.getsize(target), digest)
