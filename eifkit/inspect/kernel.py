"""What kind of kernel is this? x86 bzImage, arm64 Image, EFI stub, compressed, ELF.

Only the first bytes of the kernel are read (:data:`PREFIX`), never the whole file:
x86 boot-protocol and arm64 Image headers are parsed by hand (fixed little-endian
layouts), PE (EFI stub) and ELF headers (inspect/elf.py) on that prefix.

What Nitro can boot: an x86_64 bzImage, or an *uncompressed* arm64 Image. An ELF
``vmlinux`` or a compressed arm64 ``vmlinuz`` is refused by ``eifkit build``.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from ..sources import Source
from .elf import ARCH_OF_ELF_MACHINE, ARCH_OF_PE_MACHINE, ELF_MAGIC, elf_machine, pe_machine

PREFIX = 1 << 20
ARM64_MAGIC = b"ARM\x64"
BZ_MAGIC = b"HdrS"


@dataclass(frozen=True)
class KernelInfo:
    format: str  # bzImage | arm64-image | arm64-gzip | arm64-zboot | elf | unknown
    arch: str | None  # x86_64 | aarch64 | None
    bootable: bool  # can Nitro boot it as is
    problem: str | None = None  # why not, when it cannot
    version: str | None = None
    efi_stub: bool = False
    pe_machine: str | None = None
    elf_machine: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def release(self) -> str | None:
        """The kernel release (``uname -r``): the version string's first word."""
        words = self.version.split() if self.version else []
        return words[0] if words else None

    def as_json(self) -> dict[str, Any]:
        from ..jsonfmt import OrderedObject

        return OrderedObject(
            Format=self.format,
            Arch=self.arch,
            Bootable=self.bootable,
            Problem=self.problem,
            Version=self.version,
            EfiStub=self.efi_stub,
            PeMachine=self.pe_machine,
            ElfMachine=self.elf_machine,
            Details=OrderedObject(self.details),
        )


def _u8(data: bytes, offset: int) -> int:
    return data[offset]


