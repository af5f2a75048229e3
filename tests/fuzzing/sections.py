"""Hostile metadata, cmdline and kernel sections (small; bombs are tested elsewhere)."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable

MetaBuilder = Callable[[bytes], bytes]  # the base's metadata section -> new bytes


def _rand(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


METADATA: dict[str, MetaBuilder] = {
    "empty": lambda m: b"",
    "null": lambda m: b"null",
    "list": lambda m: b"[]",
    "number": lambda m: b"5",
    "object-empty": lambda m: b"{}",
    "deep-array-2000": lambda m: b"[" * 2000 + b"]" * 2000,
    "deep-object-2000": lambda m: b'{"a":' * 2000 + b"1" + b"}" * 2000,
    "deep-custom": lambda m: m[:-1] + b',"Deep":' + b"[" * 3000 + b"]" * 3000 + b"}",
    "huge-int-digits": lambda m: b'{"ImageName":' + b"9" * 5000 + b"}",
    "huge-float": lambda m: b'{"ImageName":1e999999,"ImageVersion":-1e999999}',
    "nan-infinity": lambda m: b'{"ImageName":NaN,"ImageVersion":Infinity}',
    "non-utf8": lambda m: b'{"ImageName":"\xff\xfe"}',
    "latin1-whole": lambda m: m.decode().replace("e", "\xe9").encode("latin-1"),
    "lone-surrogate": lambda m: b'{"ImageName":"\\ud800"}',
    "bom": lambda m: b"\xef\xbb\xbf" + m,
    "utf16": lambda m: m.decode().encode("utf-16"),
    "nul-inside": lambda m: m[:10] + b"\0" + m[10:],
    "trailing-garbage": lambda m: m + b"xyz",
    "two-documents": lambda m: m + m,
    "duplicate-keys": lambda m: b'{"ImageName":"a","ImageName":"b"}',
    "wrong-types": lambda m: (
        b'{"ImageName":5,"ImageVersion":[],"BuildMetadata":"x","DockerInfo":7,"CustomMetadata":"s"}'
    ),
    "build-metadata-wrong": lambda m: (
        b'{"ImageName":"a","ImageVersion":"1","BuildMetadata":{"BuildTime":"9999-99-99",'
        b'"BuildTool":1,"BuildToolVersion":null,"OperatingSystem":[],"KernelVersion":{}}}'
    ),
    "random": lambda m: _rand(11, 300),
    "many-keys": lambda m: b"{" + b",".join(b'"k%d":%d' % (i, i) for i in range(20000)) + b"}",
    "long-string": lambda m: b'{"ImageName":"' + b"a" * 200_000 + b'"}',
    "escapes": lambda m: b'{"ImageName":"' + b"\\u0000\\n\\u001b[31m" * 100 + b'"}',
}

CMDLINE: dict[str, bytes] = {
    "empty": b"",
    "nul-inside": b"console=ttyS0\0evil=1",
    "trailing-nul": b"console=ttyS0\0",
    "non-utf8": b"console=\xff\xfe",
    "newlines": b"console=ttyS0\n\r\x1b[2J",
    "64k": b"a" * 65536,
    "over-1mib": b"b" * ((1 << 20) + 1),
}


def _bzimage_cut(kernel: bytes, size: int) -> bytes:
    return kernel[:size]


def _elf(ei_class: int, machine: int = 62, phnum: int = 0, shoff: int = 0) -> bytes:
    ident = b"\x7fELF" + bytes([ei_class, 1, 1]) + bytes(9)
    rest = struct.pack(
        "<HHIQQQIHHHHHH", 2, machine, 1, 0, 64, shoff, 0, 64, 56, phnum, 64, 0xFFFF, 0
    )
    return ident + rest + bytes(256)


KernelBuilder = Callable[[bytes], bytes]  # the base's kernel -> new kernel bytes

KERNEL: dict[str, KernelBuilder] = {
    "empty": lambda k: b"",
    "random-4k": lambda k: _rand(13, 4096),
    "bzimage-0x210": lambda k: _bzimage_cut(k, 0x210),
    "bzimage-0x240": lambda k: _bzimage_cut(k, 0x240),
    "bzimage-0x260": lambda k: _bzimage_cut(k, 0x260),
    "bzimage-half": lambda k: k[: len(k) // 2],
    "bzimage-setup-sects-ff": lambda k: k[:0x1F1] + b"\xff" + k[0x1F2:],
    "bzimage-version-ffff": lambda k: k[:0x206] + b"\xff\xff" + k[0x208:],
    "bzimage-version-str-past-end": lambda k: k[:0x20E] + b"\xff\xff" + k[0x210:],
    "elf-bad-class": lambda k: _elf(7),
    "elf-class-zero": lambda k: _elf(0),
    "elf-unknown-machine": lambda k: _elf(2, machine=0x7777),
    "elf-huge-phnum": lambda k: _elf(2, phnum=0xFFFF),
    "elf-shoff-past-end": lambda k: _elf(2, shoff=1 << 40),
    "elf-truncated": lambda k: _elf(2)[:20],
    "pe-lfanew-past-end": lambda k: b"MZ" + bytes(58) + struct.pack("<I", 0x7FFFFFF0) + bytes(64),
    "arm64-image-garbage": lambda k: bytes(56) + b"ARM\x64" + _rand(17, 512),
    "gzip-garbage": lambda k: b"\x1f\x8b\x08\x00" + _rand(19, 512),
}
