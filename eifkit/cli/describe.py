"""eifkit describe: read an EIF, measure it, print :func:`eifkit.report.describe`."""

from __future__ import annotations

import argparse

from ..errors import EifError
from ..limits import DEFAULT_LIMITS
from ..reader import read
from ..report import describe, describe_json, describe_text, signature_fields
from .common import (
    EXIT_OK,
    add_command,
    add_image_reading_options,
    add_limit_options,
    limits_from,
    measure,
    print_json,
)

DESCRIBE_HELP = """\
Show what an EIF holds: header fields, the section table, metadata, cmdline, whether
the stored CRC32 matches, and the PCR measurements (computed by streaming the file).

With --json the output starts with nitro-cli describe-eif's fields, in its order
(EifVersion, Measurements, IsSigned, CheckCRC, ImageName, ImageVersion, Metadata), then
eifkit's own: Arch, DefaultMemory, DefaultCpus, Cmdline, CRC, File, FileSize, Sections,
Findings (odd but harmless things: gaps, trailing bytes, unusual order ...), Kernel
(format, arch, boot protocol, EFI stub, version), Ramdisks (cpio or cpio.gz, entry
count, /init and its CPU, nitro-cli layout, nsm.ko) and Lint (problems found inside
them: no /init, /init for another CPU, not cpio or truncated, no nsm.ko ...).

By default the file must be a valid EIF v4 (see --lenient). A CRC mismatch is
reported (CheckCRC false), not an error.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "describe", "show an EIF's header, sections, metadata and PCRs", DESCRIBE_HELP
    )
    p.add_argument("image", metavar="IMAGE", help="the EIF file")
    add_image_reading_options(p)
    p.add_argument(
        "--no-inspect",
        action="store_true",
        help="do not look inside the kernel and ramdisks (Kernel, Ramdisks, Lint)",
    )
    p.add_argument(
        "--deep",
        action="store_true",
        help="also list gzip ramdisks over 256 MiB (they must be decompressed whole)",
    )
    p.add_argument("--json", action="store_true", help="print JSON (fields listed above)")
    add_limit_options(p, DEFAULT_LIMITS)


def run(args: argparse.Namespace) -> int:
    image = read(args.image, strict=not args.lenient)
    m = measure(args, image, args.algo)
    try:
        d = describe(
            image,
            m,
            strict=not args.lenient,
            inspect=not args.no_inspect,
            deep=args.deep,
            limits=limits_from(args),
        )
    except EifError as e:
        raise e.with_path(args.image) from None
    if args.json:
        print_json(describe_json(d, **signature_fields(image, m)))
    else:
        print(describe_text(d, **signature_fields(image, m)))
    return EXIT_OK
