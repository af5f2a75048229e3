"""A deliberately naive, independent EIF reference for tests.

Written from eif-format.md alone, with struct/zlib/hashlib over whole byte strings,
sharing no code with eifkit, so that a bug in eifkit's streaming engine or layout
code cannot hide in both places at once.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

KERNEL, CMDLINE, RAMDISK, SIGNATURE, METADATA = 1, 2, 3, 4, 5


@dataclass
class RawSection:
    type: int
    data: bytes
    flags: int = 0


def assemble(
    sections: list[RawSection],
    *,
    offsets: list[int] | None = None,
    file_size: int | None = None,
    fill: int = 0xA5,
    version: int = 4,
    flags: int = 0,
    reserved: int = 0,
    unused: int = 0,
    crc: int | None = None,
) -> bytes:
    """Lay out sections (at ``offsets`` or contiguously), fill the rest with ``fill``."""
    if offsets is None:
        offsets, pos = [], 548
        for s in sections:
            offsets.append(pos)
            pos += 12 + len(s.data)
    end = max([548] + [o + 12 + len(s.data) for o, s in zip(offsets, sections, strict=False)])
    size = max(end, file_size or 0)
    buf = bytearray([fill]) * size
    table_off = [0] * 32
    table_size = [0] * 32
    for i, (o, s) in enumerate(zip(offsets, sections, strict=False)):
        table_off[i], table_size[i] = o, len(s.data)
        buf[o : o + 12] = struct.pack(">HHQ", s.type, s.flags, len(s.data))
        buf[o + 12 : o + 12 + len(s.data)] = s.data
    header = struct.pack(">4sHHQQHH", b".eif", version, flags, 1 << 30, 2, reserved, len(sections))
    header += struct.pack(">32Q", *table_off) + struct.pack(">32Q", *table_size)
    header += struct.pack(">I", unused)
    buf[0:544] = header
    if crc is None:
        crc = naive_crc(bytes(buf[:544]) + bytes(4), sections, offsets, bytes(buf))
    buf[544:548] = struct.pack(">I", crc)
    return bytes(buf)


def naive_crc(header: bytes, sections: list[RawSection], offsets: list[int], file: bytes) -> int:
    covered = header[:544]
    for o, s in zip(offsets, sections, strict=False):
        covered += file[o : o + 12 + len(s.data)]
    return zlib.crc32(covered)


def crc_of_file(data: bytes) -> int:
    """CRC as the loaders compute it, straight from the file's bytes."""
    n = struct.unpack(">H", data[26:28])[0]
    offs = struct.unpack(">32Q", data[28:284])[:n]
    sizes = struct.unpack(">32Q", data[284:540])[:n]
    covered = data[:544] + b"".join(data[o : o + 12 + s] for o, s in zip(offs, sizes, strict=False))
    return zlib.crc32(covered)


def pcr(content: bytes, algo: str = "sha384") -> str:
    digest = hashlib.new(algo, content).digest()
    return hashlib.new(algo, bytes(len(digest)) + digest).hexdigest()


def pcrs_of_file(data: bytes, algo: str = "sha384") -> dict[str, str]:
    """PCR0/1/2 of an EIF's bytes in header-table order (QEMU's order)."""
    n = struct.unpack(">H", data[26:28])[0]
    offs = struct.unpack(">32Q", data[28:284])[:n]
    all_, boot, app = b"", b"", b""
    ramdisks = 0
    for o in offs:
        t, _f, size = struct.unpack(">HHQ", data[o : o + 12])
        payload = data[o + 12 : o + 12 + size]
        if t in (KERNEL, CMDLINE):
            all_ += payload
            boot += payload
        elif t == RAMDISK:
            all_ += payload
            if ramdisks == 0:
                boot += payload
            else:
                app += payload
            ramdisks += 1
    return {"PCR0": pcr(all_, algo), "PCR1": pcr(boot, algo), "PCR2": pcr(app, algo)}
