"""Signing through AWS KMS (optional extra ``eifkit[kms]``, which brings boto3).

The COSE Sig_structure is sent whole with ``MessageType=RAW``; it is a few hundred
bytes, far below KMS's 4096-byte limit, and KMS hashes it with the algorithm's hash.
(DIGEST mode is avoided: moto 5.2.5 hashes a DIGEST message a second time for ECC
keys, so the two would disagree.) Every signature KMS returns is verified locally
with the key's public key before it is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import SignatureError
from .cose import BY_KMS_SPEC, CoseAlgorithm, der_to_raw

# arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID (AWS's own pattern, also with key:ID)
KMS_ARN = re.compile(
    r"^arn:(?:aws|aws-cn|aws-us-gov):kms:([a-z0-9-]+):\d{12}:key[:/]([a-zA-Z0-9-]+)$"
)


def parse_kms_arn(value: str) -> tuple[str, str] | None:
    """(region, key id) of a KMS key ARN, or None if ``value`` is not one."""
    m = KMS_ARN.match(value)
    return (m.group(1), m.group(2)) if m else None


def _client(region: str | None, endpoint_url: str | None) -> Any:
    try:
        import boto3
    except ImportError:
        raise SignatureError(
            "KMS signing needs boto3: pip install 'eifkit[kms]'", field="kms"
        ) from None
    try:
        return boto3.client("kms", region_name=region, endpoint_url=endpoint_url)
    except Exception as e:
        raise SignatureError(f"cannot create a KMS client: {e}", field="kms") from None


def _kms_error(action: str, key_id: str, e: Exception) -> SignatureError:
    return SignatureError(f"KMS {action} for key {key_id} failed: {e}", field="kms")


@dataclass
class KmsSigner:
    """A KMS asymmetric ECC key (ECC_NIST_P256 / P384 / P521) used with ECDSA."""

    key_id: str
    region: str | None = None
    endpoint_url: str | None = None
    client: Any = None

    def __post_init__(self) -> None:
        if self.client is None:
            self.client = _client(self.region, self.endpoint_url)
        try:
            resp = self.client.get_public_key(KeyId=self.key_id)
        except Exception as e:
            raise _kms_error("GetPublicKey", self.key_id, e) from None
        spec = resp.get("KeySpec") or resp.get("CustomerMasterKeySpec")
        alg = BY_KMS_SPEC.get(spec)
        if alg is None:
            raise SignatureError(
                f"KMS key {self.key_id} has KeySpec {spec}; expected ECC_NIST_P256, "
                "ECC_NIST_P384 or ECC_NIST_P521",
                field="kms",
            )
        if resp.get("KeyUsage") not in (None, "SIGN_VERIFY"):
            raise SignatureError(
                f"KMS key {self.key_id} has KeyUsage {resp.get('KeyUsage')}, expected SIGN_VERIFY",
                field="kms",
            )
        key = serialization.load_der_public_key(resp["PublicKey"])
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise SignatureError(f"KMS key {self.key_id} is not an EC key", field="kms")
        self._alg = alg
        self._public_key = key

    @property
    def algorithm(self) -> CoseAlgorithm:
        return self._alg

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        alg = self._alg
        try:
            resp = self.client.sign(
                KeyId=self.key_id,
                Message=message,
                MessageType="RAW",
                SigningAlgorithm=alg.kms_algorithm,
            )
        except Exception as e:
            raise _kms_error("Sign", self.key_id, e) from None
        der = resp["Signature"]
        try:
            self._public_key.verify(der, message, ec.ECDSA(alg.hash()))
        except InvalidSignature:
            raise SignatureError(
                f"KMS returned a signature that does not verify with key {self.key_id}'s "
                "public key",
                field="kms",
            ) from None
        return der_to_raw(der, alg)
