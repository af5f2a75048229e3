"""The signature section's codec and what PCR8 measures: no keys, no COSE.

AWS stores ``[{"signing_certificate": [PEM bytes as uints], "signature": [COSE_Sign1
bytes as uints]}, ...]``: serde_cbor encodes ``Vec<u8>`` as a CBOR *array of unsigned
integers*, not a byte string. This module decodes and encodes that form exactly.

How many entries: AWS's writer puts one (the signature of PCR0). AWS's reader
deserializes the whole array as ``Vec<PcrSignature>`` and uses entry 0; QEMU's loader
checks only item 0. So a section needs at least one entry, every entry must be
well formed, and entry 0 is the one that counts (PCR8 and signature checks); later
entries are kept but not used. An empty array is refused (QEMU: "Invalid signature
CBOR"; AWS's reader would index past the end).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cbor2

from . import cbor_peek
from .errors import SignatureError

if TYPE_CHECKING:  # cryptography is imported where a certificate is used (start-up time)
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

CERT_KEY = "signing_certificate"
SIGNATURE_KEY = "signature"
# A signature section larger than this is not read whole for decoding (the format's
# limit is 32768 bytes; lenient reading lets larger ones through).
SIGNATURE_DECODE_LIMIT = 1 << 20


@dataclass(frozen=True)
class PcrSignature:
    """One entry of the signature section: the certificate PEM bytes and COSE_Sign1 bytes."""

    signing_certificate: bytes
    signature: bytes


def _uint_array_to_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, list | tuple):
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


def decode_signature_section(data: bytes, *, loader_form: bool = False) -> list[PcrSignature]:
    """Every entry of a signature section (at least one); SignatureError naming what is
    wrong. Entry 0 is the PCR0 signature the loaders use.

    Always refused, as AWS's reader (``serde_cbor::from_slice``) refuses them: bytes
    after the CBOR item, a map with the same key twice, nesting past 64 levels.
    ``loader_form`` also refuses, in entry 0 (the one the loaders look at), what only
    one loader refuses, so that a file that passes is accepted by all of them: keys in
    another order than ``signing_certificate``, ``signature`` (QEMU checks the first
    key) and a certificate that is not PEM (AWS's reader parses PEM only)."""
    try:
        item = cbor_peek.loads_whole(data)
    except Exception as e:
        raise SignatureError(f"signature section is not CBOR: {e}", field="signature") from None
    if not isinstance(item, list | tuple) or not item:
        raise SignatureError(
            "signature section: expected a non-empty CBOR array", field="signature"
        )
    out = []
    for n, entry in enumerate(item):
        if not isinstance(entry, Mapping) or set(entry) != {CERT_KEY, SIGNATURE_KEY}:
            raise SignatureError(
                f"signature section entry {n}: expected a map with exactly the keys "
                f"{CERT_KEY!r} and {SIGNATURE_KEY!r}",
                field="signature",
            )
        if loader_form and n == 0 and list(entry) != [CERT_KEY, SIGNATURE_KEY]:
            raise SignatureError(
                f"signature section entry {n}: keys in the order {list(entry)}; QEMU's "
                f"loader needs {CERT_KEY!r} first",
                field="signature",
            )
        signature = PcrSignature(
            signing_certificate=_uint_array_to_bytes(entry[CERT_KEY], CERT_KEY),
            signature=_uint_array_to_bytes(entry[SIGNATURE_KEY], SIGNATURE_KEY),
        )
        if loader_form and n == 0 and not _is_pem(signature.signing_certificate):
            raise SignatureError(
                f"signature section entry {n}: the certificate is not PEM (DER?); AWS's "
                "reader parses only PEM",
                field="certificate",
            )
        out.append(signature)
    return out


def _is_pem(data: bytes) -> bool:
    return data.lstrip().startswith(b"-----BEGIN")


def pcr0_signature(data: bytes, *, loader_form: bool = False) -> PcrSignature:
    """The entry the loaders use: entry 0 of a well-formed signature section."""
    return decode_signature_section(data, loader_form=loader_form)[0]


def encode_signature_section(entries: list[PcrSignature]) -> bytes:
    """The section bytes exactly as serde_cbor writes ``Vec<PcrSignature>``."""
    return cbor2.dumps(
        [{CERT_KEY: list(e.signing_certificate), SIGNATURE_KEY: list(e.signature)} for e in entries]
    )


def load_certificate(data: bytes) -> x509.Certificate:
    """Load a certificate from PEM (as stored in EIFs) or DER bytes."""
    from cryptography import x509

    pem = _is_pem(data)
    try:
        if pem:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        expected = (
            "PEM data that is not a valid X.509 certificate"
            if pem
            else "not an X.509 certificate: expected PEM (-----BEGIN CERTIFICATE-----) or DER"
        )
        raise SignatureError(expected, field="certificate") from None


def certificate_ec_key(cert: x509.Certificate) -> ec.EllipticCurvePublicKey:
    """The certificate's public key, if it is an EC key eifkit can use; SignatureError
    otherwise (an unknown key type, a curve the crypto library lacks such as SM2, a
    point not on its curve: the library raises for each, differently)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as e:
        raise SignatureError(
            f"the certificate's public key cannot be used ({e}); expected an EC key on "
            "P-256, P-384 or P-521",
            field="certificate",
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SignatureError(
            f"the certificate's key is {type(key).__name__}, expected an EC key",
            field="certificate",
        )
    return key


def certificate_der_from_section(data: bytes) -> bytes:
    """What PCR8 measures: the DER of entry 0's signing certificate."""
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = load_certificate(pcr0_signature(data).signing_certificate)
    return cert.public_bytes(Encoding.DER)
