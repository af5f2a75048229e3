"""eifkit initramfs: pack a folder into a reproducible newc cpio."""

from __future__ import annotations

import argparse

from ..buildpolicy import pack_folder
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
    mtime = archive_mtime(args.mtime)
    entries, size = pack_folder(args.folder, args.output, mtime=mtime, prefix=args.prefix)
    print(f"Wrote {args.output}: {entries} entries, {size} bytes of cpio")
    return EXIT_OK
