"""COSE_Sign1 (RFC 9052) as AWS's aws-nitro-enclaves-cose writes it for EIF signatures.

``[protected bstr, {} , payload bstr, signature bstr]``, untagged on write (tag 18
accepted on read); protected = ``{1: alg}``; signature = raw r‖s over the CBOR
``["Signature1", protected, h'', payload]`` hashed per the curve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from .. import cbor_peek
from ..errors import SignatureError

COSE_SIGN1_TAG = 18
HEADER_ALG = 1


@dataclass(frozen=True)
class CoseAlgorithm:
    """An ECDSA COSE algorithm and what goes with it."""

    name: str  # ES256 ...
    cose_id: int  # -7 ...
    curve: str  # cryptography's curve name: secp256r1 ...
    curve_label: str  # P-256 ...
    hash_name: str  # sha256 ...
    coordinate_size: int  # bytes of r and of s
    kms_key_spec: str
    kms_algorithm: str

    def hash(self) -> hashes.HashAlgorithm:
        return {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[
            self.hash_name
        ]

    @property
    def signature_size(self) -> int:
        return 2 * self.coordinate_size


ES256 = CoseAlgorithm(
    "ES256", -7, "secp256r1", "P-256", "sha256", 32, "ECC_NIST_P256", "ECDSA_SHA_256"
)
ES384 = CoseAlgorithm(
    "ES384", -35, "secp384r1", "P-384", "sha384", 48, "ECC_NIST_P384", "ECDSA_SHA_384"
)
ES512 = CoseAlgorithm(
    "ES512", -36, "secp521r1", "P-521", "sha512", 66, "ECC_NIST_P521", "ECDSA_SHA_512"
)
ALGORITHMS = (ES256, ES384, ES512)
BY_NAME = {a.name: a for a in ALGORITHMS}
BY_ID = {a.cose_id: a for a in ALGORITHMS}
BY_CURVE = {a.curve: a for a in ALGORITHMS}
BY_KMS_SPEC = {a.kms_key_spec: a for a in ALGORITHMS}


def algorithm_for_key(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> CoseAlgorithm:
    if not isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        raise SignatureError(
            f"expected an EC key on P-256, P-384 or P-521, found {type(key).__name__}",
            field="key",
        )
    alg = BY_CURVE.get(key.curve.name)
    if alg is None:
        raise SignatureError(
            f"EC curve {key.curve.name} is not supported; expected P-256, P-384 or P-521",
            field="key",
        )
    return alg


def protected_header(alg: CoseAlgorithm) -> bytes:
    """``{1: alg}`` as CBOR: a1 01 26 for ES256, a1 01 38 22 for ES384 ..."""
    return cbor2.dumps({HEADER_ALG: alg.cose_id})


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """The bytes a COSE_Sign1 signature covers (before hashing)."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


def raw_to_der(raw: bytes, alg: CoseAlgorithm) -> bytes:
    n = alg.coordinate_size
    if len(raw) != 2 * n:
        raise SignatureError(
            f"{alg.name} signature must be {2 * n} bytes (r‖s), found {len(raw)}",
            field="signature",
        )
    return encode_dss_signature(int.from_bytes(raw[:n], "big"), int.from_bytes(raw[n:], "big"))


def der_to_raw(der: bytes, alg: CoseAlgorithm) -> bytes:
    try:
        r, s = decode_dss_signature(der)
    except ValueError:
        raise SignatureError("not a DER ECDSA signature", field="signature") from None
    n = alg.coordinate_size
    if r.bit_length() > 8 * n or s.bit_length() > 8 * n:
        raise SignatureError(f"ECDSA signature too large for {alg.curve_label}", field="signature")
    return r.to_bytes(n, "big") + s.to_bytes(n, "big")


@dataclass(frozen=True)
class CoseSign1:
    """A decoded COSE_Sign1. ``protected`` is kept as the exact bytes that were signed."""

    protected: bytes
    unprotected: dict[Any, Any]
    payload: bytes
    signature: bytes
    tagged: bool = False

    @property
    def protected_map(self) -> dict[Any, Any]:
        if not self.protected:
            return {}
        try:
            value = cbor_peek.loads_whole(self.protected)
        except Exception as e:
            raise SignatureError(
                f"COSE protected header is not CBOR: {e}", field="protected"
            ) from None
        if not isinstance(value, Mapping):
            raise SignatureError("COSE protected header is not a CBOR map", field="protected")
        return dict(value)

    @property
    def algorithm(self) -> CoseAlgorithm:
        alg_id = self.protected_map.get(HEADER_ALG)
        if alg_id is None:
            raise SignatureError("COSE protected header has no alg (label 1)", field="alg")
        alg = BY_ID.get(alg_id) if isinstance(alg_id, int) else None
        if alg is None:
            raise SignatureError(
                f"COSE alg {alg_id!r} is not ES256 (-7), ES384 (-35) or ES512 (-36)", field="alg"
            )
        return alg

    def to_be_signed(self) -> bytes:
        return sig_structure(self.protected, self.payload)

    def encode(self, *, tagged: bool | None = None) -> bytes:
        body = [self.protected, self.unprotected, self.payload, self.signature]
        if self.tagged if tagged is None else tagged:
            return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, body))
        return cbor2.dumps(body)

    def verify(self, public_key: ec.EllipticCurvePublicKey) -> None:
        """Raise SignatureError unless the signature is valid for ``public_key``."""
        from cryptography.exceptions import InvalidSignature

        alg = self.algorithm
        key_alg = algorithm_for_key(public_key)
        if key_alg != alg:
            raise SignatureError(
                f"COSE alg {alg.name} does not match the certificate's {key_alg.curve_label} "
                f"key (which needs {key_alg.name})",
                field="alg",
            )
        der = raw_to_der(self.signature, alg)
        try:
            public_key.verify(der, self.to_be_signed(), ec.ECDSA(alg.hash()))
        except InvalidSignature:
            raise SignatureError(
                "COSE signature does not verify with the certificate's key", field="signature"
            ) from None


def decode_cose_sign1(data: bytes) -> CoseSign1:
    """Decode a COSE_Sign1, tagged (18) or untagged; SignatureError naming what is wrong."""
    try:
        item = cbor_peek.loads_whole(data)
    except Exception as e:
        raise SignatureError(f"COSE_Sign1 is not CBOR: {e}", field="signature") from None
    tagged = False
    if isinstance(item, cbor2.CBORTag):
        if item.tag != COSE_SIGN1_TAG:
            raise SignatureError(
                f"COSE_Sign1 has CBOR tag {item.tag}, expected none or 18", field="signature"
            )
        item, tagged = item.value, True
    if not isinstance(item, list | tuple) or len(item) != 4:
        raise SignatureError("COSE_Sign1 must be a CBOR array of 4 items", field="signature")
    protected, unprotected, payload, signature = item
    if not isinstance(protected, bytes):
        raise SignatureError("COSE protected header must be a byte string", field="protected")
    if not isinstance(unprotected, Mapping):
        raise SignatureError("COSE unprotected header must be a map", field="unprotected")
    if not isinstance(payload, bytes):
        raise SignatureError("COSE payload must be a byte string (not detached)", field="payload")
    if not isinstance(signature, bytes):
        raise SignatureError("COSE signature must be a byte string", field="signature")
    cose = CoseSign1(protected, dict(unprotected), payload, signature, tagged)
    both = sorted(set(cose.protected_map) & set(cose.unprotected), key=repr)
    if both:
        raise SignatureError(
            f"COSE header labels {both} are in both the protected and the unprotected "
            "header (RFC 9052 forbids it)",
            field="unprotected",
        )
    return cose
