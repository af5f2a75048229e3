"""eifkit pcr0-payload: the bytes a detached signer signs for an EIF."""

from __future__ import annotations

import argparse

from ..atomic import write_file_atomically
from ..errors import EifError
from ..reader import read
from ..signing.cose import BY_NAME, ES384, algorithm_for_key, protected_header, sig_structure
from ..signing.signers import pcr0_payload, read_certificate_file
from ..sigsection import certificate_ec_key
from .common import EXIT_OK, add_command, add_output, measure

PAYLOAD_HELP = """\
Write the exact bytes a signer must sign for IMAGE: the COSE Sig_structure
["Signature1", protected {1: alg}, h'', {register_index: 0, register_value: PCR0}].
Sign them with ECDSA using the hash of the algorithm (SHA-256/384/512 for
ES256/ES384/ES512), then attach the result with `eifkit sign IMAGE --signature FILE`.

The algorithm is part of the signed bytes: it comes from --signing-certificate's key,
or --alg (default ES384).
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "pcr0-payload", "write the bytes to sign for detached signing", PAYLOAD_HELP
    )
    p.add_argument("image", metavar="IMAGE")
    add_output(p, "FILE", "where to write them")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--signing-certificate", metavar="CERT", help="take the algorithm from it")
    g.add_argument("--alg", choices=sorted(BY_NAME), help="the COSE algorithm (default ES384)")


def run(args: argparse.Namespace) -> int:
    alg = ES384
    if args.signing_certificate:
        _pem, cert = read_certificate_file(args.signing_certificate)
        try:
            alg = algorithm_for_key(certificate_ec_key(cert))
        except EifError as e:
            raise e.with_path(args.signing_certificate) from None
    elif args.alg:
        alg = BY_NAME[args.alg]
    image = read(args.image)
    m = measure(args, image)
    data = sig_structure(protected_header(alg), pcr0_payload(m.pcr0))
    write_file_atomically(args.output, data, inputs=[args.image, args.signing_certificate])
    print(
        f"Wrote {len(data)} bytes to {args.output}: {alg.name} Sig_structure over PCR0 "
        f"{m.pcr0.hex()}"
    )
    print(
        f"Sign them with ECDSA/{alg.hash_name.upper()} on {alg.curve_label}, then: "
        f"eifkit sign {args.image} --signing-certificate CERT --signature SIGFILE"
    )
    return EXIT_OK
