"""Look inside ramdisks: is there an executable /init for the right CPU, is it laid out
as nitro-cli lays it out? Streams each ramdisk once; keeps only small heads of files.

Findings have a level: "error" (the enclave cannot start: no /init, /init not
executable or for another CPU, a ramdisk that is not cpio or is truncated) or
"warning" (it may not work on Nitro: no nsm.ko, an app ramdisk missing cmd or env).
"""

from __future__ import annotations

import posixpath
import stat
from dataclasses import dataclass, field
from typing import Any

from ..errors import FormatError
from ..image import EifImage
from ..sources import Source, open_source
from .elf import elf_arch
from .initramfs import Member, is_gzip, iter_members

# A gzip ramdisk must be decompressed whole to be listed; by default only those up to
# this size are (an uncompressed one is listed by seeking from header to header).
GZIP_INSPECT_LIMIT = 256 << 20


@dataclass(frozen=True)
class Finding:
    level: str  # error | warning
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


@dataclass
class RamdiskInfo:
    index: int
    format: str = "unknown"  # cpio | cpio.gz | not cpio
    entries: int | None = None
    init: dict[str, Any] | None = None
    nitro_cli_layout: bool = False
    has_rootfs: bool = False
    has_nsm_ko: bool = False
    error: str | None = None
    skipped: bool = False
    findings: list[Finding] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        from ..jsonfmt import OrderedObject

        return OrderedObject(
            Index=self.index,
            Format=self.format,
            Entries=self.entries,
            Init=self.init,
            NitroCliAppLayout=self.nitro_cli_layout,
            HasNsmKo=self.has_nsm_ko,
            Error=self.error,
            Inspected=not self.skipped,
        )


def _resolve(name: str, links: dict[str, str]) -> str:
    seen = set()
    while name in links and name not in seen:
        seen.add(name)
        target = links[name]
        name = posixpath.normpath(
            target.lstrip("/")
            if target.startswith("/")
            else posixpath.join(posixpath.dirname(name), target)
        )
    return name


def inspect_ramdisk(source: Source, index: int, arch: str, *, deep: bool = False) -> RamdiskInfo:
    """Read a ramdisk's member headers (and a few heads of files). A gzip ramdisk larger
    than :data:`GZIP_INSPECT_LIMIT` is only identified unless ``deep``."""
    info = RamdiskInfo(index)
    members: dict[str, Member] = {}
    links: dict[str, str] = {}
    count = 0
    with open_source(source) as f:
        info.format = "cpio.gz" if is_gzip(f) else "cpio"
        if info.format == "cpio.gz" and source.size > GZIP_INSPECT_LIMIT and not deep:
            info.error = (
                f"not inspected: a {source.size}-byte gzip ramdisk is decompressed only with --deep"
            )
            info.skipped = True
            return info
        try:
            symlink = lambda e: stat.S_ISLNK(e.mode)  # noqa: E731 - targets are small
            for m in iter_members(f, prefix=64, keep_data=symlink):
                count += 1
                name = posixpath.normpath(m.entry.name.lstrip("/")) if m.entry.name else ""
                if m.data is not None:
                    links[name] = m.data.decode("utf-8", errors="replace")
                if (
                    name in ("init", "nsm.ko", "rootfs", "cmd", "env")
                    or name.startswith(("bin/", "sbin/", "usr/", "lib/"))
                    or stat.S_ISLNK(m.entry.mode)
                    or (m.entry.mode & 0o111)
                ):
                    members[name] = m
        except FormatError as e:
            info.error = f"offset {e.offset}: {e.message}" if e.offset is not None else e.message
            if count == 0:
                info.format = "not cpio"
    info.entries = count
    info.has_nsm_ko = "nsm.ko" in members
    info.has_rootfs = "rootfs" in members
    info.nitro_cli_layout = all(n in members for n in ("rootfs", "cmd", "env"))
    if "init" in members:
        real = _resolve("init", links)
        target = members.get(real)
        mode = target.entry.mode if target else members["init"].entry.mode
        init: dict[str, Any] = {
            "Path": "/init",
            "Target": "/" + real if real != "init" else None,
            "Kind": target.entry.kind if target else "dangling symlink",
            "Executable": bool(mode & 0o111)
            and target is not None
            and stat.S_ISREG(target.entry.mode),
            "Arch": elf_arch(target.head or b"") if target and target.head else None,
        }
        info.init = init
    _findings(info, arch)
    return info


def _findings(info: RamdiskInfo, arch: str) -> None:
    add = info.findings.append
    n = info.index
    if info.skipped:
        return
    if info.format == "not cpio":
        add(Finding("error", f"ramdisk {n} is not a cpio archive ({info.error})"))
        return
    if info.error:
        add(Finding("error", f"ramdisk {n} ({info.format}) is damaged: {info.error}"))
    if n == 0:
        init = info.init
        if init is None:
            add(Finding("error", "ramdisk 0 has no /init: the kernel has nothing to run"))
        else:
            if not init["Executable"]:
                add(
                    Finding(
                        "error", f"ramdisk 0's /init is not an executable file ({init['Kind']})"
                    )
                )
            elif init["Arch"] is None:
                add(Finding("warning", "ramdisk 0's /init is not an ELF binary (a script?)"))
            elif init["Arch"] != arch:
                add(Finding("error", f"ramdisk 0's /init is for {init['Arch']}, the EIF is {arch}"))
        if not info.has_nsm_ko:
            add(
                Finding(
                    "warning",
                    "ramdisk 0 has no nsm.ko (the Nitro Secure Module driver "
                    "nitro-cli's bootstrap ramdisk carries)",
                )
            )
    elif info.has_rootfs and not info.nitro_cli_layout:
        add(
            Finding(
                "warning",
                f"ramdisk {n} has rootfs/ but not both cmd and env (nitro-cli's app layout)",
            )
        )


def lint_image(image: EifImage, *, deep: bool = False) -> list[RamdiskInfo]:
    arch = image.arch.value
    return [inspect_ramdisk(s.source, i, arch, deep=deep) for i, s in enumerate(image.ramdisks)]
