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

from ..errors import EifError, FormatError, LimitError
from ..image import EifImage
from ..limits import DEFAULT_LIMITS, PATH_MAX, ExpansionLimits
from ..sources import Source, open_source
from .elf import elf_arch
from .initramfs import Entry, Member, is_gzip, iter_members
from .kmod import MODULE_READ_LIMIT, ModuleInfo, module_info

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
    # kernel modules found: (path in the ramdisk, what they were built for)
    modules: list[tuple[str, ModuleInfo]] = field(default_factory=list)

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


# Names whose presence the checks ask about (nitro-cli's bootstrap and app layouts).
_LAYOUT_NAMES = frozenset({"init", "nsm.ko", "rootfs", "cmd", "env"})
# How many symlinks /init may lead through (the kernel's own limit is 40; eifkit's
# check follows fewer, each with one more read of the ramdisk).
MAX_INIT_LINKS = 8
# Kernel modules checked per ramdisk (a full modules tree has thousands; the first are
# enough to tell a ramdisk built for another kernel).
MAX_MODULES = 1_000


def _normalised(name: str) -> str:
    return posixpath.normpath(name.lstrip("/")) if name else ""


def _link_target(link: str, target: str) -> str:
    """Where a symlink named ``link`` with contents ``target`` leads (archive names)."""
    joined = target if target.startswith("/") else posixpath.join(posixpath.dirname(link), target)
    return _normalised(joined)


@dataclass
class _Scan:
    """What one pass over a ramdisk keeps: a count, the layout names present, and the
    last member named ``wanted`` (the kernel keeps the last of duplicates)."""

    entries: int = 0
    present: set[str] = field(default_factory=set)
    found: Member | None = None
    modules: list[tuple[str, ModuleInfo]] = field(default_factory=list)


def _is_module(e: Entry) -> bool:
    return stat.S_ISREG(e.mode) and e.name.endswith(".ko") and e.size <= MODULE_READ_LIMIT


def _scan(
    source: Source,
    wanted: str,
    limits: ExpansionLimits,
    scan: _Scan | None = None,
    *,
    modules: bool = False,
) -> _Scan:
    """One pass; ``scan`` (if given) is filled in as it goes, so a caller that catches
    an error still has the count so far. ``modules``: also read each kernel module's
    machine and vermagic (one module held at a time; the first MAX_MODULES kept)."""
    scan = _Scan() if scan is None else scan

    def keep(e: Entry) -> bool:
        if stat.S_ISLNK(e.mode):
            return e.size <= PATH_MAX and _normalised(e.name) == wanted
        return modules and _is_module(e)

    with open_source(source) as f:
        for m in iter_members(
            f, prefix=64, keep_data=keep, keep_limit=MODULE_READ_LIMIT, limits=limits
        ):
            scan.entries += 1
            name = _normalised(m.entry.name)
            if name in _LAYOUT_NAMES:
                scan.present.add(name)
            if name == wanted:
                scan.found = m
            wanted_module = modules and len(scan.modules) < MAX_MODULES
            if wanted_module and m.data is not None and _is_module(m.entry):
                scan.modules.append((name, module_info(m.data)))
    return scan


def _init_facts(source: Source, init: Member, limits: ExpansionLimits) -> dict[str, Any]:
    """/init as the kernel would run it: follow symlinks (one more pass each)."""
    name, member = "init", init
    seen = {name}
    while stat.S_ISLNK(member.entry.mode) and len(seen) <= MAX_INIT_LINKS:
        if member.data is None:  # a target longer than PATH_MAX: the kernel skips it
            break
        target = _link_target(name, member.data.decode("utf-8", errors="replace"))
        if target in seen:
            break
        seen.add(target)
        found = _scan(source, target, limits).found
        if found is None:
            return {
                "Path": "/init",
                "Target": "/" + target,
                "Kind": "dangling symlink",
                "Executable": False,
                "Arch": None,
            }
        name, member = target, found
    regular = stat.S_ISREG(member.entry.mode)
    return {
        "Path": "/init",
        "Target": "/" + name if name != "init" else None,
        "Kind": member.entry.kind,
        "Executable": bool(member.entry.mode & 0o111) and regular,
        "Arch": elf_arch(member.head) if regular and member.head else None,
    }


