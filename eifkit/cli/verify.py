"""eifkit verify: CRC, signature, certificate and expected PCRs, each check's verdict."""

from __future__ import annotations

import argparse
import os

from .. import jsonfmt
from ..errors import EifError, InputError
from ..pcrvalues import expected_pcrs
from ..reader import read
from ..signing.signers import read_certificate_file
from ..signing.verify import Check, Expectations, verify_image
from ..timefmt import parse_rfc3339
from .common import (
    EXIT_CHECK_FAILED,
    EXIT_OK,
    add_command,
    add_quiet,
    measure,
    print_json,
    print_table,
)

VERIFY_HELP = """\
Check an EIF and print each check's verdict:

  structure             a valid EIF v4 (a file that does not parse fails here)
  crc                   the stored CRC32 equals the computed one
  signature             the COSE_Sign1 verifies with the certificate's key, and its alg
                        matches the key's curve (unsigned images pass unless a signature
                        is required by --require-signature, --signing-certificate or --pcr8)
  payload               the signed payload is exactly {0, PCR0 of this file}
  certificate           the certificate is valid now, or at --at TIME
  expected-certificate  the image was signed with --signing-certificate
  pcrN                  PCRs equal --pcrN values or the --pcrs JSON file

--pcrs takes the JSON that `eifkit build --json`, `eifkit pcr --json`, `eifkit describe
--json` or nitro-cli print (a "Measurements" object or a flat {"PCR0": ...} object).

Exit status: 0 if every check passes, 1 if any fails, 2 on bad usage or input.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "verify", "check CRC, signature, certificate and expected PCRs", VERIFY_HELP
    )
    p.add_argument("image", metavar="IMAGE")
    p.add_argument(
        "--signing-certificate",
        metavar="CERT",
        help="require a signature by this certificate (PEM or DER)",
    )
    for n in (0, 1, 2, 8):
        p.add_argument(f"--pcr{n}", metavar="HEX", help=f"expected PCR{n}")
    p.add_argument("--pcrs", metavar="FILE.json", help="expected PCRs from a JSON file")
    p.add_argument(
        "--at",
        metavar="TIME",
        help="check the certificate's validity at this RFC 3339 time (default: now)",
    )
    p.add_argument("--require-signature", action="store_true", help="fail if unsigned")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    at = parse_rfc3339(args.at, "--at") if args.at else None
    cert = None
    if args.signing_certificate:
        _pem, cert = read_certificate_file(args.signing_certificate)
    given = {f"PCR{n}": getattr(args, f"pcr{n}") for n in (0, 1, 2, 8)}
    expect = Expectations(cert, expected_pcrs(args.pcrs, given), args.require_signature)
    if not os.path.exists(args.image):
        raise InputError("file not found", path=args.image)
    try:
        image = read(args.image)
    except EifError as e:
        checks = [Check("structure", False, str(e))]
        m = None
    else:
        m = measure(args, image)
        checks = verify_image(image, m, expect, at)
    ok = all(c.ok for c in checks)
    if args.json:
        out = jsonfmt.OrderedObject(
            Verified=ok,
            Checks=[jsonfmt.OrderedObject(Name=c.name, Ok=c.ok, Detail=c.detail) for c in checks],
        )
        if m is not None:
            out["Measurements"] = m.as_dict()
        print_json(out)
    else:
        print_table([[c.name, "ok" if c.ok else "FAIL", c.detail] for c in checks])
        print(f"{args.image}: {'verified' if ok else 'NOT verified'}")
    return EXIT_OK if ok else EXIT_CHECK_FAILED
