"""eifkit extract: every section to a file, plus the arguments that rebuild the EIF."""

from __future__ import annotations

import argparse

from .. import jsonfmt
from ..errors import EifError
from ..limits import DEFAULT_LIMITS
from ..reader import read
from .common import EXIT_OK, add_command, add_limit_options, add_output, limits_from, print_json

EXTRACT_HELP = """\
Write each section of IMAGE to its own file in DIR (a new or empty folder): kernel,
cmdline.txt, ramdisk-N.cpio (or .cpio.gz, or .bin if not cpio; as stored), metadata.json
(as stored), signature.cbor (if signed), section-I-type-T.bin for other sections, and
build-args.json: {"reproducible", "notes", "args", "command"}, the `eifkit build`
arguments that rebuild IMAGE byte for byte when run in DIR (with
custom-metadata.json), or the reasons why they cannot (signed, odd layout ...).

--unpack also unpacks each cpio ramdisk into DIR/ramdisk-N/. Members that would land
outside it (absolute paths, '..', writing through a symlink an earlier member made)
are refused with an error; device nodes are not created; setuid/setgid bits dropped.

example:
  eifkit extract app.eif -o parts/ && cd parts && eifkit build $(jq -r '.args|@sh' build-args.json)
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "extract", "write every section to a file, plus build-args.json", EXTRACT_HELP
    )
    p.add_argument("image", metavar="IMAGE")
    add_output(p, "DIR")
    p.add_argument("--unpack", action="store_true", help="also unpack each cpio ramdisk")
    p.add_argument("--lenient", action="store_true", help="accept odd files (fixtures)")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    add_limit_options(p, DEFAULT_LIMITS)


def run(args: argparse.Namespace) -> int:
    from ..extract import extract

    image = read(args.image, strict=not args.lenient)
    try:
        result = extract(image, args.output, unpack=args.unpack, limits=limits_from(args))
    except EifError as e:
        raise e.with_path(args.image) from None
    if args.json:
        print_json(
            jsonfmt.OrderedObject(
                Folder=result.folder,
                Files=result.files,
                BuildArgs=result.build_args,
                Unpacked=jsonfmt.OrderedObject(result.unpacked),
            )
        )
    else:
        print(f"Wrote {len(result.files)} files to {result.folder}: {', '.join(result.files)}")
        ba = result.build_args
        if ba["reproducible"]:
            print(f"Rebuild (in {result.folder}): {ba['command']}")
        else:
            print("Not reproducible with eifkit build: " + "; ".join(ba["notes"]))
        for name, u in result.unpacked.items():
            extra = f", not created: {len(u['not_created'])}" if u["not_created"] else ""
            print(f"Unpacked {name} into {u['folder']} ({u['entries']} entries{extra})")
    return EXIT_OK