def _init_facts_unfollowed(init: Member) -> dict[str, Any]:
    return {
        "Path": "/init",
        "Target": None,
        "Kind": init.entry.kind,
        "Executable": False,
        "Arch": None,
    }


def inspect_ramdisk(
    source: Source,
    index: int,
    arch: str,
    *,
    deep: bool = False,
    limits: ExpansionLimits = DEFAULT_LIMITS,
    kernel_release: str | None = None,
) -> RamdiskInfo:
    """Read a ramdisk's member headers (and the head of /init). A gzip ramdisk larger
    than :data:`GZIP_INSPECT_LIMIT` is only identified unless ``deep``. Kernel modules
    (``*.ko``) are checked against ``arch`` and, when given, the EIF kernel's release.

    Memory does not grow with the ramdisk: only the layout names present and the
    /init member are kept; an /init symlink is followed with one more pass per link.
    Work is bounded by ``limits``: past them the ramdisk is reported as not fully
    inspected."""
    info = RamdiskInfo(index)
    with open_source(source) as f:
        info.format = "cpio.gz" if is_gzip(f) else "cpio"
    if info.format == "cpio.gz" and source.size > GZIP_INSPECT_LIMIT and not deep:
        info.error = (
            f"not inspected: a {source.size}-byte gzip ramdisk is decompressed only with --deep"
        )
        info.skipped = True
        return info
    scan = _Scan()
    try:
        _scan(source, "init", limits, scan, modules=True)
    except LimitError as e:
        info.error = f"not fully inspected: {e.message}"
        info.skipped = True
        info.findings.append(
            Finding("warning", f"ramdisk {index} was not fully inspected: {e.message}")
        )
        return info
    except FormatError as e:
        info.error = f"offset {e.offset}: {e.message}" if e.offset is not None else e.message
        if scan.entries == 0:
            info.format = "not cpio"
    if scan.found is not None:
        try:
            info.init = _init_facts(source, scan.found, limits)
        except EifError:  # the ramdisk is damaged or too large past /init: said above
            info.init = _init_facts_unfollowed(scan.found)
    info.entries = scan.entries
    info.has_nsm_ko = "nsm.ko" in scan.present
    info.has_rootfs = "rootfs" in scan.present
    info.nitro_cli_layout = {"rootfs", "cmd", "env"} <= scan.present
    info.modules = scan.modules
    _findings(info, arch)
    _module_findings(info, arch, kernel_release)
    return info


def _module_findings(info: RamdiskInfo, arch: str, kernel_release: str | None) -> None:
    info.findings += module_findings(info.index, info.modules, arch, kernel_release)


def module_findings(
    index: int,
    modules: list[tuple[str, ModuleInfo]],
    arch: str,
    kernel_release: str | None,
) -> list[Finding]:
    """A module for another CPU or another kernel cannot be loaded: an error for each
    (``modules``: each module's path in ramdisk ``index`` and what it says of itself)."""
    found = []
    for path, module in modules:
        if module.arch is not None and module.arch != arch:
            found.append(
                Finding(
                    "error", f"ramdisk {index}'s /{path} is for {module.arch}, the EIF is {arch}"
                )
            )
        built_for = module.kernel_release
        if kernel_release and built_for and built_for != kernel_release:
            found.append(
                Finding(
                    "error",
                    f"ramdisk {index}'s /{path} was built for kernel {built_for} (vermagic), "
                    f"the EIF's kernel is {kernel_release}: the kernel refuses to load it",
                )
            )
    return found


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


def lint_image(
    image: EifImage,
    *,
    deep: bool = False,
    limits: ExpansionLimits = DEFAULT_LIMITS,
    kernel_release: str | None = None,
) -> list[RamdiskInfo]:
    arch = image.arch.value
    return [
        inspect_ramdisk(s.source, i, arch, deep=deep, limits=limits, kernel_release=kernel_release)
        for i, s in enumerate(image.ramdisks)
    ]
