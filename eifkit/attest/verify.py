"""Verify an attestation document: its signature, its chain to a pinned root, and what
it says against what the verifier expects (PCRs, nonce, user data, public key, age).

Every check is reported with its verdict and reason; the document is verified when all
pass. Nothing is printed here: the CLI prints the :class:`Verification`.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509

from ..errors import SignatureError
from ..signing.cose import CoseSign1
from ..signing.verify import Check
from ..sigsection import certificate_ec_key
from .chain import CERTIFICATE_FIELD_ERRORS, aws_nitro_root, check_chain
from .document import AttestationDocument, AttestationError, decode_cose
from .inputform import cose_bytes

ES384_PROTECTED = bytes.fromhex("a1013822")  # {1: -35}
CLOCK_SKEW_SECONDS = 60

At = Literal["now", "doc"] | _dt.datetime


@dataclass(frozen=True)
class Expectations:
    """What the verifier expects. PCRs by index; ``None`` for what is not checked."""

    pcrs: dict[int, bytes] = field(default_factory=dict)
    nonce: bytes | None = None
    user_data: bytes | None = None
    public_key: bytes | None = None
    max_age_seconds: float | None = None


@dataclass(frozen=True)
class Verification:
    """The verdict on one document: each check, the time the chain was checked at,
    and whether the document was accepted without a signature (``--allow-unsigned``)."""

    document: AttestationDocument | None
    checks: list[Check]
    at: _dt.datetime | None
    unsigned: bool

    @property
    def verified(self) -> bool:
        return all(c.ok for c in self.checks)


def decode(data: bytes) -> AttestationDocument:
    """An attestation document from any of its forms (raw CBOR, hex, base64, JSON
    with a ``document`` field, a certificate carrying it); AttestationError if not."""
    cose, _form = cose_bytes(data)
    return decode_cose(cose)


def verify(
    data: bytes | AttestationDocument,
    expect: Expectations | None = None,
    *,
    root: bytes | None = None,
    at: At = "now",
    now: _dt.datetime | None = None,
    allow_debug: bool = False,
    allow_unsigned: bool = False,
) -> Verification:
    """Check a document (bytes in any form, or decoded) against ``expect``.

    ``root``: the trusted root certificate (DER); AWS's Nitro root G1 by default.
    ``at``: when the chain must be valid: ``"now"``, ``"doc"`` (the document's own
    timestamp; a signing certificate lives 3 hours) or a time. ``now``: the current
    time (for tests); both must be timezone-aware. ``allow_unsigned`` accepts QEMU's
    emulated-NSM documents (all-zero certificate and signature): then only the fields
    and PCRs are checked.
    """
    expect = expect or Expectations()
    now = _utc(now or _dt.datetime.now(_dt.UTC))
    if isinstance(at, _dt.datetime):
        at = _utc(at)
    if isinstance(data, AttestationDocument):
        doc = data
    else:
        try:
            doc = decode(data)
        except AttestationError as e:
            return Verification(None, [Check("structure", False, str(e))], None, False)
    when = doc.timestamp if at == "doc" else now if at == "now" else at
    checks = [Check("structure", True, f"COSE_Sign1 from {doc.module_id}")]
    unsigned = allow_unsigned and doc.emulated_unsigned
    if unsigned:
        skipped = "NOT CHECKED: unsigned document accepted by --allow-unsigned"
        checks += [
            Check(name, True, skipped) for name in ("cose-header", "signature", "root", "chain")
        ]
    else:
        checks += _signature_checks(doc, root if root is not None else aws_nitro_root(), when)
    checks.append(_debug_check(doc, allow_debug))
    checks += _expectation_checks(doc, expect, now if at == "doc" else when)
    return Verification(doc, checks, when, unsigned)


def _utc(moment: _dt.datetime) -> _dt.datetime:
    """``moment`` in UTC, as every check reports it; ValueError if it is naive."""
    if moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no timezone; give an aware datetime")
    try:
        return moment.astimezone(_dt.UTC)
    except OverflowError:
        raise ValueError(f"{moment.isoformat()} is not in the years 1..9999 in UTC") from None


def _signature_checks(doc: AttestationDocument, root: bytes, at: _dt.datetime) -> list[Check]:
    header_ok = doc.protected == ES384_PROTECTED and not doc.unprotected_header
    header = Check(
        "cose-header",
        header_ok,
        "protected {1: -35} (ES384), unprotected {}"
        if header_ok
        else f"protected header {doc.protected.hex() or 'empty'} (expected a1013822, "
        f"{{1: -35}}), unprotected {doc.unprotected_header!r} (expected {{}})",
    )
    if doc.emulated_unsigned:
        why = "the document is unsigned (all-zero certificate and signature, as QEMU's "
        why += "emulated NSM makes them); --allow-unsigned checks only its fields"
        return [header, Check("signature", False, why), Check("chain", False, why)]
    root_ok = doc.cabundle[0] == root
    chain = check_chain(doc.certificate, doc.cabundle, at)
    return [
        header,
        _signature_check(doc, chain.leaf, header_ok),
        Check(
            "root",
            root_ok,
            f"cabundle[0] is{'' if root_ok else ' not'} the trusted root certificate",
        ),
        Check("chain", chain.ok, chain.detail),
    ]


def _signature_check(
    doc: AttestationDocument, leaf: x509.Certificate | None, header_ok: bool
) -> Check:
    if not header_ok:
        return Check("signature", False, "not checked: the COSE header is not ES384's")
    try:
        cert = leaf or x509.load_der_x509_certificate(doc.certificate)
    except CERTIFICATE_FIELD_ERRORS as e:
        return Check("signature", False, f"certificate does not parse: {e}")
    cose = CoseSign1(doc.protected, doc.unprotected_header, doc.payload, doc.signature)
    try:  # the key must be EC, and its curve ES384's (P-384): both checked here
        cose.verify(certificate_ec_key(cert))
    except SignatureError as e:
        return Check("signature", False, e.message)
    return Check("signature", True, "ES384 over the COSE Sig_structure, by the certificate")


def _debug_check(doc: AttestationDocument, allow_debug: bool) -> Check:
    if not doc.debug_mode:
        return Check("debug-mode", True, "not a debug-mode enclave")
    if allow_debug:
        return Check("debug-mode", True, "debug-mode enclave (PCR0-2 zero), --allow-debug")
    return Check(
        "debug-mode",
        False,
        "debug-mode enclave: PCR0, PCR1 and PCR2 are zero and prove nothing "
        "(--allow-debug to accept)",
    )


def _expectation_checks(
    doc: AttestationDocument, expect: Expectations, age_at: _dt.datetime
) -> list[Check]:
    checks = []
    for index, want in sorted(expect.pcrs.items()):
        got = doc.pcrs.get(index)
        if got is None:
            checks.append(Check(f"pcr{index}", False, "the document has no such PCR"))
        else:
            same = got == want
            checks.append(
                Check(
                    f"pcr{index}",
                    same,
                    got.hex() if same else f"document {got.hex()}, expected {want.hex()}",
                )
            )
    fields: tuple[tuple[str, bytes | None, bytes | None], ...] = (
        ("nonce", expect.nonce, doc.nonce),
        ("user-data", expect.user_data, doc.user_data),
        ("public-key", expect.public_key, doc.public_key),
    )
    for name, wanted, found in fields:
        if wanted is not None:
            shown = "absent" if found is None else found.hex()
            checks.append(
                Check(
                    name,
                    found == wanted,
                    shown if found == wanted else f"document {shown}, expected {wanted.hex()}",
                )
            )
    if expect.max_age_seconds is not None:
        age = (age_at - doc.timestamp).total_seconds()
        ok = -CLOCK_SKEW_SECONDS <= age <= expect.max_age_seconds
        checks.append(
            Check(
                "max-age",
                ok,
                f"{age:.0f} s old at {age_at:%Y-%m-%dT%H:%M:%SZ} (at most "
                f"{expect.max_age_seconds:g} s, {CLOCK_SKEW_SECONDS} s of clock skew allowed)",
            )
        )
    return checks
