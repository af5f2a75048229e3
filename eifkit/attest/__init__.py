"""Nitro attestation documents: decode them and verify them offline against an EIF.

>>> from eifkit import attest
>>> doc = attest.decode(open("doc.cbor", "rb").read())          # doctest: +SKIP
>>> result = attest.verify(doc, attest.Expectations(pcrs=attest.pcrs_of_eif("app.eif")))
...                                                              # doctest: +SKIP
>>> result.verified, [(c.name, c.ok, c.detail) for c in result.checks]  # doctest: +SKIP
"""

from __future__ import annotations

from .chain import AWS_ROOT_SHA256, aws_nitro_root, load_root_file
from .document import AttestationDocument, AttestationError
from .expected import pcr_of_text, pcrs_of_eif, pcrs_of_json
from .verify import Expectations, Verification, decode, verify

__all__ = [
    "AWS_ROOT_SHA256",
    "AttestationDocument",
    "AttestationError",
    "Expectations",
    "Verification",
    "aws_nitro_root",
    "decode",
    "load_root_file",
    "pcr_of_text",
    "pcrs_of_eif",
    "pcrs_of_json",
    "verify",
]
