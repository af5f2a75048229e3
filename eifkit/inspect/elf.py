"""Which CPU an ELF or PE file is for: the one home of the machine -> arch mapping.

Both the kernel check (ELF vmlinux, EFI zboot) and the ramdisk check (``/init`` and other
executables) ask this module, so they cannot name the same machine differently.
"""

from __future__ import annotations

from typing import Any

ELF_MAGIC = b"\x7fELF"
PE_MAGIC = b"MZ"

# lief's machine names -> the arch names eifkit uses (Arch values and a few more).
ARCH_OF_ELF_MACHINE = {"X86_64": "x86_64", "AARCH64": "aarch64", "I386": "i386", "ARM": "arm"}
ARCH_OF_PE_MACHINE = {"AMD64": "x86_64", "ARM64": "aarch64", "I386": "i386"}


def _lief() -> Any:
    """lief, with its logging off (it has no type information: Any)."""
    import lief

    lief.logging.disable()
    return lief


def _enum_name(value: object) -> str:
    return str(value).split(".")[-1]


def elf_machine(head: bytes) -> str | None:
    """lief's machine name from an ELF file's first bytes, or None if lief cannot parse it."""
    elf = _lief().ELF.parse(list(head))
    if elf is None:
        return None
    return _enum_name(elf.header.machine_type)


def pe_machine(head: bytes) -> str | None:
    """lief's machine name of a PE file (an EFI zboot kernel), or None."""
    if head[:2] != PE_MAGIC:
        return None
    pe = _lief().PE.parse(list(head))
    if pe is None:
        return None
    return _enum_name(pe.header.machine)


def elf_arch(head: bytes) -> str | None:
    """The CPU an ELF file is for (``x86_64``, ``aarch64``, another machine in lower
    case), ``unknown`` for an ELF file lief cannot parse, or None if it is not ELF."""
    if not head.startswith(ELF_MAGIC):
        return None
    machine = elf_machine(head)
    if machine is None:
        return "unknown"
    return ARCH_OF_ELF_MACHINE.get(machine, machine.lower())
