"""eifkit pcr: PCR values of an EIF, a file, a certificate, a role or an instance."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..inputs import utf8_text
from ..measure import ALGORITHM_LABELS, DEFAULT_ALGORITHM, extend_from_zero
from ..pcrvalues import kms_policy, pcr_of_certificate_file, pcr_of_file
from ..reader import read
from .common import (
    EXIT_OK,
    add_command,
    add_container_image_options,
    add_image_reading_options,
    measure,
    print_json,
    print_table,
    warn,
)

PCR_HELP = """\
Compute PCR values, Nitro's way: every PCR is extend(zeros, H(content)) where
extend(a, b) = H(a || b) and H is SHA-384 unless --algo says otherwise.

  eifkit pcr IMAGE                    PCR0, PCR1, PCR2 (and PCR8 if signed) of an EIF
  eifkit pcr --input FILE             the PCR of any file's bytes (nitro-cli pcr --input)
  eifkit pcr --signing-certificate C  PCR8: of the certificate's DER (PEM or DER input)
  eifkit pcr --role-arn ARN           PCR3: extend(zeros, ARN as UTF-8), not hashed first
  eifkit pcr --instance-id ID         PCR4: extend(zeros, instance id as UTF-8)
  eifkit pcr --image IMG --blobs DIR  PCR0, PCR1, PCR2 of the EIF nitro-cli 1.5.0 would
                                      build from container image IMG (a docker save
                                      archive or OCI layout, PATH:TAG) with its blobs
                                      (default /usr/share/nitro_enclaves/blobs): its
                                      bzImage, cmdline (trimmed), init and nsm.ko; no
                                      EIF is written, no Docker is needed

Several may be combined; the values are printed together. With --json the output is
a JSON object with sorted keys as nitro-cli prints it ("PCR" for --input).
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "pcr", "compute PCR values of an EIF, a file, a certificate, a role", PCR_HELP
    )
    p.add_argument("image", metavar="IMAGE", nargs="?", help="an EIF file")
    p.add_argument("--input", metavar="FILE", help='any file: prints its PCR as "PCR"')
    p.add_argument("--signing-certificate", metavar="CERT", help="certificate: prints PCR8")
    p.add_argument("--role-arn", metavar="ARN", help="the enclave's IAM role ARN: prints PCR3")
    p.add_argument("--instance-id", metavar="ID", help="the parent instance id: prints PCR4")
    add_container_image_options(
        p,
        "a container image: PCR0-2 of the EIF nitro-cli would build from it",
        dest="container_image",
        metavar="IMG",
        blobs=True,
    )
    add_image_reading_options(p)
    p.add_argument(
        "--format",
        choices=["text", "json", "env", "kms-policy"],
        default="text",
        help="text (default); json (nitro-cli's object); env (PCR0=... lines for "
        "a shell or CI); kms-policy (a KMS key-policy Condition block with "
        "kms:RecipientAttestation:PCRn under StringEqualsIgnoreCase)",
    )
    p.add_argument("--json", action="store_true", help="the same as --format json")


def run(args: argparse.Namespace) -> int:
    given = [args.image, args.input, args.signing_certificate, args.role_arn, args.instance_id]
    if not any([*given, args.container_image]):
        raise InputError(
            "nothing to measure: give an IMAGE, --image, --input, --signing-certificate, "
            "--role-arn or --instance-id"
        )
    if args.container_image and (args.image or args.algo != DEFAULT_ALGORITHM):
        raise InputError("--image goes without an EIF IMAGE and with SHA-384 only")
    algo = args.algo
    values: dict[str, str] = {}
    if args.container_image:  # nitro-cli's build-enclave output: HashAlgorithm, PCR0-2
        values["HashAlgorithm"] = ALGORITHM_LABELS[DEFAULT_ALGORITHM]
        values.update(_nitro_cli_pcrs(args))
    if args.image:
        image = read(args.image, strict=not args.lenient)
        m = measure(args, image, algo)
        values.update(m.as_dict())
        if image.is_signed and m.pcr8 is None:
            warn(f"{args.image}: PCR8 unknown: {m.signature_error}")
    elif algo != DEFAULT_ALGORITHM:
        values["HashAlgorithm"] = ALGORITHM_LABELS[algo]
    if args.input:
        values["PCR"] = pcr_of_file(args.input, algo).hex()
    if args.signing_certificate:
        values["PCR8"] = pcr_of_certificate_file(args.signing_certificate, algo).hex()
    if args.role_arn is not None:
        values["PCR3"] = extend_from_zero(
            utf8_text(args.role_arn, "--role-arn").encode(), algo
        ).hex()
    if args.instance_id is not None:
        values["PCR4"] = extend_from_zero(
            utf8_text(args.instance_id, "--instance-id").encode(), algo
        ).hex()
    fmt = "json" if args.json else args.format
    if fmt == "json":
        print_json(values)
    elif fmt == "env":
        for k, v in sorted(values.items()):
            if k != "HashAlgorithm":
                print(f"{k}={v}")
    elif fmt == "kms-policy":
        print_json(kms_policy(values, algo))
    else:
        print_table([[k, v] for k, v in sorted(values.items()) if k != "HashAlgorithm"])
    return EXIT_OK


def _nitro_cli_pcrs(args: argparse.Namespace) -> dict[str, str]:
    from ..container import open_image
    from ..container.bootstrap import Blobs
    from ..container.pcrs import nitro_cli_pcrs
    from ..inputs import source_date_epoch

    blobs = Blobs.find(args.blobs)
    with open_image(args.container_image, arch=args.arch) as image:
        pcrs = nitro_cli_pcrs(image, blobs, implicit_dir_mtime=source_date_epoch() or 0)
    for message in pcrs.customer.warnings:
        warn(f"{args.container_image}: {message}")
    return pcrs.as_dict()
