"""What a Linux kernel module (``.ko``) was built for: its CPU and its ``vermagic``.

The kernel refuses a module whose version magic differs from its own (a real boot with
AWS's 4.14 ``nsm.ko`` on a 6.1 kernel panics with "disagrees about version of symbol
module_layout"), so a ramdisk that carries one for another kernel cannot start an
enclave that needs it. The module's ELF header gives the machine; its ``.modinfo``
section, NUL-separated ``key=value`` strings, gives ``vermagic``, whose first word is
the kernel release it was built for. Both are read here from the module's bytes, every
offset and size checked against them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .elf import ELF_MAGIC, elf_arch

# A module larger than this is not read for its .modinfo (real ones are KiB to a few MiB).
MODULE_READ_LIMIT = 16 << 20
MODINFO = b".modinfo"


@dataclass(frozen=True)
class ModuleInfo:
    arch: str | None  # x86_64, aarch64 ... (None: not ELF)
    vermagic: str | None  # e.g. "6.1.0-18-amd64 SMP preempt mod_unload modversions"
    name: str | None = None

    @property
    def kernel_release(self) -> str | None:
        """The kernel release the module was built for: vermagic's first word."""
        return self.vermagic.split()[0] if self.vermagic and self.vermagic.split() else None


# (class, offset of e_shoff, its struct code, offset of e_shentsize) and section header
# fields (sh_name, sh_offset, sh_size): offsets and codes for ELF32 and ELF64.
_HEADER = {1: (0x20, "I", 0x2E), 2: (0x28, "Q", 0x3A)}
_SECTION = {1: ((0, "I"), (0x10, "I"), (0x14, "I")), 2: ((0, "I"), (0x18, "Q"), (0x20, "Q"))}


def _modinfo(data: bytes) -> bytes | None:
    """The bytes of the ``.modinfo`` section, or None if there is none (or the section
    table does not fit in ``data``)."""
    if len(data) < 0x40 or not data.startswith(ELF_MAGIC) or data[4] not in _HEADER:
        return None
    if data[5] not in (1, 2):
        return None
    order = "<" if data[5] == 1 else ">"
    shoff_at, shoff_code, shentsize_at = _HEADER[data[4]]

    def field(offset: int, code: str) -> int:
        value: int = struct.unpack_from(order + code, data, offset)[0]
        return value

    shoff = field(shoff_at, shoff_code)
    shentsize, shnum, shstrndx = (field(shentsize_at + 2 * i, "H") for i in range(3))
    (name_at, name_code), (off_at, off_code), (size_at, size_code) = _SECTION[data[4]]
    if shnum == 0 or shstrndx >= shnum or shentsize < size_at + struct.calcsize(size_code):
        return None
    if shoff + shnum * shentsize > len(data):
        return None

    def section(i: int) -> tuple[int, int, int]:
        base = shoff + i * shentsize
        return (
            field(base + name_at, name_code),
            field(base + off_at, off_code),
            field(base + size_at, size_code),
        )

    _, names_at, names_size = section(shstrndx)
    if names_at + names_size > len(data):
        return None
    names = data[names_at : names_at + names_size]
    for i in range(shnum):
        name, offset, size = section(i)
        if names[name : name + len(MODINFO) + 1] == MODINFO + b"\0":
            return data[offset : offset + size] if offset + size <= len(data) else None
    return None


def module_info(data: bytes) -> ModuleInfo:
    """Machine and version magic of a kernel module's bytes (None for what is missing)."""
    fields: dict[str, str] = {}
    for item in (_modinfo(data) or b"").split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key.decode("ascii", "replace") not in fields:
            fields[key.decode("ascii", "replace")] = value.decode("utf-8", "replace")
    arch = elf_arch(data[:64])
    return ModuleInfo(arch, fields.get("vermagic", "").strip() or None, fields.get("name"))
