"""eifkit diff: what differs between two EIFs and why their PCRs differ."""

from __future__ import annotations

import argparse

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

Exit status: 0 if the images have the same content, 1 if they differ, 2 on bad input.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "diff", "what differs between two EIFs, down to ramdisk files", DIFF_HELP)
    p.add_argument("a", metavar="A.eif")
    p.add_argument("b", metavar="B.eif")
    p.add_argument("--lenient", action="store_true", help="accept odd files (fixtures)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    add_quiet(p)
    add_limit_options(p, DIFF_LIMITS)


def run(args: argparse.Namespace) -> int:
    from ..diff import diff_images, diff_text

    a = read(args.a, strict=not args.lenient)
    b = read(args.b, strict=not args.lenient)
    d = diff_images(a, b, measure(args, a), measure(args, b), limits=limits_from(args))
    if args.json:
        print_json(d)
    else:
        print(diff_text(d, args.a, args.b))
    return EXIT_OK if d["Identical"] else EXIT_CHECK_FAILED
