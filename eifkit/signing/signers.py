"""Signing PCR0: signers (local key, KMS), the signed payload, certificates and
attaching a signature section to an image. The section's CBOR codec is
:mod:`eifkit.sigsection`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from typing import Any, Protocol

import cbor2
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from ..errors import SignatureError
from ..format import HEADER_SIZE, MAX_SECTIONS, SECTION_HEADER_SIZE, SectionType
from ..image import EifImage, Section
from ..inputs import CERTIFICATE_FILE_LIMIT, PRIVATE_KEY_FILE_LIMIT, read_input_file
from ..jsonfmt import OrderedObject
from ..sigsection import (
    PcrSignature,
    certificate_ec_key,
    encode_signature_section,
    load_certificate,
)
from ..sources import BytesSource, Source
from .cose import (
    CoseAlgorithm,
    CoseSign1,
    algorithm_for_key,
    decode_cose_sign1,
    der_to_raw,
    protected_header,
    sig_structure,
)


def pcr0_payload(pcr0: bytes) -> bytes:
    """The signed payload: serde_cbor of ``PcrInfo {register_index: 0, register_value: PCR0}``."""
    return cbor2.dumps({"register_index": 0, "register_value": list(pcr0)})


class Signer(Protocol):
    """Produces a raw r‖s ECDSA signature over a message (hashing it per ``algorithm``)."""

    @property
    def algorithm(self) -> CoseAlgorithm: ...

    def public_key(self) -> ec.EllipticCurvePublicKey: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class LocalKeySigner:
    """An EC private key from a PEM or DER file; signs deterministically (RFC 6979)."""

    key: ec.EllipticCurvePrivateKey

    @classmethod
    def from_file(cls, path: str) -> LocalKeySigner:
        data = read_input_file(path, "private key", PRIVATE_KEY_FILE_LIMIT, error=SignatureError)
        try:
            if b"-----BEGIN" in data:
                key = serialization.load_pem_private_key(data, password=None)
            else:
                key = serialization.load_der_private_key(data, password=None)
        except TypeError:
            raise SignatureError(
                "private key is encrypted; decrypt it first (openssl ec -in KEY -out PLAIN)",
                path=path,
            ) from None
        except (ValueError, UnsupportedAlgorithm) as e:
            raise SignatureError(f"not a private key: {e}", path=path) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise SignatureError(
                f"expected an EC private key (P-256/P-384/P-521), found {type(key).__name__}",
                path=path,
            )
        algorithm_for_key(key)
        return cls(key)

    @property
    def algorithm(self) -> CoseAlgorithm:
        return algorithm_for_key(self.key)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.key.public_key()

    def sign(self, message: bytes) -> bytes:
        alg = self.algorithm
        der = self.key.sign(message, ec.ECDSA(alg.hash(), deterministic_signing=True))
        return der_to_raw(der, alg)


def sign_pcr0(pcr0: bytes, signer: Signer) -> CoseSign1:
    """A COSE_Sign1 over ``{register_index: 0, register_value: pcr0}``."""
    alg = signer.algorithm
    protected = protected_header(alg)
    payload = pcr0_payload(pcr0)
    signature = signer.sign(sig_structure(protected, payload))
    if len(signature) != alg.signature_size:
        raise SignatureError(
            f"signer returned {len(signature)} bytes, expected {alg.signature_size} (r‖s)",
            field="signature",
        )
    return CoseSign1(protected, {}, payload, signature)


def public_keys_equal(a: ec.EllipticCurvePublicKey, b: ec.EllipticCurvePublicKey) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(Encoding.DER, fmt) == b.public_bytes(Encoding.DER, fmt)


def read_certificate_file(path: str) -> tuple[bytes, x509.Certificate]:
    """The certificate file's bytes (stored verbatim, as AWS does) and the parsed certificate.

    The section stores PEM, since the loaders (QEMU, AWS) parse PEM; a DER file is
    converted to PEM.
    """
    data = read_input_file(path, "certificate", CERTIFICATE_FILE_LIMIT, error=SignatureError)
    try:
        cert = load_certificate(data)
    except SignatureError as e:
        raise e.with_path(path) from None
    if not data.lstrip().startswith(b"-----BEGIN"):
        data = cert.public_bytes(Encoding.PEM)
    return data, cert


def check_key_matches_certificate(signer: Signer, cert: x509.Certificate, cert_path: str) -> None:
    try:
        cert_key = certificate_ec_key(cert)
    except SignatureError as e:
        raise e.with_path(cert_path) from None
    if not public_keys_equal(cert_key, signer.public_key()):
        raise SignatureError(
            "the private key does not belong to this certificate (public keys differ)",
            path=cert_path,
        )


def make_signature_section(pcr0: bytes, cert_pem: bytes, signer: Signer) -> bytes:
    """Sign PCR0 and encode the whole signature section."""
    cose = sign_pcr0(pcr0, signer)
    return encode_signature_section([PcrSignature(cert_pem, cose.encode())])


# ------------------------------------------------------------------ inspection


def _openssl_time(t: datetime.datetime) -> str:
    """ASN1_TIME_print's form, as nitro-cli prints it: ``Jun 21 12:00:00 2024 GMT``."""
    return f"{t.strftime('%b')} {t.day:2d} {t.strftime('%H:%M:%S')} {t.year} GMT"


