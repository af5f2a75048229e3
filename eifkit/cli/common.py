"""What every command shares: exit codes, option groups, printing and progress."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import jsonfmt
from ..errors import InputError
from ..limits import ExpansionLimits
from ..measure import ALGORITHMS, DEFAULT_ALGORITHM, Measurements
from ..report import table
from ..stream import measure_image

if TYPE_CHECKING:
    from ..image import EifImage
    from ..progress import Progress
    from ..signing.signers import Signer
    from ..writer import WriteResult

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3  # a bug in eifkit, never a verdict on the input

PROG = "eifkit"


class Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=34, width=100)


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str, doc: str
) -> argparse.ArgumentParser:
    """A subcommand's parser, with its one-line ``help`` and its ``doc`` as description."""
    return sub.add_parser(name, help=help, description=doc, formatter_class=Formatter)


# ---------------------------------------------------------------- printing


def print_json(value: Any) -> None:
    sys.stdout.write(jsonfmt.dumps(value, indent=2) + "\n")


def print_table(rows: list[list[str]], indent: str = "") -> None:
    print("\n".join(table(rows, indent=indent)))


def one_line(text: str) -> str:
    """``text`` with every character that is not printable (line breaks, terminal
    escapes, bidi overrides) written as its Python escape (``\\n``, ``\\x1b`` ...): a
    message stays one line, and text from a file (a name in an archive, a document's
    module_id, a certificate's subject) cannot add or hide lines of the output."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def warn(msg: str) -> None:
    sys.stderr.write(f"{PROG}: warning: {one_line(msg)}\n")


def error(msg: str) -> None:
    sys.stderr.write(f"{PROG}: error: {one_line(msg)}\n")


def print_written(args: argparse.Namespace, headline: str, m: Measurements) -> None:
    """What build and sign print: ``{"Measurements": ...}`` with --json, else the
    headline, ``Measurements (SHA384)`` and an indented PCR table."""
    if args.json:
        print_json({"Measurements": m.as_dict()})
        return
    print(headline)
    print(f"Measurements ({m.algo.upper()})")
    print("\n".join(table([[k, v] for k, v in m.as_dict().items() if k != "HashAlgorithm"])))


def write_image(
    args: argparse.Namespace,
    image: EifImage,
    path: str,
    label: str,
    *,
    inputs: Sequence[str | None] = (),
    **options: Any,
) -> WriteResult:
    """:func:`eifkit.writer.write` with a progress bar unless --quiet, and O_DIRECT
    with --direct-io."""
    from .. import writer  # imported by the commands that write (start-up time)

    bar = progress(args, sum(sec.size for sec in image.sections), label)
    try:
        return writer.write(
            image,
            path,
            progress=bar,
            direct_io=args.direct_io,
            inputs=inputs,
            **options,
        )
    finally:
        bar.close()


def progress(args: argparse.Namespace, total: int, label: str) -> Progress:
    from ..progress import Progress

    return Progress(total, label, enabled=not getattr(args, "quiet", False))


def measure(
    args: argparse.Namespace, image: EifImage, algo: str = DEFAULT_ALGORITHM
) -> Measurements:
    """The image's measurements, with a progress bar unless --quiet."""
    bar = progress(args, sum(sec.size for sec in image.sections), "measuring")
    try:
        return measure_image(image, algo, progress=bar)
    finally:
        bar.close()


# ---------------------------------------------------------------- shared options


def add_output(
    p: argparse.ArgumentParser, metavar: str, help: str | None = None, *, required: bool = True
) -> None:
    """The -o/--output option."""
    p.add_argument("-o", "--output", required=required, metavar=metavar, help=help)


LIMIT_FLAGS = {"max_bytes": "--max-expanded-bytes", "max_entries": "--max-entries"}
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def size_argument(text: str) -> int:
    """``123``, ``64K``, ``512M``, ``4G``, ``1T`` (powers of 1024) as bytes."""
    number, unit = text[:-1] if text[-1:].isalpha() else text, text[-1:].upper()
    unit = unit if unit.isalpha() else ""
    if unit not in _SIZE_UNITS or not number.isdigit() or int(number) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 4096, 512M or 4G")
    return int(number) * _SIZE_UNITS[unit]


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def add_limit_options(p: argparse.ArgumentParser, defaults: ExpansionLimits) -> None:
    """--max-expanded-bytes and --max-entries: how much work reading inside one ramdisk
    may take (a hostile EIF can hold a decompression bomb)."""
    g = p.add_argument_group("limits on reading inside each ramdisk (hostile input)")
    g.add_argument(
        LIMIT_FLAGS["max_bytes"],
        type=size_argument,
        default=defaults.max_bytes,
        metavar="SIZE",
        help=f"stop when a compressed ramdisk expands past SIZE "
        f"(default {defaults.max_bytes >> 30}G; K, M, G, T suffixes)",
    )
    g.add_argument(
        LIMIT_FLAGS["max_entries"],
        type=_positive,
        default=defaults.max_entries,
        metavar="N",
        help=f"stop after N files in a ramdisk (default {defaults.max_entries:,})",
    )


