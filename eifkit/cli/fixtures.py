"""eifkit fixtures: write the loader-test corpus (single-defect EIFs and a manifest)."""

from __future__ import annotations

import argparse
import os

from .. import writer
from ..build import BuildInputs, make_image
from ..errors import InputError
from ..format import Arch
from ..reader import read
from .common import EXIT_OK, add_command, add_output, print_table

FIXTURES_HELP = """\
Write a corpus of named, single-defect EIFs for testing EIF loaders, plus
manifest.json giving, per case: id, description, the changes made (field, offset,
old and new value), whether the CRC was recomputed (it is, unless the CRC is the
defect, so that the intended check is reached), and each loader profile's expected
verdict and message (qemu, aws-reader, nitro-spec; see `eifkit check --help`).

The default base is a small deterministic image (and a signed copy of it for the
signature cases); the corpus is then byte-identical on every run and machine, and
every QEMU verdict is also declared by hand in eifkit and checked against the model.
--base IMAGE, or --kernel/--initrd/--cmdline, mutate your own image instead (at most
64 MiB; cases that do not apply to it are listed as skipped).
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "fixtures", "write a corpus of malformed EIFs with loader verdicts", FIXTURES_HELP
    )
    add_output(p, "DIR", "folder to write the corpus into", required=False)
    p.add_argument("--base", metavar="IMAGE", help="mutate this EIF instead of the default base")
    p.add_argument("--kernel", metavar="FILE", help="build the base from this kernel ...")
    p.add_argument(
        "--initrd",
        "--ramdisk",
        dest="ramdisks",
        action="append",
        metavar="FILE",
        help="... these ramdisks ...",
    )
    p.add_argument("--cmdline", metavar="STRING", help="... and this cmdline")
    p.add_argument("--list", action="store_true", help="list the cases and exit")


def run(args: argparse.Namespace) -> int:
    from ..loadertest import CASES, generate

    if args.list:
        print_table([[c.id, "signed" if c.signed else "", c.description] for c in CASES])
        return EXIT_OK
    if not args.output:
        raise InputError("-o/--output DIR is needed")
    base: bytes | None = None
    if args.base and args.kernel:
        raise InputError("give --base or build inputs (--kernel ...), not both")
    if args.base:
        read(args.base, strict=False)  # a clear error if it is not an EIF at all
        from ..loadertest.editor import EifEditor

        base = EifEditor.from_file(args.base).data
    elif args.kernel or args.ramdisks or args.cmdline:
        if not (args.kernel and args.ramdisks and args.cmdline is not None):
            raise InputError("building a base needs --kernel, --initrd and --cmdline")
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "base.eif")
            image = make_image(
                BuildInputs(
                    kernel=args.kernel,
                    ramdisks=args.ramdisks,
                    cmdline=args.cmdline,
                    build_time="2025-01-01T00:00:00Z",
                    arch=Arch.X86_64,  # the loader profiles model an x86_64 host
                    force=True,  # a base to mutate need not boot
                    lint=False,
                )
            )
            writer.write(image, path)
            with open(path, "rb") as f:
                base = f.read()
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise InputError("output exists and is not a folder", path=args.output)
    manifest = generate(args.output, base, inputs=[args.base, args.kernel, *(args.ramdisks or [])])
    made = [c for c in manifest["cases"] if "file" in c]
    skipped = len(manifest["cases"]) - len(made)
    print(
        f"Wrote {len(made)} cases and manifest.json to {args.output}"
        + (f" ({skipped} skipped: not applicable to this base)" if skipped else "")
    )
    return EXIT_OK
