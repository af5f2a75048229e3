"""eifkit attest: decode a Nitro attestation document, or verify it offline against an
EIF, PCR values and what the verifier sent (nonce, user data, public key)."""

from __future__ import annotations

import argparse
import sys
import warnings

from .. import jsonfmt
from ..attest import (
    AttestationError,
    Expectations,
    aws_nitro_root,
    decode,
    load_root_file,
    pcr_of_text,
    pcrs_of_eif,
    pcrs_of_json,
    verify,
)
from ..attest.describe import document_json, document_rows
from ..attest.expected import PCR3_ROLE, PCR4_INSTANCE, hex_value, pcr_pair
from ..attest.inputform import INPUT_LIMIT
from ..errors import InputError
from ..inputs import read_input_file, utf8_text
from ..timefmt import parse_rfc3339, rfc3339
from .common import EXIT_CHECK_FAILED, EXIT_OK, add_command, one_line, print_json, print_table

ATTEST_HELP = """\
Decode or verify an AWS Nitro Enclaves attestation document (a COSE_Sign1 signed by the
AWS Nitro PKI). DOC is a file, or - for standard input, holding the document as raw
CBOR, hex, base64 (standard or URL-safe), a JSON object with a "document" field, or an
X.509 certificate (PEM or DER) carrying it hex-encoded in its longest DNS name.
"""

DECODE_HELP = """\
Print every field of an attestation document: module_id, digest, timestamp, each PCR,
the certificates (subject, validity), public_key, user_data and nonce (hex, and as text
or JSON when they are), debug mode. Nothing is verified: see `eifkit attest verify`.
"""

