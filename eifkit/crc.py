"""CRC-32 (zlib/IEEE) helpers beyond ``zlib.crc32``: combining CRCs of adjacent blocks.

``crc32_combine(crc(a), crc(b), len(b)) == crc(a + b)``. The CRC of a block followed
by ``n`` zero bits is a linear map over GF(2); it is applied to ``crc(a)`` by
repeated squaring of the one-zero-bit operator, so the cost is O(log len(b)).
"""

from __future__ import annotations

_POLY = 0xEDB88320  # reflected IEEE polynomial


def _times(matrix: list[int], vector: int) -> int:
    out = 0
    i = 0
    while vector:
        if vector & 1:
            out ^= matrix[i]
        vector >>= 1
        i += 1
    return out


def _square(matrix: list[int]) -> list[int]:
    return [_times(matrix, matrix[n]) for n in range(32)]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A‖B from CRC-32 of A, CRC-32 of B and the length of B in bytes."""
    if len2 <= 0:
        return crc1
    op = [_POLY] + [1 << n for n in range(31)]  # shift the register by one zero bit
    op = _square(op)  # two bits
    op = _square(op)  # four bits
    while len2:
        op = _square(op)  # 8, 16, 32 ... bits: one byte, two bytes, four bytes ...
        if len2 & 1:
            crc1 = _times(op, crc1)
        len2 >>= 1
    return crc1 ^ crc2
