"""eifkit diff: what differs between two EIFs and why their PCRs differ."""

from __future__ import annotations

import argparse

from ..format import MAGIC
from ..limits import DIFF_LIMITS
from ..reader import read
from .common import (
    EXIT_CHECK_FAILED,
    EXIT_OK,
    add_command,
    add_limit_options,
    add_quiet,
    limits_from,
    measure,
    print_json,
)

DIFF_HELP = """\
Compare two EIFs and say why their PCRs differ: header fields, the section table, each
PCR (same / differs, and which sections feeding it differ), metadata key by key, the
cmdline, and for cpio ramdisks the files added, removed or changed (content, mode,
uid, gid, mtime).

A or B may also be a container image (a docker save archive, an OCI layout or an OCI
archive; PATH:TAG or PATH@sha256:DIGEST): then the customer ramdisks are compared (the
EIF's last ramdisk; the image's as nitro-cli 1.5.0 would pack it), with PCR2 of both
and, for every file that differs, the image layer that holds it.

Exit status: 0 if the images have the same content (for an image: the same PCR2),
1 if they differ, 2 on bad input.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "diff", "what differs between two EIFs, down to ramdisk files", DIFF_HELP)
    p.add_argument("a", metavar="A", help="an EIF, or a container image")
    p.add_argument("b", metavar="B", help="an EIF, or a container image")
    p.add_argument("--lenient", action="store_true", help="accept odd files (fixtures)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    add_quiet(p)
    add_limit_options(p, DIFF_LIMITS)


def _is_eif(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == MAGIC
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    if not (_is_eif(args.a) and _is_eif(args.b)):
        return _with_images(args)
    from ..diff import diff_images, diff_text

    a = read(args.a, strict=not args.lenient)
    b = read(args.b, strict=not args.lenient)
    d = diff_images(a, b, measure(args, a), measure(args, b), limits=limits_from(args))
    if args.json:
        print_json(d)
    else:
        print(diff_text(d, args.a, args.b))
    return EXIT_OK if d["Identical"] else EXIT_CHECK_FAILED


def _with_images(args: argparse.Namespace) -> int:
    import contextlib
    import tempfile

    from ..container import open_image
    from ..container.imagediff import diff_customer_ramdisks, diff_text, eif_side, image_side
    from ..inputs import source_date_epoch

    mtime = source_date_epoch() or 0
    with contextlib.ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="eifkit-diff."))
        sides = []
        for spec in (args.a, args.b):
            if _is_eif(spec):
                sides.append(eif_side(spec, read(spec, strict=not args.lenient)))
            else:
                image = stack.enter_context(open_image(spec))
                sides.append(image_side(spec, image, folder, implicit_dir_mtime=mtime))
        d = diff_customer_ramdisks(sides[0], sides[1], limits_from(args), implicit_dir_mtime=mtime)
    if args.json:
        print_json(d)
    else:
        print(diff_text(d, args.a, args.b))
    return EXIT_OK if d["Identical"] else EXIT_CHECK_FAILED
