"""The signature section: CBOR as AWS's serde_cbor writes it, and its certificate.

AWS stores ``[{"signing_certificate": [PEM bytes as uints], "signature": [COSE_Sign1
bytes as uints]}]``: serde_cbor encodes ``Vec<u8>`` as a CBOR *array of unsigned
integers*, not a byte string. This module decodes and encodes that form exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .errors import SignatureError

CERT_KEY = "signing_certificate"
SIGNATURE_KEY = "signature"


@dataclass(frozen=True)
class PcrSignature:
    """One entry of the signature section: the certificate PEM bytes and COSE_Sign1 bytes."""

    signing_certificate: bytes
    signature: bytes


def _uint_array_to_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, list):
        raise SignatureError(
            f"{what}: expected a CBOR array of 8-bit unsigned integers, found "
            f"{type(value).__name__}",
            field=what,
        )
    for i, item in enumerate(value):
        if not isinstance(item, int) or isinstance(item, bool) or not 0 <= item <= 255:
            raise SignatureError(
                f"{what}[{i}]: expected an unsigned integer 0..255, found {item!r}", field=what
            )
    return bytes(value)


def decode_signature_section(data: bytes) -> list[PcrSignature]:
    """Decode a signature section; raise SignatureError naming what is wrong."""
    try:
        item = cbor2.loads(data)
    except Exception as e:
        raise SignatureError(f"signature section is not CBOR: {e}", field="signature") from None
    if not isinstance(item, list) or not item:
        raise SignatureError(
            "signature section: expected a non-empty CBOR array", field="signature"
        )
    out = []
    for n, entry in enumerate(item):
        if not isinstance(entry, dict) or set(entry) != {CERT_KEY, SIGNATURE_KEY}:
            raise SignatureError(
                f"signature section entry {n}: expected a map with exactly the keys "
                f"{CERT_KEY!r} and {SIGNATURE_KEY!r}",
                field="signature",
            )
        out.append(
            PcrSignature(
                signing_certificate=_uint_array_to_bytes(entry[CERT_KEY], CERT_KEY),
                signature=_uint_array_to_bytes(entry[SIGNATURE_KEY], SIGNATURE_KEY),
            )
        )
    return out


def load_certificate(data: bytes) -> x509.Certificate:
    """Load a certificate from PEM (as stored in EIFs) or DER bytes."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as e:
        raise SignatureError(f"not an X.509 certificate: {e}", field="certificate") from None


def certificate_der_from_section(data: bytes) -> bytes:
    """DER of the first entry's signing certificate (what PCR8 measures)."""
    entries = decode_signature_section(data)
    cert = load_certificate(entries[0].signing_certificate)
    return cert.public_bytes(Encoding.DER)
