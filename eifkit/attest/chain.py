"""The certificate chain of an attestation document: cabundle[0] is the root, then
each cabundle entry issues the next, and the last one issues the signing certificate.

Two opinions must agree: an explicit walk in the document's order (each link's names,
signature, ECDSA P-384 with SHA-384, validity at the chosen time, CA basic constraints,
path lengths and key usages), which names the certificate that breaks; and
pyca/cryptography's RFC 5280 path validation with the root as the only trust anchor,
WebPKI rules for the CAs and a permissive end-entity policy (AWS's signing
certificates have no Authority Key Identifier, which a strict WebPKI end-entity policy
requires).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass
from importlib import resources

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from ..inputs import CERTIFICATE_FILE_LIMIT, read_input_file
from .document import AttestationError

# What pyca/cryptography raises when a lazily parsed field of a certificate from an
# untrusted document is malformed (KeyError: an unknown string type in a name).
CERTIFICATE_FIELD_ERRORS = (
    ValueError,
    KeyError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
)

AWS_ROOT_FILE = "aws-nitro-root-g1.der"
AWS_ROOT_SHA256 = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"


def aws_nitro_root() -> bytes:
    """The AWS Nitro Enclaves root G1 certificate (DER) shipped inside eifkit; its
    SHA-256 is checked on every load, so an altered installation cannot pass."""
    der = resources.files(__package__).joinpath(AWS_ROOT_FILE).read_bytes()
    if hashlib.sha256(der).hexdigest() != AWS_ROOT_SHA256:
        raise RuntimeError(f"eifkit's {AWS_ROOT_FILE} is not the AWS Nitro root G1")
    return der


def load_root_file(path: str) -> bytes:
    """A root certificate from a PEM or DER file, as DER bytes."""
    from cryptography.hazmat.primitives.serialization import Encoding

    data = read_input_file(path, "root certificate", CERTIFICATE_FILE_LIMIT)
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
            if len(certs) != 1:
                raise AttestationError(
                    f"{len(certs)} certificates, expected the one root to trust", path=path
                )
            return certs[0].public_bytes(Encoding.DER)
        x509.load_der_x509_certificate(data)
        return data
    except CERTIFICATE_FIELD_ERRORS as e:
        raise AttestationError(f"not a PEM or DER certificate: {e}", path=path) from None


@dataclass(frozen=True)
class ChainVerdict:
    ok: bool
    detail: str
    leaf: x509.Certificate | None = None


def _parse(der: bytes, name: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except CERTIFICATE_FIELD_ERRORS as e:
        raise AttestationError(f"not a DER certificate: {e}", field=name) from None


def _check_p384(cert: x509.Certificate, name: str) -> str | None:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        return f"{name} does not hold an ECDSA P-384 key"
    if not isinstance(cert.signature_hash_algorithm, hashes.SHA384):
        return f"{name} is not signed with ECDSA SHA-384"
    return None


def _validity(cert: x509.Certificate, name: str, at: _dt.datetime) -> str | None:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if not start <= at <= end:
        return f"{name} is valid {_iso(start)}..{_iso(end)}, not at {_iso(at)}"
    return None


def _iso(moment: _dt.datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def _ca_rules(cert: x509.Certificate, name: str, below: int) -> str | None:
    """A CA that has ``below`` CA certificates under it in the path."""
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return f"{name} issues certificates but has no basicConstraints"
    if not bc.value.ca or not bc.critical:
        return f"{name} issues certificates but is not a CA (basicConstraints critical, CA:TRUE)"
    if bc.value.path_length is not None and below > bc.value.path_length:
        return f"{name} allows {bc.value.path_length} CAs below it, the chain has {below}"
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return f"{name} has no keyUsage"
    if not usage.key_cert_sign:
        return f"{name}'s keyUsage lacks keyCertSign"
    return None


def _leaf_rules(cert: x509.Certificate) -> str | None:
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if not usage.digital_signature:
        return "the signing certificate's keyUsage lacks digitalSignature"
    return None


def check_chain(certificate: bytes, cabundle: tuple[bytes, ...], at: _dt.datetime) -> ChainVerdict:
    """Whether ``certificate`` chains to ``cabundle[0]`` through cabundle[1:], in that
    order, at ``at``. (Whether cabundle[0] is the trusted root is checked apart.)"""
    try:
        names = [f"cabundle[{i}]" for i in range(len(cabundle))] + ["certificate"]
        certs = [_parse(der, n) for der, n in zip((*cabundle, certificate), names, strict=True)]
    except AttestationError as e:
        return ChainVerdict(False, str(e))
    try:
        return _check_chain(certs, names, at)
    except CERTIFICATE_FIELD_ERRORS as e:
        return ChainVerdict(False, f"a certificate does not parse: {e!r}")


def _check_chain(certs: list[x509.Certificate], names: list[str], at: _dt.datetime) -> ChainVerdict:
    for i, (cert, name) in enumerate(zip(certs, names, strict=True)):
        problem = _check_p384(cert, name) or _validity(cert, name, at)
        if problem is None and i + 1 < len(certs):
            problem = _ca_rules(cert, name, below=len(certs) - i - 2)
            child = certs[i + 1]
            if problem is None and child.issuer != cert.subject:
                problem = (
                    f"{names[i + 1]} is issued by {child.issuer.rfc4514_string()}, not by {name}"
                )
            if problem is None:
                try:
                    child.verify_directly_issued_by(cert)
                except (ValueError, TypeError) as e:
                    problem = f"{names[i + 1]} is not signed by {name}: {e}"
                except InvalidSignature:
                    problem = f"{names[i + 1]}'s signature does not verify with {name}'s key"
        if problem:
            return ChainVerdict(False, problem)
    problem = _leaf_rules(certs[-1])
    if problem:
        return ChainVerdict(False, problem)
    verifier = (
        PolicyBuilder()
        .store(Store([certs[0]]))
        .time(at)
        .max_chain_depth(len(certs))
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(certs[-1], certs[1:-1])
    except VerificationError as e:
        return ChainVerdict(False, f"RFC 5280 path validation: {e}")
    depth = len(certs) - 1
    return ChainVerdict(
        True,
        f"{depth} certificate{'s' if depth != 1 else ''} to the root, valid at {_iso(at)}",
        certs[-1],
    )
