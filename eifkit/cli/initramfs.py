"""eifkit initramfs: pack a folder into a reproducible newc cpio."""

from __future__ import annotations

import argparse

from ..inputs import archive_mtime
from .common import EXIT_OK, add_command, add_output

INITRAMFS_HELP = """\
Pack a folder into a newc cpio archive (the kernel's initramfs format), the same
bytes on any machine: entries sorted by path, uid/gid 0, every mtime set to --mtime
(default: SOURCE_DATE_EPOCH if set, else 0), inode numbers assigned in order, no host
device numbers (device nodes keep only their major/minor), hard links stored as
separate files. An OUTPUT ending in .gz is gzip-compressed with no file name and
mtime 0 in the gzip header (level 9).

examples:
  eifkit initramfs rootfs/ -o app.cpio.gz
  eifkit initramfs bootstrap/ -o bootstrap.cpio --mtime 0
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "initramfs", "pack a folder into a reproducible cpio (initramfs)", INITRAMFS_HELP
    )
    p.add_argument("folder", metavar="DIR")
    add_output(p, "OUT.cpio[.gz]")
    p.add_argument(
        "--mtime",
        type=int,
        metavar="SECONDS",
        help="mtime of every entry (default: SOURCE_DATE_EPOCH, else 0)",
    )
    p.add_argument(
        "--prefix",
        metavar="PATH",
        default="",
        help="put everything under this folder in the archive (e.g. rootfs)",
    )


def run(args: argparse.Namespace) -> int:
    from ..inspect.initramfs import tree_entries, write_archive

    entries = tree_entries(args.folder, mtime=archive_mtime(args.mtime), prefix=args.prefix)
    size = write_archive(entries, args.output)
    print(f"Wrote {args.output}: {len(entries)} entries, {size} bytes of cpio")
    return EXIT_OK
