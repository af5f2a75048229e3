"""A private test PKI shaped like AWS's Nitro attestation PKI, and documents it signs.

root (30 years) → regional CA → zonal CA → instance CA → signing certificate (3 hours),
all ECDSA P-384 with SHA-384; CAs with critical basicConstraints CA:TRUE and keyUsage
keyCertSign|cRLSign; the signing certificate with CA:FALSE, digitalSignature and, like
AWS's, no Authority Key Identifier. Each knob a test turns makes one thing wrong.

The COSE_Sign1 is assembled here with cbor2 and signed with cryptography directly, not
with eifkit's code, so the verifier under test and the signer share nothing but the
RFC 9052 Sig_structure layout.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

# The checks a signed document gets before any expectation, in the order reported.
SIGNED_CHECKS = ["structure", "cose-header", "signature", "root", "chain", "debug-mode"]

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)  # the documents' time
T0_MS = int(T0.timestamp() * 1000)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@dataclass
class Cert:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(Encoding.DER)


def make_cert(
    cn: str,
    issuer: Cert | None,
    *,
    ca: bool,
    start: dt.datetime,
    end: dt.datetime,
    curve: ec.EllipticCurve | None = None,
    hash_alg: hashes.HashAlgorithm | None = None,
    path_length: int | None = None,
    key_usage: str = "default",
    ca_critical: bool = True,
    aki: bool | None = None,
) -> Cert:
    key = ec.generate_private_key(curve or ec.SECP384R1())
    name = _name(cn)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), ca_critical
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    usage = {
        "default": ("key_cert_sign", "crl_sign") if ca else ("digital_signature",),
        "none": (),
        "crl-only": ("crl_sign",),
        "encipher": ("key_encipherment",),
    }[key_usage]
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    flags.update(dict.fromkeys(usage, True))
    if usage:
        builder = builder.add_extension(x509.KeyUsage(**flags), True)
    if issuer is not None and (aki if aki is not None else ca):
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False
        )
    signer = issuer.key if issuer else key
    return Cert(key, builder.sign(signer, hash_alg or hashes.SHA384()))


@dataclass
class Pki:
    root: Cert
    cas: list[Cert]  # regional, zonal, instance
    leaf: Cert

    @property
    def cabundle(self) -> list[bytes]:
        return [self.root.der] + [c.der for c in self.cas]


def make_pki(**leaf_options: Any) -> Pki:
    root = make_cert(
        "test.nitro-enclaves",
        None,
        ca=True,
        start=T0 - dt.timedelta(days=3650),
        end=T0 + dt.timedelta(days=7300),
    )
    cas = []
    issuer = root
    for days, cn in ((20, "regional"), (3, "zonal"), (1, "instance")):
        ca = make_cert(
            f"{cn}.test.nitro-enclaves",
            issuer,
            ca=True,
            start=T0 - dt.timedelta(hours=12),
            end=T0 + dt.timedelta(days=days),
        )
        cas.append(ca)
        issuer = ca
    options: dict[str, Any] = {
        "ca": False,
        "start": T0 - dt.timedelta(minutes=5),
        "end": T0 + dt.timedelta(hours=3),
    }
    options.update(leaf_options)
    leaf = make_cert("i-0123456789abcdef0-enc0123456789abcdef.test", issuer, **options)
    return Pki(root, cas, leaf)


@dataclass
class Doc:
    """A document's parts; ``encode`` signs and assembles it."""

    pki: Pki
    payload: dict[str, Any] = field(default_factory=dict)
    protected: bytes = bytes.fromhex("a1013822")
    unprotected: dict[Any, Any] = field(default_factory=dict)
    tagged: bool = False

    def payload_bytes(self) -> bytes:
        return cbor2.dumps(self.payload)

    def signature(self, payload: bytes) -> bytes:
        to_sign = cbor2.dumps(["Signature1", self.protected, b"", payload])
        r, s = decode_dss_signature(self.pki.leaf.key.sign(to_sign, ec.ECDSA(hashes.SHA384())))
        return r.to_bytes(48, "big") + s.to_bytes(48, "big")

    def encode(self, *, payload: bytes | None = None, signature: bytes | None = None) -> bytes:
        body = payload if payload is not None else self.payload_bytes()
        sig = signature if signature is not None else self.signature(body)
        item: Any = [self.protected, self.unprotected, body, sig]
        return cbor2.dumps(cbor2.CBORTag(18, item) if self.tagged else item)


PCRS = {i: bytes([i + 1]) * 48 for i in range(16)}


def make_doc(pki: Pki | None = None, **payload: Any) -> Doc:
    pki = pki or make_pki()
    fields: dict[str, Any] = {
        "module_id": "i-0123456789abcdef0-enc0123456789abcdef",
        "digest": "SHA384",
        "timestamp": T0_MS,
        "pcrs": dict(PCRS),
        "certificate": pki.leaf.der,
        "cabundle": pki.cabundle,
        "public_key": None,
        "user_data": b"hello",
        "nonce": bytes(range(16)),
    }
    fields.update(payload)
    return Doc(pki, {k: v for k, v in fields.items() if v is not _DROP})


_DROP = object()
DROP: Any = _DROP  # pass as a field's value to leave the key out
