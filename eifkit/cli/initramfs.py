"""eifkit initramfs: pack a folder into a reproducible newc cpio, or make nitro-cli's
ramdisks from a container image or a blobs folder."""

from __future__ import annotations

import argparse

from ..buildpolicy import pack_folder
from ..errors import InputError
from ..inputs import archive_mtime
from .common import EXIT_OK, add_command, add_container_image_options, add_output, warn

INITRAMFS_HELP = """\
Pack a folder into a newc cpio archive (the kernel's initramfs format), the same
bytes on any machine: entries sorted by path, uid/gid 0, every mtime set to --mtime
(default: SOURCE_DATE_EPOCH if set, else 0), inode numbers assigned in order, no host
device numbers (device nodes keep only their major/minor), hard links stored as
separate files. An OUTPUT ending in .gz is gzip-compressed with no file name and
mtime 0 in the gzip header (level 9).

--image IMAGE writes instead the customer ramdisk nitro-cli 1.5.0 builds from a
container image (Docker Engine 20.10's container export packed by linuxkit 1.5.2),
byte for byte, without Docker: IMAGE is a `docker save` archive, an OCI layout folder
or an OCI archive, optionally PATH:TAG or PATH@sha256:DIGEST; --arch picks a platform
of a multi-platform image. It prints PCR2, which depends on this ramdisk alone.
Folders a layer changes without a header of their own get SOURCE_DATE_EPOCH (else 0)
as mtime; nitro-cli gives them the time of `docker load` (a warning says which).

--nitro-bootstrap BLOBS writes nitro-cli's bootstrap ramdisk (dev/, init, nsm.ko)
from a nitro-cli blobs folder, byte for byte.

examples:
  eifkit initramfs rootfs/ -o app.cpio.gz
  eifkit initramfs bootstrap/ -o bootstrap.cpio --mtime 0
  eifkit initramfs --image app.tar:latest -o customer.cpio
  eifkit initramfs --nitro-bootstrap /usr/share/nitro_enclaves/blobs -o bootstrap.cpio
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "initramfs", "pack a folder into a reproducible cpio (initramfs)", INITRAMFS_HELP
    )
    p.add_argument("folder", metavar="DIR", nargs="?", help="the folder to pack")
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
    add_container_image_options(p, "nitro-cli's customer ramdisk of this container image")
    p.add_argument(
        "--nitro-bootstrap", metavar="BLOBS", help="nitro-cli's bootstrap ramdisk from BLOBS"
    )


def run(args: argparse.Namespace) -> int:
    given = [x for x in (args.folder, args.image, args.nitro_bootstrap) if x is not None]
    if len(given) != 1:
        raise InputError("give one of DIR, --image IMAGE or --nitro-bootstrap BLOBS")
    if args.image is not None:
        return _customer(args)
    if args.nitro_bootstrap is not None:
        from ..container.bootstrap import Blobs, write_bootstrap_ramdisk

        made = write_bootstrap_ramdisk(Blobs.find(args.nitro_bootstrap), args.output)
        print(f"Wrote {made.path}: {made.size} bytes of cpio (nitro-cli's bootstrap ramdisk)")
        return EXIT_OK
    mtime = archive_mtime(args.mtime)
    entries, size = pack_folder(args.folder, args.output, mtime=mtime, prefix=args.prefix)
    print(f"Wrote {args.output}: {entries} entries, {size} bytes of cpio")
    return EXIT_OK


def _customer(args: argparse.Namespace) -> int:
    from ..container import open_image, write_customer_ramdisk
    from ..inputs import source_date_epoch

    with open_image(args.image, arch=args.arch) as image:
        made = write_customer_ramdisk(
            image, args.output, implicit_dir_mtime=source_date_epoch() or 0
        )
    for message in made.warnings:
        warn(f"{args.image}: {message}")
    print(
        f"Wrote {made.path}: {made.entries} entries, {made.size} bytes of cpio "
        "(nitro-cli's customer ramdisk)"
    )
    print(f"PCR2  {made.pcr2.hex()}")
    return EXIT_OK
