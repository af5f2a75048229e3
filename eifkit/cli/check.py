"""eifkit check: what QEMU, AWS's reader and the spec would do with a file."""

from __future__ import annotations

import argparse
import os

from .. import jsonfmt
from ..errors import InputError
from .common import EXIT_CHECK_FAILED, EXIT_OK, add_command, print_json, print_table

CHECK_HELP = """\
Say what each known EIF loader would do with IMAGE, by modelling its checks in its
order:

  qemu        QEMU's nitro-enclave machine (hw/core/eif.c, QEMU >= 9.2), its messages
  aws-reader  AWS's EifReader as nitro-cli describe-eif uses it: sections read one after
              another from byte 548, the offset table ignored; a wrong CRC is reported
              as "CheckCRC: false", not refused
  nitro-spec  the rules the EIF specification gives the hypervisor (x86_64 host):
              types 1..5, ramdisks after the kernel, 2..32 sections in file order,
              metadata in version 4, signature <= 32768 bytes, CRC over the whole file

Any file is accepted as input (a fixture, a truncated download ...). Exit status: 0 if
every selected profile accepts, 1 if one rejects, 2 on bad usage or an unreadable file.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "check", "what QEMU, AWS's reader and the spec say of an EIF", CHECK_HELP)
    p.add_argument("image", metavar="IMAGE")
    p.add_argument(
        "--profile",
        choices=["qemu", "aws-reader", "nitro-spec", "all"],
        default="all",
        help="which loader model (default: all)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='print {"PROFILE": {"verdict": "accept"|"reject", "message": ...}}',
    )


def run(args: argparse.Namespace) -> int:
    from ..loadertest import check_file

    if os.path.isdir(args.image):
        raise InputError("expected a file, found a directory", path=args.image)
    if not os.path.exists(args.image):
        raise InputError("file not found", path=args.image)
    names = None if args.profile == "all" else [args.profile]
    verdicts = check_file(args.image, names)
    if args.json:
        print_json(jsonfmt.OrderedObject((v.profile, v.as_dict()) for v in verdicts))
    else:
        rows = [[v.profile, "accept" if v.accepted else "REJECT", v.message] for v in verdicts]
        print_table(rows)
    return EXIT_OK if all(v.accepted for v in verdicts) else EXIT_CHECK_FAILED