def limits_from(args: argparse.Namespace) -> ExpansionLimits:
    return ExpansionLimits(max_bytes=args.max_expanded_bytes, max_entries=args.max_entries)


def add_container_image_options(
    p: argparse.ArgumentParser,
    help_text: str,
    *,
    dest: str = "image",
    metavar: str = "IMAGE",
    blobs: bool = False,
) -> None:
    """--image (a container image: docker save archive, OCI layout or archive, with
    :TAG or @sha256:DIGEST), --arch, and with ``blobs`` nitro-cli's --blobs folder."""
    p.add_argument("--image", dest=dest, metavar=metavar, help=help_text)
    p.add_argument("--arch", help="with --image: the platform (x86_64/amd64, aarch64/arm64)")
    if blobs:
        p.add_argument(
            "--blobs",
            metavar="DIR",
            help="with --image: nitro-cli's blobs folder (default /usr/share/nitro_enclaves/blobs)",
        )


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar (it is shown on a terminal for work over a second)",
    )


def add_direct_io(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--direct-io",
        dest="direct_io",
        action="store_true",
        help="write long sections past the page cache (O_DIRECT, where the file system "
        "allows it and the disk keeps up with hashing): faster when nothing reads the "
        "EIF soon after, slower when something does; see README's Speed section",
    )
    group.add_argument(
        "--no-direct-io",
        dest="direct_io",
        action="store_false",
        help="write every byte through the page cache, so that what reads the EIF next "
        "(verify, pcr, an upload, a boot) finds it there (the default)",
    )


def add_image_reading_options(p: argparse.ArgumentParser) -> None:
    add_quiet(p)
    p.add_argument(
        "--lenient",
        action="store_true",
        help="parse anything that can be parsed (unknown section types, other versions, "
        "flags, duplicate or missing sections), e.g. to inspect loader test fixtures",
    )
    p.add_argument(
        "--algo",
        choices=ALGORITHMS,
        default=DEFAULT_ALGORITHM,
        help="hash for the measurements (default: sha384)",
    )


def add_signing_key_options(p: argparse.ArgumentParser, *, detached: bool = False) -> None:
    g = p.add_argument_group("signing")
    g.add_argument(
        "--signing-certificate",
        metavar="CERT",
        help="X.509 certificate of the signing key (PEM is stored verbatim; DER is converted)",
    )
    keys = g.add_mutually_exclusive_group()
    keys.add_argument(
        "--private-key",
        metavar="KEY",
        help="EC private key file (P-256/P-384/P-521 give ES256/ES384/ES512), or an AWS KMS "
        "key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID) as eif_build takes it",
    )
    keys.add_argument(
        "--kms-key-id",
        metavar="ID",
        help="sign with this AWS KMS key (id, alias or ARN); needs the eifkit[kms] extra",
    )
    if detached:
        keys.add_argument(
            "--signature",
            metavar="FILE",
            help="attach a signature made elsewhere over `eifkit pcr0-payload`'s bytes: a "
            "COSE_Sign1, a DER ECDSA signature or raw r||s",
        )
    g.add_argument(
        "--kms-region",
        metavar="REGION",
        help="AWS region of the KMS key (default: from the ARN, else the AWS configuration)",
    )


def signing_inputs(args: argparse.Namespace) -> tuple[bytes, Signer] | None:
    """(certificate PEM bytes, signer) from the signing options, or None if unsigned."""
    has_key = args.private_key is not None or args.kms_key_id is not None
    if args.signing_certificate is None and not has_key:
        return None
    from ..signing.signers import check_key_matches_certificate, open_signer, read_certificate_file

    if args.signing_certificate is None:
        raise InputError("--signing-certificate is needed with a private key or KMS key")
    if not has_key:
        raise InputError("--private-key or --kms-key-id is needed with --signing-certificate")
    cert_pem, cert = read_certificate_file(args.signing_certificate)
    signer = open_signer(args.private_key, args.kms_key_id, args.kms_region)
    check_key_matches_certificate(signer, cert, args.signing_certificate)
    return cert_pem, signer
