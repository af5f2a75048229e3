"""Take an EIF apart: every section into its own file, plus the `eifkit build`
arguments that put it back together byte for byte (when that is possible).

``--unpack`` also unpacks each cpio ramdisk into a folder, refusing any member that
would land outside it: absolute paths, ``..`` components, and paths through a symlink
made by an earlier member. Device nodes are not created (they are listed instead).
"""

from __future__ import annotations

import os
import shlex
import stat
from dataclasses import dataclass, field
from typing import Any

from . import jsonfmt
from .atomic import atomic_output, write_file_atomically
from .errors import EifError, FormatError, InputError
from .format import (
    ARCH_AARCH64_FLAG,
    CURRENT_VERSION,
    DEFAULT_CPUS,
    DEFAULT_MEMORY,
    SectionType,
)
from .image import EifImage
from .inspect.initramfs import is_gzip, iter_members
from .layout import CANONICAL_ORDER, in_canonical_order
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


def extract(image: EifImage, folder: str, *, unpack: bool = False) -> ExtractResult:
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
        for i, s in enumerate(image.sections):
            if s.type == SectionType.RAMDISK and not names[i].endswith(".bin"):
                target = os.path.join(folder, names[i].split(".")[0])
                result.unpacked[names[i]] = unpack_cpio(s.source, target)
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


def _safe_path(root: str, name: str) -> str:
    """Where a member goes, or FormatError if it would land outside ``root``."""
    if name.startswith("/"):
        raise FormatError(f"member {name!r} has an absolute path", field="cpio")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise FormatError(f"member {name!r} goes up with '..'", field="cpio")
    if not parts:
        raise FormatError(f"member {name!r} has no name", field="cpio")
    path = root
    for p in parts[:-1]:
        path = os.path.join(path, p)
        if os.path.islink(path):
            raise FormatError(
                f"member {name!r} would be written through the symlink "
                f"{os.path.relpath(path, root)!r}",
                field="cpio",
            )
    final = os.path.join(path, parts[-1])
    real_root = os.path.realpath(root)
    if os.path.commonpath([os.path.realpath(os.path.dirname(final)), real_root]) != real_root:
        raise FormatError(f"member {name!r} would land outside the folder", field="cpio")
    return final


def unpack_cpio(source: Source, folder: str) -> dict[str, Any]:
    """Unpack a cpio (plain or gzip) into ``folder`` (created) in one streaming pass."""
    os.makedirs(folder, exist_ok=False)
    skipped: list[str] = []
    dir_modes: list[tuple[str, int, int]] = []
    open_file: list[Any] = []

    def sink(entry: Any) -> Any:
        if not stat.S_ISREG(entry.mode):
            return None
        path = _safe_path(folder, entry.name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path) and not os.path.isdir(path):
            os.unlink(path)
        f = open(path, "wb")  # noqa: SIM115 - closed when the member ends
        open_file.append(f)
        return f.write

    def close_current() -> None:
        while open_file:
            open_file.pop().close()

    count = 0
    try:
        with open_source(source) as f:
            for m in iter_members(f, keep_data=lambda e: stat.S_ISLNK(e.mode), sink=sink):
                close_current()
                e = m.entry
                path = _safe_path(folder, e.name)
                count += 1
                if stat.S_ISDIR(e.mode):
                    if os.path.lexists(path) and not os.path.isdir(path):
                        os.unlink(path)
                    os.makedirs(path, exist_ok=True)
                    dir_modes.append((path, e.mode & 0o7777, e.mtime))
                elif stat.S_ISREG(e.mode):
                    if e.size == 0 and not os.path.exists(path):
                        open(path, "wb").close()
                    os.chmod(path, e.mode & 0o1777)  # no setuid/setgid from an archive
                    os.utime(path, (e.mtime, e.mtime))
                elif stat.S_ISLNK(e.mode):
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    if os.path.lexists(path):
                        os.unlink(path)
                    os.symlink((m.data or b"").decode("utf-8", errors="surrogateescape"), path)
                else:
                    skipped.append(f"{e.name} ({e.kind} {e.rdevmajor}:{e.rdevminor})")
    finally:
        close_current()
    for path, mode, mtime in reversed(dir_modes):
        os.chmod(path, mode & 0o1777 | 0o700)
        os.utime(path, (mtime, mtime))
    return {"folder": folder, "entries": count, "not_created": skipped}
