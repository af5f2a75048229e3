"""eifkit sign: add or replace an EIF's signature (a key, KMS, or a detached signature)."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..reader import read
from ..resign import sign_image, sign_while_writing
from . import common

SIGN_HELP = """\
Add a signature to an EIF, or replace its signature (nitro-cli sign-eif). Every other
byte stays as it was; only the header table entry of the signature section and the
CRC32 change. A replaced signature of another size gets its new size in the header.

The signature is a COSE_Sign1 over {register_index: 0, register_value: PCR0}, encoded
exactly as AWS's tools encode it; local keys sign deterministically (RFC 6979), so
signing the same image with the same key gives the same bytes.

Keys: --private-key FILE (EC P-256/P-384/P-521), --private-key arn:aws:kms:... or
--kms-key-id ID (AWS KMS, needs eifkit[kms]), or --signature FILE to attach a
signature made elsewhere over the bytes `eifkit pcr0-payload` writes (an HSM, an
offline machine): a whole COSE_Sign1, a DER ECDSA signature or raw r||s. It is
verified against the certificate and this image's PCR0 before it is attached.

If signing fails, nothing is written.

examples:
  eifkit sign app.eif --signing-certificate cert.pem --private-key key.pem
  eifkit pcr0-payload app.eif --signing-certificate cert.pem -o tbs.cbor
  openssl dgst -sha384 -sign key.pem -out sig.der tbs.cbor
  eifkit sign app.eif --signing-certificate cert.pem --signature sig.der -o signed.eif
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = common.add_command(sub, "sign", "add or replace an EIF's signature", SIGN_HELP)
    p.add_argument("image", metavar="IMAGE", help="the EIF to sign")
    common.add_output(
        p, "FILE", "write the signed EIF here (default: replace IMAGE, atomically)", required=False
    )
    common.add_signing_key_options(p, detached=True)
    p.add_argument("--json", action="store_true", help="print the measurements as JSON")
    common.add_quiet(p)
    common.add_direct_io(p)


def run(args: argparse.Namespace) -> int:
    if args.signing_certificate is None:
        raise InputError("--signing-certificate is needed")
    image = read(args.image)
    signer = None
    if args.signature is None:
        signing = common.signing_inputs(args)
        assert signing is not None
        signer = signing[1]
    options = {"signer": signer, "detached_signature": args.signature, "path": args.image}
    signed = sign_while_writing(image, args.signing_certificate, **options)
    if signed is None:  # an existing signature section in the middle: measure first
        m = common.measure(args, image)
        signed = sign_image(image, m, args.signing_certificate, **options)
    out = args.output or args.image
    # In place (no -o) replaces IMAGE on purpose; any other output may not be an input.
    inputs = [args.signing_certificate, args.private_key, args.signature]
    if args.output is not None:
        inputs.append(args.image)
    result = common.write_image(
        args, signed, out, "signing", layout="original", crc="compute", inputs=inputs
    )
    headline = f"Signed {out}: {result.size} bytes, CRC32 {result.crc32:#010x}"
    common.print_written(args, headline, result.measurements)
    return common.EXIT_OK
