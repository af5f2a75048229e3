"""Which CPU an ELF or PE file is for: the one home of the machine -> arch mapping.

Both the kernel check (ELF vmlinux, EFI zboot) and the ramdisk check (``/init`` and other
executables) ask this module, so they cannot name the same machine differently. Only
two header fields are needed (ELF ``e_machine``, PE ``Machine``), read here directly:
a full binary parser costs an import of about 27 MiB and a third of a second, which
describe and build paid for every ramdisk check.
"""

from __future__ import annotations

import struct

ELF_MAGIC = b"\x7fELF"
PE_MAGIC = b"MZ"

# ELF e_machine values (System V ABI) and PE Machine values (PE/COFF) -> names; the
# names are the ones the ELF/PE specifications' constants use, without their prefixes.
ELF_MACHINES = {
    2: "SPARC",
    3: "I386",
    8: "MIPS",
    20: "PPC",
    21: "PPC64",
    22: "S390",
    40: "ARM",
    43: "SPARCV9",
    50: "IA_64",
    62: "X86_64",
    183: "AARCH64",
    243: "RISCV",
    258: "LOONGARCH",
}
PE_MACHINES = {
    0x014C: "I386",
    0x01C0: "ARM",
    0x01C4: "ARMNT",
    0x0200: "IA64",
    0x5064: "RISCV64",
    0x6264: "LOONGARCH64",
    0x8664: "AMD64",
    0xAA64: "ARM64",
}
# machine names -> the arch names eifkit uses (Arch values and a few more).
ARCH_OF_ELF_MACHINE = {"X86_64": "x86_64", "AARCH64": "aarch64", "I386": "i386", "ARM": "arm"}
ARCH_OF_PE_MACHINE = {"AMD64": "x86_64", "ARM64": "aarch64", "I386": "i386"}

_E_MACHINE_OFFSET = 18  # after e_ident[16] and e_type
_PE_OFFSET_FIELD = 0x3C  # e_lfanew in the DOS header


def elf_machine(head: bytes) -> str | None:
    """The machine an ELF file's header names (``X86_64``, ``AARCH64``, ``EM_<n>`` for
    others), or None when the header is not a valid ELF identification (bad class or
    data encoding, or too short)."""
    if len(head) < _E_MACHINE_OFFSET + 2 or not head.startswith(ELF_MAGIC):
        return None
    ei_class, ei_data = head[4], head[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        return None
    (machine,) = struct.unpack_from("<H" if ei_data == 1 else ">H", head, _E_MACHINE_OFFSET)
    return ELF_MACHINES.get(machine, f"EM_{machine}")


def pe_machine(head: bytes) -> str | None:
    """The machine a PE file's COFF header names (an EFI stub or zboot kernel: ``AMD64``,
    ``ARM64``, ``0x<hex>`` for others), or None if ``head`` holds no PE header."""
    if head[:2] != PE_MAGIC or len(head) < _PE_OFFSET_FIELD + 4:
        return None
    (pe_at,) = struct.unpack_from("<I", head, _PE_OFFSET_FIELD)
    if len(head) < pe_at + 6 or head[pe_at : pe_at + 4] != b"PE\0\0":
        return None
    (machine,) = struct.unpack_from("<H", head, pe_at + 4)
    return PE_MACHINES.get(machine, f"0x{machine:04x}")


def elf_arch(head: bytes) -> str | None:
    """The CPU an ELF file is for (``x86_64``, ``aarch64``, another machine in lower
    case), ``unknown`` for an ELF file whose header is not valid, or None if not ELF."""
    if not head.startswith(ELF_MAGIC):
        return None
    machine = elf_machine(head)
    if machine is None:
        return "unknown"
    return ARCH_OF_ELF_MACHINE.get(machine, machine.lower())
