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

    ``max_bytes``: bytes a compressed archive may expand to (what is read after
    decompression). An uncompressed archive is not counted: reading it is bounded by
    its own size, which is already on disk.
    ``max_entries``: archive members.
    """

    max_bytes: int
    max_entries: int


# The defaults of every command that reads inside ramdisks (describe and build's check,
# describe --deep, diff, extract --unpack; each has flags to raise them): more than a
# real enclave ramdisk needs (nitro-cli's are uncompressed; a gzip one of 2 GiB expanded
# is far past any seen), small enough that a bomb is answered in seconds.
DEFAULT_LIMITS = ExpansionLimits(max_bytes=2 << 30, max_entries=1_000_000)
# diff keeps an index of both ramdisks (about 200 bytes a file each, name included), so
# its default entry count keeps that under 100 MiB; the other commands keep nothing
# per file.
DIFF_LIMITS = ExpansionLimits(max_bytes=DEFAULT_LIMITS.max_bytes, max_entries=200_000)
