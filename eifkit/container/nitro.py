"""nitro-cli 1.5.0's customer ramdisk from a container image, byte for byte.

nitro-cli ``build-enclave`` asks Docker for the image's ``Cmd``/``Entrypoint`` and
``Env``, writes them to two files, and has linuxkit pack ``docker export`` of a
container made from the image under ``rootfs/`` with those two files. This module
does the same from the image's layers: ``rootfs`` applies them as Docker Engine 20.10
does, ``linuxkit`` writes the cpio.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from ..atomic import atomic_output
from ..errors import EifError, FormatError, InputError
from ..inspect.initramfs import ByteSink
from ..measure import pcr_of_digest
from .image import ContainerImage
from .linuxkit import (
    CpioEntry,
    LayerBytes,
    NewcEncoder,
    NewcWriter,
    export_entries,
    files_entries,
)
from .rootfs import DIR, ContainerFilesystem, container_filesystem

CHUNK = 1 << 20

# customer.yaml's ``files:`` as nitro-cli 1.5.0 writes it (cmd and env come last).
CUSTOMER_DIRS = (
    "rootfs/dev",
    "rootfs/run",
    "rootfs/sys",
    "rootfs/var",
    "rootfs/proc",
    "rootfs/tmp",
)


def nitro_cli_cmd_env(config: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The items of nitro-cli's ``cmd`` and ``env`` files for an image ``config``
    (the whole image config JSON; its ``config`` object is Docker's ``Config``).

    ``Cmd`` wins whenever it is not null, even ``[]`` (then the Entrypoint is lost);
    otherwise ``Entrypoint``; with neither nitro-cli fails. ``env`` is ``Env`` or
    nothing."""
    inner = config.get("config")
    settings: Mapping[str, Any] = inner if isinstance(inner, Mapping) else {}
    cmd = settings.get("Cmd")
    if cmd is None:
        cmd = settings.get("Entrypoint")
    if cmd is None:
        raise InputError(
            "the image has neither Cmd nor Entrypoint (nitro-cli refuses it:"
            " UnsupportedEntryPoint)",
            field="config.Cmd",
        )
    env = settings.get("Env")
    return _strings(cmd, "config.Cmd/Entrypoint"), _strings(
        [] if env is None else env, "config.Env"
    )


def config_warnings(config: Mapping[str, Any]) -> list[str]:
    """What nitro-cli's init silently ignores in an image config (its ``config``)."""
    inner = config.get("config")
    settings: Mapping[str, Any] = inner if isinstance(inner, Mapping) else {}
    said = []
    for key, what in (("WorkingDir", "WORKDIR"), ("User", "USER")):
        if settings.get(key):
            said.append(f"the image sets {what} {settings[key]!r}, which nitro-cli's init ignores")
    if settings.get("Cmd") is not None and settings.get("Entrypoint"):
        said.append(
            f"ENTRYPOINT {settings['Entrypoint']!r} is dropped because CMD is set"
            " (nitro-cli runs CMD alone)"
        )
    cmd = settings.get("Cmd")
    if cmd is None:
        cmd = settings.get("Entrypoint")
    if isinstance(cmd, list) and cmd and isinstance(cmd[0], str) and not cmd[0].startswith("/"):
        said.append(f"the command {cmd[0]!r} is not an absolute path (nitro-cli's init needs one)")
    return said


def _strings(items: object, field: str) -> list[str]:
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InputError("expected a list of strings", field=field)
    return list(items)


def lines(items: list[str]) -> bytes:
    """nitro-cli's file: each item followed by a newline, nothing escaped."""
    return b"".join(item.encode("utf-8", "surrogateescape") + b"\n" for item in items)


@dataclass(frozen=True)
class CustomerRamdisk:
    """What :func:`write_customer_ramdisk` wrote: ``sha384`` is of the whole file
    (PCR2 = extend(48 zero bytes, sha384)); ``warnings`` say where nitro-cli's own
    output would differ or not be reproducible."""

    path: str
    size: int
    entries: int
    sha384: bytes
    cmd: tuple[str, ...]
    env: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def pcr2(self) -> bytes:
        return pcr_of_digest(self.sha384)


class LayerData:
    """The layers' tar streams, opened once each when first read, closed by
    :meth:`close`."""

    def __init__(self, image: ContainerImage) -> None:
        self.image = image
        self.stack = contextlib.ExitStack()
        self.streams: dict[int, BinaryIO] = {}

    def close(self) -> None:
        self.stack.close()

    def read(self, where: LayerBytes) -> Iterator[bytes]:
        stream = self.streams.get(where.layer)
        if stream is None:
            layer = self.image.layers[where.layer]
            stream = self.stack.enter_context(layer.open_tar())
            self.streams[where.layer] = stream
        stream.seek(where.offset)
        left = where.size
        while left:
            chunk = stream.read(min(left, CHUNK))
            if not chunk:
                raise FormatError(
                    f"layer tar ends {left} bytes before the end of a file's data",
                    path=f"layer {where.layer} ({self.image.layers[where.layer].digest})",
                    offset=where.offset + where.size - left,
                )
            left -= len(chunk)
            yield chunk


