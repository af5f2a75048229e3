"""Take an EIF apart: every section into its own file, plus the `eifkit build`
arguments that put it back together byte for byte (when that is possible).

``--unpack`` also unpacks each cpio ramdisk into a folder (see :mod:`eifkit.unpack`:
nothing it does follows a link out of the folder, and its work is bounded).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import Any

from . import jsonfmt
from .atomic import atomic_output, write_file_atomically
from .errors import EifError, InputError
from .format import (
    ARCH_AARCH64_FLAG,
    CURRENT_VERSION,
    DEFAULT_CPUS,
    DEFAULT_MEMORY,
    SectionType,
)
from .image import EifImage
from .inspect.initramfs import is_gzip
from .layout import CANONICAL_ORDER, in_canonical_order
from .limits import DEFAULT_LIMITS, ExpansionLimits
from .metadata import MAX_CUSTOM_METADATA_FILE_SIZE
from .report import read_cmdline_bytes, read_metadata, read_metadata_bytes
from .sources import Source, open_source

BUFFER = 1 << 20
MIB = 1 << 20


@dataclass
class ExtractResult:
    folder: str
    files: list[str] = field(default_factory=list)
    build_args: dict[str, Any] = field(default_factory=dict)
    unpacked: dict[str, dict[str, Any]] = field(default_factory=dict)


def _copy(source: Source, path: str) -> None:
    with atomic_output(path) as af, af.open() as out:
        for chunk in source.chunks(BUFFER):
            out.write(chunk)


def _ramdisk_name(source: Source, index: int) -> str:
    with open_source(source) as f:
        gz = is_gzip(f)
        head = f.read(6)
    if gz:
        return f"ramdisk-{index}.cpio.gz"
    return f"ramdisk-{index}.cpio" if head in (b"070701", b"070702") else f"ramdisk-{index}.bin"


def extract(
    image: EifImage, folder: str, *, unpack: bool = False, limits: ExpansionLimits = DEFAULT_LIMITS
) -> ExtractResult:
    """Write every section of ``image`` into ``folder`` (new or empty), with
    build-args.json; ``unpack`` also unpacks each cpio ramdisk within ``limits``."""
    os.makedirs(folder, exist_ok=True)
    if os.listdir(folder):
        raise InputError("output folder is not empty; choose a new or empty one", path=folder)
    result = ExtractResult(folder)
    names: dict[int, str] = {}
    ramdisk_no = 0
    for i, s in enumerate(image.sections):
        t = s.type
        if t == SectionType.KERNEL and "kernel" not in names.values():
            name = "kernel"
        elif t == SectionType.CMDLINE and "cmdline.txt" not in names.values():
            name = "cmdline.txt"
        elif t == SectionType.METADATA and "metadata.json" not in names.values():
            name = "metadata.json"
        elif t == SectionType.SIGNATURE and "signature.cbor" not in names.values():
            name = "signature.cbor"
        elif t == SectionType.RAMDISK:
            name = _ramdisk_name(s.source, ramdisk_no)
            ramdisk_no += 1
        else:
            name = f"section-{i}-type-{t}.bin"
        names[i] = name
        _copy(s.source, os.path.join(folder, name))
        result.files.append(name)
    result.build_args = build_args(image, names)
    custom = result.build_args.pop("custom_metadata")
    if custom is not None:
        write_file_atomically(
            os.path.join(folder, "custom-metadata.json"), jsonfmt.dumps(custom).encode()
        )
        result.files.append("custom-metadata.json")
    write_file_atomically(
        os.path.join(folder, "build-args.json"),
        (jsonfmt.dumps(result.build_args, indent=2) + "\n").encode(),
    )
    result.files.append("build-args.json")
    if unpack:
        from .unpack import unpack_cpio

        for i, s in enumerate(image.sections):
            if s.type == SectionType.RAMDISK and not names[i].endswith(".bin"):
                target = os.path.join(folder, names[i].split(".")[0])
                result.unpacked[names[i]] = unpack_cpio(s.source, target, limits=limits)
    return result


def build_args(image: EifImage, names: dict[int, str]) -> dict[str, Any]:
    """Arguments for `eifkit build` (run in the extract folder) that rebuild the image."""
    notes: list[str] = []
    secs = list(image.sections)
    types = [s.type for s in secs]
    if any(t not in CANONICAL_ORDER for t in types):
        notes.append("it has sections of types eifkit build does not write")
    if SectionType.SIGNATURE in types:
        notes.append(
            "it is signed: add --signing-certificate and --private-key (AWS's "
            "signatures are random, so a signed file never rebuilds byte for byte)"
        )
    if not in_canonical_order(types):
        notes.append("its sections are not in AWS's order")
    for t, what in (
        (SectionType.KERNEL, "kernel"),
        (SectionType.CMDLINE, "cmdline"),
        (SectionType.METADATA, "metadata"),
    ):
        if types.count(t) != 1:
            notes.append(f"it has {types.count(t)} {what} sections, eifkit build writes one")
    if not image.ramdisks:
        notes.append("it has no ramdisk")
    if image.fillers:
        notes.append("it has gaps or trailing bytes")
    if image.header.reserved or image.header.unused or image.stray_table_entries:
        notes.append("reserved header fields are not zero")
    if (
        image.version != CURRENT_VERSION
        or image.flags & ~ARCH_AARCH64_FLAG
        or any(s.flags for s in secs)
    ):
        notes.append("its version, header flags or section flags are not what eifkit writes")
    if image.default_mem % MIB:
        notes.append("default_mem is not a whole number of MiB")
    args: list[str] = []
    kernel_i = types.index(SectionType.KERNEL) if SectionType.KERNEL in types else None
    if kernel_i is not None:
        args += ["--kernel", names[kernel_i]]
    for i, s in enumerate(secs):
        if s.type == SectionType.RAMDISK:
            args += ["--initrd", names[i]]
    args += _cmdline_args(image, notes)
    custom = None
    try:
        stored = read_metadata_bytes(image)
        meta = read_metadata(image)
    except EifError as e:
        notes.append(f"its metadata cannot be parsed: {e.message}")
    else:
        if meta is not None:
            bi = meta.build_info
            args += [
                "--name",
                meta.image_name,
                "--version",
                meta.image_version,
                "--build-time",
                bi.build_time,
                "--build-tool",
                bi.build_tool,
                "--build-tool-version",
                bi.build_tool_version,
                "--img-os",
                bi.img_os,
                "--img-kernel",
                bi.img_kernel,
            ]
            if meta.docker_info is not None:
                notes.append(
                    "its metadata has DockerInfo (nitro-cli's), which eifkit build does not write"
                )
            if meta.custom is not None:
                custom = meta.custom
                args += ["--metadata", "custom-metadata.json"]
                if len(jsonfmt.dumps(custom).encode()) > MAX_CUSTOM_METADATA_FILE_SIZE:
                    notes.append(
                        f"its custom metadata is over the {MAX_CUSTOM_METADATA_FILE_SIZE}-byte "
                        "file limit"
                    )
            if meta.to_bytes() != stored:
                notes.append("its metadata is not written as eif_build writes it")
    args += ["--arch", image.arch.value]
    if image.default_mem != DEFAULT_MEMORY or image.default_cpus != DEFAULT_CPUS:
        args += [
            "--default-memory",
            str(image.default_mem // MIB),
            "--default-cpus",
            str(image.default_cpus),
        ]
    if kernel_i is not None:
        from .inspect.kernel import inspect_source

        info = inspect_source(secs[kernel_i].source)
        if (not info.bootable and info.format != "unknown") or (
            info.arch in ("x86_64", "aarch64") and info.arch != image.arch.value
        ):
            args.append("--force")
    args += ["--no-lint", "-o", "rebuilt.eif"]
    out = jsonfmt.OrderedObject(
        reproducible=not notes,
        notes=notes,
        args=args,
        command="eifkit build " + shlex.join(args),
    )
    out["custom_metadata"] = custom
    return out


def _cmdline_args(image: EifImage, notes: list[str]) -> list[str]:
    """``--cmdline TEXT`` if the cmdline can be given on a command line; else a note."""
    try:
        raw = read_cmdline_bytes(image)
    except EifError as e:
        notes.append(f"its cmdline cannot be given as an argument: {e.message}")
        return []
    if raw is None:
        return []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\0" in text:
        notes.append("the cmdline is not NUL-free UTF-8")
        return []
    return ["--cmdline", text]


# ------------------------------------------------------------------ unpacking