VERIFY_HELP = """\
Verify an attestation document and print each check's verdict:

  structure    COSE_Sign1 (tagged or not), payload fields as AWS's attestation_process.md
               gives them; strict CBOR (no trailing bytes, no duplicate keys)
  cose-header  protected header exactly {1: -35} (ES384), unprotected header empty
  signature    ES384 (96-byte r‖s) over the RFC 9052 Sig_structure, by the certificate
  root         cabundle[0] is the AWS Nitro Enclaves root G1 shipped with eifkit
               (SHA-256 641a0321…bb5b), or the --root given
  chain        cabundle[1..] then the certificate, in order: ECDSA P-384/SHA-384, CA
               constraints, key usages, all valid at --at
  debug-mode   fails for a debug-mode enclave (PCR0-2 zero) unless --allow-debug
  pcrN         the document's PCRs equal those of --eif, --pcrs, --pcr, --role-arn (PCR3)
               and --instance-id (PCR4)
  nonce, user-data, public-key, max-age   when asked for

--at: `now` (default), `doc` (the document's own timestamp: its signing certificate lives
3 hours, so a stored document verifies only with --at doc) or an RFC 3339 time.
--max-age: the document's age at the --at time (at the current time with --at doc).
--allow-unsigned accepts documents of QEMU's emulated NSM (all-zero certificate and
signature): only the fields and PCRs are checked, and the output says so. Never use it
for a document from AWS.

A passing verdict proves that AWS's Nitro PKI signed this document for an enclave whose
PCRs are the ones checked; it does not prove the document is fresh (use --nonce or
--max-age) or that the enclave is the one you are talking to (bind it with --public-key
or --user-data).

Exit status: 0 verified, 1 a check failed, 2 bad usage or input.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "attest", "decode or verify a Nitro attestation document", ATTEST_HELP)
    actions = p.add_subparsers(dest="attest_command", metavar="ACTION", required=True)
    d = add_command(actions, "decode", "print an attestation document's fields", DECODE_HELP)
    d.add_argument("document", metavar="DOC")
    d.add_argument("--json", action="store_true", help="print the fields as JSON")
    v = add_command(actions, "verify", "verify an attestation document offline", VERIFY_HELP)
    v.add_argument("document", metavar="DOC")
    v.add_argument("--root", metavar="CERT", help="trusted root (PEM or DER) instead of AWS's")
    v.add_argument("--at", metavar="doc|now|TIME", default="now", help="when the chain is checked")
    v.add_argument("--eif", metavar="FILE", help="expect this EIF's PCR0-2 (and PCR8 if signed)")
    v.add_argument("--pcrs", metavar="FILE.json", help="expect the PCRs of a JSON file")
    v.add_argument(
        "--pcr", metavar="N=HEX", action="append", default=[], help="expect PCR N (repeatable)"
    )
    v.add_argument("--role-arn", metavar="ARN", help="expect PCR3 of this parent IAM role")
    v.add_argument("--instance-id", metavar="ID", help="expect PCR4 of this parent instance")
    v.add_argument("--nonce", metavar="HEX", help="expect this nonce")
    v.add_argument("--user-data", metavar="HEX", help="expect this user_data")
    v.add_argument("--public-key", metavar="HEX", help="expect this public_key")
    v.add_argument("--max-age", metavar="SECONDS", type=float, help="the document's max age")
    v.add_argument("--allow-debug", action="store_true", help="accept a debug-mode enclave")
    v.add_argument("--allow-unsigned", action="store_true", help="accept QEMU's unsigned documents")
    v.add_argument("--json", action="store_true", help="print the checks as JSON")


def read_document(path: str) -> bytes:
    if path == "-":
        data = sys.stdin.buffer.read(INPUT_LIMIT + 1)
        if len(data) > INPUT_LIMIT:
            raise InputError(f"more than {INPUT_LIMIT} bytes", path="<stdin>")
        return data
    return read_input_file(path, "attestation document", INPUT_LIMIT)


def run(args: argparse.Namespace) -> int:
    # pyca/cryptography warns (on stderr) about malformed fields of the certificates
    # it parses; a hostile document's certificates are judged by the checks instead.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if args.attest_command == "decode":
            return run_decode(args)
        return run_verify(args)


def run_decode(args: argparse.Namespace) -> int:
    try:
        doc = decode(read_document(args.document))
    except AttestationError as e:
        raise e.with_path(args.document) from None
    if args.json:
        print_json(document_json(doc))
    else:
        rows = [[one_line(cell) for cell in row] for row in document_rows(doc)]
        width = max(len(name) for name, _ in rows)
        print("\n".join(f"{name:<{width}}  {value}" for name, value in rows))
    return EXIT_OK


def _expect_pcr(pcrs: dict[int, bytes], index: int, value: bytes, source: str) -> None:
    """Add one expected PCR; two sources that disagree are a usage error, not a check
    the later one silently drops."""
    if pcrs.setdefault(index, value) != value:
        raise InputError(
            f"two different expected values for PCR{index} ({pcrs[index].hex()} and {value.hex()})",
            field=source,
        )


def expectations(args: argparse.Namespace) -> Expectations:
    pcrs: dict[int, bytes] = {}
    sources: list[tuple[str, dict[int, bytes]]] = []
    if args.eif:
        sources.append(("--eif", pcrs_of_eif(args.eif)))
    if args.pcrs:
        sources.append(("--pcrs", pcrs_of_json(args.pcrs)))
    sources += [("--pcr", dict([pcr_pair(p)])) for p in args.pcr]
    if args.role_arn is not None:
        role = pcr_of_text(utf8_text(args.role_arn, "--role-arn"))
        sources.append(("--role-arn", {PCR3_ROLE: role}))
    if args.instance_id is not None:
        instance = pcr_of_text(utf8_text(args.instance_id, "--instance-id"))
        sources.append(("--instance-id", {PCR4_INSTANCE: instance}))
    for source, values in sources:
        for index, value in values.items():
            _expect_pcr(pcrs, index, value, source)
    if args.max_age is not None and not args.max_age >= 0:
        raise InputError(f"{args.max_age} is not a number of seconds >= 0", field="--max-age")
    return Expectations(
        pcrs=pcrs,
        nonce=None if args.nonce is None else hex_value(args.nonce, "--nonce"),
        user_data=None if args.user_data is None else hex_value(args.user_data, "--user-data"),
        public_key=None if args.public_key is None else hex_value(args.public_key, "--public-key"),
        max_age_seconds=args.max_age,
    )


def run_verify(args: argparse.Namespace) -> int:
    at = args.at if args.at in ("doc", "now") else parse_rfc3339(args.at, "--at")
    root = load_root_file(args.root) if args.root else aws_nitro_root()
    expect = expectations(args)
    result = verify(
        read_document(args.document),
        expect,
        root=root,
        at=at,
        allow_debug=args.allow_debug,
        allow_unsigned=args.allow_unsigned,
    )
    loud = (
        "UNSIGNED: no signature, certificate or chain was checked (--allow-unsigned); "
        "this verdict is only about the fields"
    )
    if args.json:
        out = jsonfmt.OrderedObject(Verified=result.verified, Unsigned=result.unsigned)
        if result.unsigned:
            out["Warning"] = loud
        out["At"] = rfc3339(result.at) if result.at else None
        out["Checks"] = [
            jsonfmt.OrderedObject(Name=c.name, Ok=c.ok, Detail=c.detail) for c in result.checks
        ]
        if result.document is not None:
            out["Document"] = document_json(result.document)
        print_json(out)
    else:
        print_table([[c.name, "ok" if c.ok else "FAIL", one_line(c.detail)] for c in result.checks])
        if result.unsigned:
            print(f"WARNING: {loud}")
        verdict = "verified" if result.verified else "NOT verified"
        print(f"{args.document}: {verdict}{' (UNSIGNED)' if result.unsigned else ''}")
    return EXIT_OK if result.verified else EXIT_CHECK_FAILED
