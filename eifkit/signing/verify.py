"""Checks an EIF against its CRC, its signature and what the caller expects of it.

Each check yields a :class:`Check` (name, ok, detail); ``verify`` passes only if all do.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..errors import EifError, SignatureError
from ..format import MAX_SIGNATURE_SIZE
from ..image import EifImage
from ..measure import Measurements
from ..sigsection import PcrSignature, certificate_ec_key, load_certificate, pcr0_signature
from ..sources import read_small
from .cose import CoseSign1, decode_cose_sign1
from .signers import certificate_subject, pcr0_payload


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class SignatureInfo:
    """A decoded signature section: its PCR0 entry (entry 0, the one the loaders use),
    that entry's certificate and COSE_Sign1."""

    entry: PcrSignature
    certificate: x509.Certificate
    cose: CoseSign1


def read_signature(image: EifImage) -> SignatureInfo | None:
    """Decode the signature section (None if unsigned); SignatureError if it is bad,
    including anything one of the loaders would refuse (see ``decode_signature_section``
    with ``loader_form``)."""
    sec = image.signature_section
    if sec is None:
        return None
    data = read_small(sec.source, MAX_SIGNATURE_SIZE, "signature section", SignatureError)
    entry = pcr0_signature(data, loader_form=True)
    cert = load_certificate(entry.signing_certificate)
    return SignatureInfo(entry, cert, decode_cose_sign1(entry.signature))


def signature_checks(sig: SignatureInfo, pcr0: bytes, at: datetime.datetime) -> list[Check]:
    """COSE signature, signed payload = {0, PCR0}, certificate validity at ``at``."""
    checks: list[Check] = []
    subject = certificate_subject(sig.certificate)
    try:
        sig.cose.verify(certificate_ec_key(sig.certificate))
    except SignatureError as e:
        checks.append(Check("signature", False, e.message))
    else:
        checks.append(Check("signature", True, f"{sig.cose.algorithm.name}, certificate {subject}"))
    expected = pcr0_payload(pcr0)
    if sig.cose.payload == expected:
        checks.append(Check("payload", True, f"signs PCR0 {pcr0.hex()[:16]}…"))
    else:
        checks.append(Check("payload", False, _payload_mismatch(sig.cose.payload, pcr0)))
    nb, na = sig.certificate.not_valid_before_utc, sig.certificate.not_valid_after_utc
    window = f"valid {nb.isoformat()} .. {na.isoformat()}"
    if at < nb:
        checks.append(Check("certificate", False, f"not yet valid at {at.isoformat()} ({window})"))
    elif at > na:
        checks.append(Check("certificate", False, f"expired at {at.isoformat()} ({window})"))
    else:
        checks.append(Check("certificate", True, f"{window}; checked at {at.isoformat()}"))
    return checks


def _payload_mismatch(payload: bytes, pcr0: bytes) -> str:
    import cbor2

    try:
        value = cbor2.loads(payload)
        index = value.get("register_index")
        signed = bytes(value.get("register_value", []))
    except Exception:
        return "signed payload is not {register_index, register_value}"
    if index != 0:
        return f"signed payload is for PCR{index}, expected PCR0"
    if signed != pcr0:
        return f"signed PCR0 {signed.hex()[:16]}… differs from this file's PCR0 {pcr0.hex()[:16]}…"
    return "signed payload is not encoded as AWS encodes it"


def signature_check(image: EifImage, m: Measurements) -> bool | None:
    """nitro-cli's SignatureCheck: None when unsigned, else signature and payload both ok."""
    try:
        sig = read_signature(image)
    except EifError:
        return False
    if sig is None:
        return None
    now = datetime.datetime.now(datetime.UTC)
    by_name = {c.name: c.ok for c in signature_checks(sig, m.pcr0, now)}
    return by_name["signature"] and by_name["payload"]


@dataclass(frozen=True)
class Expectations:
    """What the caller expects: a certificate and PCR values (hex, any case)."""

    certificate: x509.Certificate | None = None
    pcrs: Mapping[str, str] = field(default_factory=dict)
    require_signature: bool = False


def verify_image(
    image: EifImage,
    m: Measurements,
    expect: Expectations,
    at: datetime.datetime | None = None,
) -> list[Check]:
    when = at or datetime.datetime.now(datetime.UTC)
    checks = [
        Check("structure", True, f"EIF v{image.version}, {len(image.sections)} sections"),
        Check(
            "crc",
            image.stored_crc == m.crc32,
            f"stored {image.stored_crc:#010x}"
            + ("" if image.stored_crc == m.crc32 else f", computed {m.crc32:#010x}"),
        ),
    ]
    sig: SignatureInfo | None = None
    try:
        sig = read_signature(image)
    except EifError as e:
        checks.append(Check("signature", False, f"signature section unusable: {e.message}"))
    else:
        if sig is None:
            needed = expect.require_signature or expect.certificate is not None
            needed = needed or "PCR8" in expect.pcrs
            checks.append(Check("signature", not needed, "image is not signed"))
        else:
            checks += signature_checks(sig, m.pcr0, when)
    if expect.certificate is not None:
        if sig is None:
            checks.append(Check("expected-certificate", False, "image is not signed"))
        else:
            same = sig.certificate.public_bytes(Encoding.DER) == expect.certificate.public_bytes(
                Encoding.DER
            )
            checks.append(
                Check(
                    "expected-certificate",
                    same,
                    "signed with the expected certificate"
                    if same
                    else f"signed by {certificate_subject(sig.certificate)}, not by the expected "
                    f"{certificate_subject(expect.certificate)}",
                )
            )
    actual = {k: v for k, v in m.as_dict().items() if k.startswith("PCR")}
    for name in sorted(expect.pcrs, key=lambda k: int(k[3:])):
        want = expect.pcrs[name].lower()
        have = actual.get(name)
        if have is None:
            checks.append(Check(name.lower(), False, f"{name} is not measured for this image"))
        else:
            checks.append(
                Check(
                    name.lower(),
                    have == want,
                    "as expected" if have == want else f"is {have}, expected {want}",
                )
            )
    return checks
