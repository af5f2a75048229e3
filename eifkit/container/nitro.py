"""nitro-cli 1.5.0's customer ramdisk from a container image, byte for byte.

nitro-cli ``build-enclave`` asks Docker for the image's ``Cmd``/``Entrypoint`` and
``Env``, writes them to two files, and has linuxkit pack ``docker export`` of a
container made from the image under ``rootfs/`` with those two files. This module
does the same from the image's layers: ``rootfs`` applies them as Docker Engine 20.10
does, ``linuxkit`` writes the cpio.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..atomic import atomic_output
from ..errors import EifError, FormatError, InputError
from ..inspect.initramfs import ByteSink
from .image import ContainerImage
from .linuxkit import CpioEntry, LayerBytes, NewcWriter, export_entries, files_entries
from .rootfs import DIR, container_filesystem

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
    (PCR2 = sha384(48 zero bytes || sha384)); ``warnings`` say where nitro-cli's own
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
        return hashlib.sha384(bytes(48) + self.sha384).digest()


class _LayerData:
    """The layers' tar streams, opened once each when first read."""

    def __init__(self, image: ContainerImage, stack: contextlib.ExitStack) -> None:
        self.image = image
        self.stack = stack
        self.streams: dict[int, BinaryIO] = {}

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


def customer_entries(
    image: ContainerImage, *, implicit_dir_mtime: int = 0
) -> tuple[Iterator[CpioEntry], list[str]]:
    """The entries of nitro-cli's customer ramdisk in order (file data not yet read:
    :class:`LayerBytes`), and the warnings found while applying the layers."""
    cmd, env = nitro_cli_cmd_env(image.config)
    fs = container_filesystem(image, implicit_dir_mtime=implicit_dir_mtime)
    files: list[tuple[str, int, bytes | None]] = [(d, 0o755, None) for d in CUSTOMER_DIRS]
    files += [("cmd", 0o644, lines(cmd)), ("env", 0o644, lines(env))]

    def entries() -> Iterator[CpioEntry]:
        yield CpioEntry("rootfs", DIR, 0o755)  # linuxkit's ``prefix: rootfs/``
        yield from export_entries(fs.export())
        yield from files_entries(files)

    return entries(), fs.warnings


def pack_customer_ramdisk(
    image: ContainerImage, sink: ByteSink, *, implicit_dir_mtime: int = 0, path: str = ""
) -> CustomerRamdisk:
    """Stream nitro-cli 1.5.0's customer ramdisk for ``image`` into ``sink`` (a file,
    or hashers when only the PCRs are wanted); ``path`` is what the result names."""
    try:
        cmd, env = nitro_cli_cmd_env(image.config)
        entries, layer_warnings = customer_entries(image, implicit_dir_mtime=implicit_dir_mtime)
        with contextlib.ExitStack() as stack:
            writer = NewcWriter(sink, _LayerData(image, stack).read)
            for entry in entries:
                writer.add(entry)
            writer.finish()
    except EifError as e:
        raise e.with_path(image.source) from None
    return CustomerRamdisk(
        path=path,
        size=writer.offset,
        entries=writer.entries,
        sha384=writer.hash.digest(),
        cmd=tuple(cmd),
        env=tuple(env),
        warnings=(*config_warnings(image.config), *layer_warnings),
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