def certificate_info(cert: x509.Certificate) -> dict[str, Any]:
    """nitro-cli describe-eif's ``SigningCertificate`` object."""
    issuer: dict[str, str] = {}
    for attr in cert.issuer:
        name = getattr(attr.oid, "_name", None) or attr.oid.dotted_string
        issuer[name] = attr.value if isinstance(attr.value, str) else attr.value.hex()
    algorithm = getattr(cert.signature_algorithm_oid, "_name", None) or (
        cert.signature_algorithm_oid.dotted_string
    )
    return OrderedObject(
        IssuerName=dict(sorted(issuer.items())),
        Algorithm=algorithm,
        NotBefore=_openssl_time(cert.not_valid_before_utc),
        NotAfter=_openssl_time(cert.not_valid_after_utc),
        Signature=":".join(f"{b:02X}" for b in cert.signature),
    )


def certificate_subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


# ------------------------------------------------------------------ signers and attaching


def open_signer(
    private_key: str | None, kms_key_id: str | None = None, kms_region: str | None = None
) -> Signer:
    """A local key file, a KMS key ARN given as ``private_key`` (AWS's form), or a KMS key id."""
    from .kms import KmsSigner, parse_kms_arn

    if kms_key_id is not None:
        if private_key is not None:
            raise SignatureError("give either a private key or a KMS key id, not both")
        parsed = parse_kms_arn(kms_key_id)
        region = kms_region or (parsed[0] if parsed else None)
        return KmsSigner(kms_key_id, region=region)
    if private_key is None:
        raise SignatureError("no private key given", field="private-key")
    parsed = parse_kms_arn(private_key)
    if parsed is not None:
        return KmsSigner(private_key, region=kms_region or parsed[0])
    return LocalKeySigner.from_file(private_key)


def cose_from_detached(data: bytes, cert: x509.Certificate, pcr0: bytes) -> bytes:
    """A COSE_Sign1 made elsewhere (HSM, offline key), checked before it is attached.

    ``data`` may be a whole COSE_Sign1 (tagged or not), which is kept as given, or just
    the signature over ``eifkit pcr0-payload``'s bytes: DER ECDSA-Sig-Value or raw r‖s,
    which is wrapped into AWS's COSE form.
    """
    key = certificate_ec_key(cert)
    alg = algorithm_for_key(key)
    payload = pcr0_payload(pcr0)
    try:
        cose = decode_cose_sign1(data)
        cose_bytes = data
    except SignatureError:
        if len(data) == alg.signature_size:
            raw = data
        else:
            try:
                raw = der_to_raw(data, alg)
            except SignatureError:
                raise SignatureError(
                    f"signature file is neither a COSE_Sign1, a DER ECDSA signature nor "
                    f"{alg.signature_size} raw bytes (r‖s for {alg.curve_label})",
                    field="signature",
                ) from None
        cose = CoseSign1(protected_header(alg), {}, payload, raw)
        cose_bytes = cose.encode()
    cose.verify(key)
    if cose.payload != payload:
        raise SignatureError(
            "the COSE payload is not {register_index: 0, register_value: PCR0} of this image",
            field="payload",
        )
    return cose_bytes


def attach_signature(image: EifImage, section: bytes | Source) -> EifImage:
    """The image with ``section`` as its signature section, every other byte unchanged.

    An existing signature section that ends the file is replaced in place (its size in
    the header table follows the new bytes); an unsigned image gets the new section
    appended at the end of the file as the next header-table entry.
    """
    source = BytesSource(section) if isinstance(section, bytes) else section
    sections = list(image.sections)
    idx = [i for i, s in enumerate(sections) if s.type == SectionType.SIGNATURE]
    ends = [(s.offset or 0) + SECTION_HEADER_SIZE + s.size for s in sections]
    ends += [f.offset + f.source.size for f in image.fillers]
    file_end = max(ends, default=HEADER_SIZE)
    if idx:
        i = idx[0]
        old = sections[i]
        if (old.offset or 0) + SECTION_HEADER_SIZE + old.size != file_end:
            raise SignatureError(
                "the signature section is not at the end of the file, so a new one of another "
                "size cannot replace it in place",
                offset=old.offset,
                field="signature",
            )
        sections[i] = Section(SectionType.SIGNATURE, source, old.flags, old.offset)
    else:
        if len(sections) >= MAX_SECTIONS:
            raise SignatureError(f"the image already has {MAX_SECTIONS} sections", field="sections")
        sections.append(Section(SectionType.SIGNATURE, source, 0, file_end))
    return dc_replace(image, sections=tuple(sections))