@dataclass(frozen=True)
class CustomerIndex:
    """nitro-cli's customer ramdisk before any file data is read: the applied layers,
    the ``cmd`` and ``env`` items and the warnings found while applying the layers.
    :meth:`entries` may be walked more than once (to size the archive, then to write
    it)."""

    fs: ContainerFilesystem
    cmd: tuple[str, ...]
    env: tuple[str, ...]

    @property
    def warnings(self) -> list[str]:
        return self.fs.warnings

    def entries(self) -> Iterator[CpioEntry]:
        """The archive's entries in order (file data as :class:`LayerBytes`)."""
        files: list[tuple[str, int, bytes | None]] = [(d, 0o755, None) for d in CUSTOMER_DIRS]
        files += [("cmd", 0o644, lines(list(self.cmd))), ("env", 0o644, lines(list(self.env)))]
        yield CpioEntry("rootfs", DIR, 0o755)  # linuxkit's ``prefix: rootfs/``
        yield from export_entries(self.fs.export())
        yield from files_entries(files)


def customer_index(image: ContainerImage, *, implicit_dir_mtime: int = 0) -> CustomerIndex:
    """Apply ``image``'s layers (headers only) and take its cmd and env."""
    cmd, env = nitro_cli_cmd_env(image.config)
    fs = container_filesystem(image, implicit_dir_mtime=implicit_dir_mtime)
    return CustomerIndex(fs, tuple(cmd), tuple(env))


def customer_entries(
    image: ContainerImage, *, implicit_dir_mtime: int = 0
) -> tuple[Iterator[CpioEntry], list[str]]:
    """The entries of nitro-cli's customer ramdisk in order (file data not yet read:
    :class:`LayerBytes`), and the warnings found while applying the layers."""
    index = customer_index(image, implicit_dir_mtime=implicit_dir_mtime)
    return index.entries(), index.warnings


class FileData(Protocol):
    """Where an index's file data is read from (:class:`LayerData`, or the files of a
    folder): ``read`` gives the bytes of one :class:`LayerBytes`; ``close`` ends."""

    def read(self, where: LayerBytes) -> Iterator[bytes]: ...

    def close(self) -> None: ...


def index_pieces(
    index: CustomerIndex, data: FileData, finish: Callable[[], None] | None = None
) -> Iterator[bytes]:
    """The bytes of the customer ramdisk of ``index`` in pieces, file data read from
    ``data`` as it is reached (closed at the end); the last piece comes only after
    ``finish()`` (if given) returned."""
    try:
        yield from NewcEncoder(data.read).archive(index.entries())
        if finish is not None:
            finish()
    finally:
        data.close()


def customer_pieces(image: ContainerImage, index: CustomerIndex) -> Iterator[bytes]:
    """:func:`index_pieces` from ``image``'s layers (each opened once); the last piece
    comes after the layers' background digest checks, if any, passed."""
    try:
        yield from index_pieces(index, LayerData(image), image.wait_for_checks)
    except EifError as e:
        raise e.with_path(image.source) from None


def pack_customer_ramdisk(
    image: ContainerImage, sink: ByteSink, *, implicit_dir_mtime: int = 0, path: str = ""
) -> CustomerRamdisk:
    """Stream nitro-cli 1.5.0's customer ramdisk for ``image`` into ``sink`` (a file,
    or hashers when only the PCRs are wanted); ``path`` is what the result names.
    The plain layers' digests are checked on a worker thread meanwhile; it returns
    only when they passed."""
    data = LayerData(image)
    try:
        image.check_layers_in_background()
        index = customer_index(image, implicit_dir_mtime=implicit_dir_mtime)
        writer = NewcWriter(sink, data.read)
        for entry in index.entries():
            writer.add(entry)
        writer.finish()
        image.wait_for_checks()
    except EifError as e:
        raise e.with_path(image.source) from None
    finally:
        data.close()
    return CustomerRamdisk(
        path=path,
        size=writer.offset,
        entries=writer.entries,
        sha384=writer.hash.digest(),
        cmd=index.cmd,
        env=index.env,
        warnings=(*config_warnings(image.config), *index.warnings),
    )


def write_customer_ramdisk(
    image: ContainerImage, out: str | os.PathLike[str], *, implicit_dir_mtime: int = 0
) -> CustomerRamdisk:
    """Write nitro-cli 1.5.0's customer ramdisk for ``image`` to ``out`` atomically,
    streaming file data from the layers.

    ``implicit_dir_mtime``: the mtime of directories a layer changes without a header
    for them (nitro-cli: the time of ``docker load``; eifkit's rule: this value, 0 by
    default, SOURCE_DATE_EPOCH when a caller passes it)."""
    try:
        with atomic_output(out, inputs=[image.source]) as tmp, tmp.open() as sink:
            made = pack_customer_ramdisk(
                image, sink, implicit_dir_mtime=implicit_dir_mtime, path=tmp.target
            )
    except EifError as e:
        raise e.with_path(image.source) from None
    return made
