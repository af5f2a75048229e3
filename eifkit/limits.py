"""How much work reading a compressed or hostile input may take.

A 10 MB EIF can hold a gzip ramdisk of 10 GiB of zeros, or a million empty files; a
650 KB one, 40 symlinks with 16 MiB targets. Whatever reads inside ramdisks counts
what it does against an :class:`ExpansionLimits` and stops with one
:class:`~eifkit.errors.LimitError` line when a limit is reached, so the time and memory
of a command are bounded by its limits, not by its input.
"""

from __future__ import annotations

from dataclasses import dataclass

# The kernel's initramfs unpacker skips names and symlink targets longer than this
# (PATH_MAX), so nothing longer is ever kept.
PATH_MAX = 4096


@dataclass(frozen=True)
class ExpansionLimits:
    """Bounds on reading one archive.

    ``max_bytes``: bytes of archive stream read (after decompression); data skipped by
    seeking in an uncompressed archive costs nothing and does not count.
    ``max_entries``: archive members.
    """

    max_bytes: int
    max_entries: int


# What describe's and build's ramdisk check read by default: enough for any real
# enclave ramdisk's headers (an uncompressed ramdisk is read by seeking, so only its
# entry count matters), small enough to answer a bomb in seconds.
INSPECT_LIMITS = ExpansionLimits(max_bytes=4 << 30, max_entries=1_000_000)