def _u16(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<H", data, offset)[0]
    return value


def _u32(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<I", data, offset)[0]
    return value


# The setup-header fields read below end at 0x264 (init_size); a bzImage is far larger.
BZ_HEADER_END = 0x264


def _bzimage(prefix: bytes) -> KernelInfo:
    if len(prefix) < BZ_HEADER_END:
        return KernelInfo(
            "bzImage",
            "x86_64",
            False,
            f"a truncated bzImage: {len(prefix)} bytes, shorter than its "
            f"{BZ_HEADER_END}-byte setup header",
        )
    protocol = _u16(prefix, 0x206)
    setup_sects = _u8(prefix, 0x1F1) or 4
    loadflags = _u8(prefix, 0x211)
    details: dict[str, Any] = {
        "BootProtocol": f"{protocol >> 8}.{protocol & 0xFF:02d}",
        "SetupSectors": setup_sects,
        "LoadFlags": loadflags,
        "LoadedHigh": bool(loadflags & 0x01),
        "SyssizeBytes": _u32(prefix, 0x1F4) * 16,
    }
    if protocol >= 0x205:
        details["Relocatable"] = bool(_u8(prefix, 0x234))
    if protocol >= 0x20C:
        xlf = _u16(prefix, 0x236)
        details["XLoadFlags"] = xlf
        details["Kernel64"] = bool(xlf & 0x1)
    if protocol >= 0x20A:
        details["PrefAddress"] = struct.unpack_from("<Q", prefix, 0x258)[0]
        details["InitSize"] = _u32(prefix, 0x260)
    version = None
    ptr = _u16(prefix, 0x20E)
    if ptr:
        start = ptr + 0x200
        end = prefix.find(b"\0", start, start + 512)
        if end > start:
            version = prefix[start:end].decode("utf-8", errors="replace")
    machine = pe_machine(prefix)
    arch = "x86_64"
    if protocol >= 0x20C and not details.get("Kernel64"):
        arch = "i386"
    problem = None if arch == "x86_64" else "a 32-bit bzImage; Nitro needs x86_64"
    return KernelInfo(
        "bzImage",
        arch,
        problem is None,
        problem,
        version,
        machine is not None,
        machine,
        None,
        details,
    )


def _arm64(prefix: bytes, fmt: str = "arm64-image") -> KernelInfo:
    text_offset, image_size, flags = struct.unpack_from("<QQQ", prefix, 8)
    details = {
        "TextOffset": text_offset,
        "ImageSize": image_size,
        "Flags": flags,
        "BigEndian": bool(flags & 1),
        "PageSize": {0: "unspecified", 1: "4K", 2: "16K", 3: "64K"}[(flags >> 1) & 3],
    }
    version = _linux_version(prefix)
    machine = pe_machine(prefix)
    return KernelInfo(
        fmt,
        "aarch64",
        fmt == "arm64-image",
        None
        if fmt == "arm64-image"
        else "a compressed arm64 kernel; Nitro needs the uncompressed Image",
        version,
        machine is not None,
        machine,
        None,
        details,
    )


def _linux_version(data: bytes) -> str | None:
    at = data.find(b"Linux version ")
    if at < 0:
        return None
    end = data.find(b"\n", at, at + 400)
    end = data.find(b"\0", at, at + 400) if end < 0 else end
    return data[at + 14 : end if end > at else at + 200].decode("utf-8", errors="replace").strip()


def inspect_bytes(prefix: bytes, gunzip: Any = None) -> KernelInfo:
    """Classify a kernel from its first bytes (up to :data:`PREFIX`)."""
    if len(prefix) >= 0x210 and prefix[0x202:0x206] == BZ_MAGIC:
        return _bzimage(prefix)
    if len(prefix) >= 0x40 and prefix[0x38:0x3C] == ARM64_MAGIC:
        return _arm64(prefix)
    if prefix.startswith(ELF_MAGIC):
        machine = elf_machine(prefix)
        arch = ARCH_OF_ELF_MACHINE.get(machine or "", machine)
        return KernelInfo(
            "elf",
            arch,
            False,
            "an ELF vmlinux; Nitro boots a bzImage (x86_64) or Image (arm64)",
            _linux_version(prefix),
            False,
            None,
            machine,
            {},
        )
    if prefix[:2] == b"MZ" and prefix[4:8] == b"zimg":
        comp = prefix[0x18:0x20].rstrip(b"\0").decode("ascii", errors="replace")
        machine = pe_machine(prefix)
        return KernelInfo(
            "arm64-zboot",
            ARCH_OF_PE_MACHINE.get(machine or "", machine),
            False,
            f"an EFI zboot image ({comp}-compressed); Nitro needs the uncompressed Image",
            None,
            True,
            machine,
            None,
            {"Compression": comp},
        )
    if prefix[:2] == b"\x1f\x8b":
        inner = _gunzip_prefix(prefix)
        if len(inner) >= 0x40 and inner[0x38:0x3C] == ARM64_MAGIC:
            return _arm64(inner, "arm64-gzip")
        return KernelInfo("gzip", None, False, "a gzip file that is not an arm64 Image", None)
    return KernelInfo(
        "unknown",
        None,
        False,
        "not a kernel eifkit recognises (bzImage, arm64 Image, ELF, zboot, gzip)",
    )


def _gunzip_prefix(data: bytes, limit: int = 64 << 10) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return d.decompress(data, limit)
    except zlib.error:
        return b""


def scan_version(source: Source) -> str | None:
    """The ``Linux version ...`` banner, found anywhere in a kernel by a streaming scan.

    Some kernels carry two banners (Debian's arm64 one has a "# SMP" copy first); the
    one with a build number ("#1") is preferred.
    """
    needle = b"Linux version "
    found: list[str] = []
    tail = b""
    for chunk in source.chunks(PREFIX):
        window = tail + bytes(chunk)
        start = 0
        while (at := window.find(needle, start)) >= 0 and len(window) - at >= 400:
            banner = _linux_version(window[at : at + 400])
            if banner:
                found.append(banner)
            start = at + len(needle)
        if any(re.search(r"#\d", b) for b in found):
            break
        keep = window.rfind(needle, start)
        tail = window[keep:] if keep >= 0 else window[-len(needle) :]
    if tail.startswith(needle):
        found.append(_linux_version(tail) or "")
    best = [b for b in found if re.search(r"#\d", b)]
    return (best or found or [""])[0] or None


def inspect_source(source: Source) -> KernelInfo:
    """Classify a kernel (a file or a section); reads the header, then scans for the
    version banner if the header does not point to one (arm64 Image, ELF)."""
    data = bytearray()
    for chunk in source.chunks(PREFIX):
        data += chunk[: PREFIX - len(data)]
        if len(data) >= PREFIX:
            break
    info = inspect_bytes(bytes(data))
    if info.version is None and info.format in ("arm64-image", "elf"):
        from dataclasses import replace

        info = replace(info, version=scan_version(source))
    return info


def inspect_kernel(path: str | os.PathLike[str]) -> KernelInfo:
    from ..sources import FileSource

    return inspect_source(FileSource.open(path, "kernel"))
