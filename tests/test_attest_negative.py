"""eifkit attest's verdicts on documents signed by a private PKI shaped like AWS's
(tests/attest_pki.py): one good document that must pass, and one case per thing a
verifier must catch, each of which must fail with the right check."""

from __future__ import annotations

import datetime as dt
import os

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from eifkit import attest
from eifkit.attest.describe import document_json, document_rows
from tests.attest_pki import DROP, PCRS, SIGNED_CHECKS, T0, Doc, Pki, make_cert, make_doc, make_pki


@pytest.fixture(scope="module")
def pki():
    return make_pki()


def run(data: bytes, pki, expect=None, **kw) -> tuple[bool, list[str], attest.Verification]:
    kw.setdefault("at", T0)
    result = attest.verify(data, expect, root=pki.root.der, **kw)
    return result.verified, [c.name for c in result.checks if not c.ok], result


def test_the_good_document_passes(pki):
    doc = make_doc(pki)
    ok, failed, result = run(doc.encode(), pki)
    assert ok and failed == [], result.checks
    assert [c.name for c in result.checks] == SIGNED_CHECKS
    tagged = Doc(pki, doc.payload, tagged=True)
    assert run(tagged.encode(), pki)[0]


def test_aws_root_refuses_the_private_pki(pki):
    result = attest.verify(make_doc(pki).encode(), at=T0)
    assert [c.name for c in result.checks if not c.ok] == ["root"]


# -------------------------------------------------------------- signature and COSE


def test_a_changed_payload_byte_fails_the_signature(pki):
    doc = make_doc(pki)
    body = doc.payload_bytes()
    sig = doc.signature(body)
    tampered = body.replace(b"hello", b"jello")
    assert tampered != body
    assert run(doc.encode(payload=tampered, signature=sig), pki)[1] == ["signature"]


def test_a_changed_signature_byte_fails(pki):
    doc = make_doc(pki)
    sig = bytearray(doc.signature(doc.payload_bytes()))
    sig[10] ^= 1
    assert run(doc.encode(signature=bytes(sig)), pki)[1] == ["signature"]


@pytest.mark.parametrize(
    "protected, unprotected",
    [
        (cbor2.dumps({1: -7}), {}),  # ES256
        (cbor2.dumps({1: -35, 4: b"kid"}), {}),  # more than alg
        (b"", {}),
        (bytes.fromhex("a1013822"), {4: b"kid"}),  # unprotected not empty
    ],
)
def test_cose_headers_other_than_es384_alone_fail(pki, protected, unprotected):
    doc = make_doc(pki)
    doc.protected, doc.unprotected = protected, unprotected
    failed = run(doc.encode(), pki)[1]
    assert "cose-header" in failed and "signature" in failed


def test_a_signature_by_another_key_fails(pki):
    other = make_pki()
    doc = make_doc(pki)
    body = doc.payload_bytes()
    assert run(doc.encode(signature=Doc(other).signature(body)), pki)[1] == ["signature"]


# -------------------------------------------------------------------------- chain


def _with_leaf(pki, **options):
    issuer = pki.cas[-1]
    opts = {"ca": False, "start": T0 - dt.timedelta(minutes=5), "end": T0 + dt.timedelta(hours=3)}
    opts.update(options)
    leaf = make_cert("leaf", issuer, **opts)
    return type(pki)(pki.root, pki.cas, leaf)


def test_expired_leaf_fails_the_chain(pki):
    doc = make_doc(pki)
    later = T0 + dt.timedelta(hours=4)
    _ok, failed, result = run(doc.encode(), pki, at=later)
    assert failed == ["chain"] and "certificate is valid" in result.checks[4].detail
    assert run(doc.encode(), pki, at="doc")[0]


def test_chain_checked_now_fails_for_an_old_document(pki):
    assert run(make_doc(pki).encode(), pki, at="now")[1] == ["chain"]


def test_cabundle_out_of_order_fails(pki):
    bundle = pki.cabundle
    swapped = [bundle[0], bundle[2], bundle[1], bundle[3]]
    assert run(make_doc(pki, cabundle=swapped).encode(), pki)[1] == ["chain"]


def test_missing_intermediate_fails(pki):
    assert run(make_doc(pki, cabundle=pki.cabundle[:3]).encode(), pki)[1] == ["chain"]


def test_root_not_first_fails_root_check(pki):
    bundle = [*pki.cabundle[1:], pki.root.der]
    assert "root" in run(make_doc(pki, cabundle=bundle).encode(), pki)[1]


@pytest.mark.parametrize(
    "leaf_options, why",
    [
        ({"curve": ec.SECP256R1(), "hash_alg": hashes.SHA256()}, "P-384"),
        ({"hash_alg": hashes.SHA256()}, "SHA-384"),
        ({"key_usage": "encipher"}, "digitalSignature"),
        ({"start": T0 + dt.timedelta(minutes=1)}, "not at"),
    ],
)
def test_bad_signing_certificates_fail(pki, leaf_options, why):
    bad = _with_leaf(pki, **leaf_options)
    doc = make_doc(bad)
    _ok, failed, result = run(doc.encode(), bad)
    assert "chain" in failed
    assert why in next(c.detail for c in result.checks if c.name == "chain")


@pytest.mark.parametrize(
    "ca_options, why",
    [
        ({"ca": False}, "not a CA"),
        ({"ca_critical": False}, "not a CA"),
        ({"key_usage": "crl-only"}, "keyCertSign"),
        ({"key_usage": "none"}, "no keyUsage"),
        ({"path_length": 0, "extra_ca_below": True}, "allows 0 CAs"),
    ],
)
def test_bad_intermediates_fail(ca_options, why):
    opts = dict(ca_options)
    extra = opts.pop("extra_ca_below", False)
    root = make_cert(
        "root", None, ca=True, start=T0 - dt.timedelta(days=1), end=T0 + dt.timedelta(days=9)
    )
    mid = make_cert(
        "mid",
        root,
        start=T0 - dt.timedelta(days=1),
        end=T0 + dt.timedelta(days=9),
        **{"ca": True, **opts},
    )
    cas = [mid]
    if extra:
        cas.append(
            make_cert(
                "low", mid, ca=True, start=T0 - dt.timedelta(days=1), end=T0 + dt.timedelta(days=9)
            )
        )
    leaf = make_cert(
        "leaf", cas[-1], ca=False, start=T0 - dt.timedelta(hours=1), end=T0 + dt.timedelta(hours=2)
    )
    pki = Pki(root, cas, leaf)
    _ok, failed, result = run(make_doc(pki).encode(), pki)
    assert failed == ["chain"]
    assert why in result.checks[4].detail


def test_leaf_without_authority_key_identifier_passes_like_aws(pki):
    from cryptography import x509

    leaf = x509.load_der_x509_certificate(pki.leaf.der)
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert run(make_doc(pki).encode(), pki)[0]


# ------------------------------------------------------------------------ payload


@pytest.mark.parametrize(
    "field, value, says",
    [
        ("module_id", DROP, "module_id: missing"),
        ("module_id", "", "non-empty"),
        ("module_id", None, "missing (or null)"),
        ("digest", "SHA256", "digest"),
        ("timestamp", 0, "timestamp"),
        ("timestamp", -5, "timestamp"),
        ("timestamp", 1.5, "timestamp"),
        ("pcrs", {}, "1..32 PCRs"),
        ("pcrs", {i: bytes(48) for i in range(33)}, "1..32 PCRs"),
        ("pcrs", {0: bytes(47)}, "pcrs[0]"),
        ("pcrs", {32: bytes(48)}, "index 32"),
        ("pcrs", {"0": bytes(48)}, "index '0'"),
        ("cabundle", [], "cabundle"),
        ("cabundle", [b""], "cabundle[0]"),
        ("cabundle", [bytes(1025)], "cabundle[0]"),
        ("certificate", bytes(1025), "certificate"),
        ("public_key", b"", "public_key"),
        ("user_data", bytes(1025), "user_data"),
        ("nonce", "text", "nonce"),
        ("extra", b"x", "unknown key 'extra'"),
    ],
)
def test_payload_violations_fail_the_structure_check(pki, field, value, says):
    doc = make_doc(pki, **{field: value})
    _ok, failed, result = run(doc.encode(), pki)
    assert failed == ["structure"]
    assert says in result.checks[0].detail


def test_payload_with_a_duplicate_key_fails(pki):
    doc = make_doc(pki)
    body = doc.payload_bytes()
    # the map's count + 1 and a second "nonce" appended: cbor2 alone would keep the last
    assert body[0] == 0xA9
    dup = bytes([0xAA]) + body[1:] + cbor2.dumps("nonce") + cbor2.dumps(b"other")
    _ok, failed, result = run(doc.encode(payload=dup), pki)
    assert failed == ["structure"] and "same key twice" in result.checks[0].detail


def test_user_data_up_to_1024_bytes_is_accepted(pki):
    """attestation_process.md 2.2 allows 1024, 3.2.2.2 says 512: 1024 is eifkit's policy."""
    assert run(make_doc(pki, user_data=bytes(1024), nonce=bytes(1024)).encode(), pki)[0]


def test_optional_fields_may_be_left_out(pki):
    doc = make_doc(pki, public_key=DROP, user_data=DROP, nonce=DROP)
    ok, _failed, result = run(doc.encode(), pki)
    assert ok and result.document is not None and result.document.nonce is None


# ------------------------------------------------------------------- expectations


def test_expected_pcrs(pki):
    data = make_doc(pki).encode()
    good = attest.Expectations(pcrs={0: PCRS[0], 8: PCRS[8]})
    assert run(data, pki, good)[0]
    bad = attest.Expectations(pcrs={0: PCRS[1]})
    assert run(data, pki, bad)[1] == ["pcr0"]
    absent = attest.Expectations(pcrs={20: bytes(48)})
    assert run(data, pki, absent)[1] == ["pcr20"]


def test_nonce_user_data_public_key(pki):
    data = make_doc(pki, public_key=b"K" * 32).encode()
    good = attest.Expectations(nonce=bytes(range(16)), user_data=b"hello", public_key=b"K" * 32)
    assert run(data, pki, good)[0]
    for field, failed in (
        ("nonce", "nonce"),
        ("user_data", "user-data"),
        ("public_key", "public-key"),
    ):
        wrong = attest.Expectations(**{field: b"other"})
        assert run(data, pki, wrong)[1] == [failed]
    no_key = make_doc(pki).encode()
    assert run(no_key, pki, attest.Expectations(public_key=b"K"))[1] == ["public-key"]


def test_max_age(pki):
    data = make_doc(pki).encode()
    fresh = attest.Expectations(max_age_seconds=600)
    assert run(data, pki, fresh, at=T0 + dt.timedelta(seconds=300))[0]
    assert run(data, pki, fresh, at=T0 + dt.timedelta(seconds=900))[1] == ["max-age"]
    # from the future by more than the allowed clock skew
    assert run(data, pki, fresh, at=T0 - dt.timedelta(seconds=120))[1] == ["max-age"]
    assert run(data, pki, fresh, at=T0 - dt.timedelta(seconds=30))[0]
    # with --at doc the age is measured at the current time: an old document fails
    assert "max-age" in run(data, pki, fresh, at="doc")[1]


def test_debug_mode_needs_allow_debug(pki):
    pcrs = dict(PCRS) | {0: bytes(48), 1: bytes(48), 2: bytes(48)}
    data = make_doc(pki, pcrs=pcrs).encode()
    assert run(data, pki)[1] == ["debug-mode"]
    assert run(data, pki, allow_debug=True)[0]


# --------------------------------------------------------------------- unsigned


def _emulated(pki, **payload):
    zeros = bytes(64)
    doc = make_doc(pki, certificate=zeros, cabundle=[zeros], **payload)
    doc.protected = cbor2.dumps({1: -1})
    return doc.encode(signature=zeros)


def test_unsigned_documents_need_allow_unsigned(pki):
    data = _emulated(pki)
    ok, failed, result = run(data, pki)
    assert not ok and {"signature", "chain"} <= set(failed)
    ok, failed, result = run(data, pki, allow_unsigned=True)
    assert ok and result.unsigned
    skipped = ("cose-header", "signature", "root", "chain")
    assert all("NOT CHECKED" in c.detail for c in result.checks if c.name in skipped)
    assert run(data, pki, attest.Expectations(pcrs={0: bytes(48)}), allow_unsigned=True)[1] == [
        "pcr0"
    ]


def test_allow_unsigned_does_not_excuse_a_bad_signature(pki):
    doc = make_doc(pki)
    data = doc.encode(signature=bytes(96))
    _ok, failed, result = run(data, pki, allow_unsigned=True)
    assert failed == ["signature"] and not result.unsigned


def test_signed_document_under_allow_unsigned_is_fully_checked(pki):
    ok, _failed, result = run(make_doc(pki).encode(), pki, allow_unsigned=True)
    assert ok and not result.unsigned
    assert all("NOT CHECKED" not in c.detail for c in result.checks)


def test_mutated_documents_never_escape_as_exceptions(pki):
    """Byte flips, truncations and insertions anywhere in a signed document: verify()
    always returns a verdict (never raises) and never passes a changed document."""
    import random

    good = make_doc(pki, public_key=b"K" * 40).encode()
    rng = random.Random(1)
    for _ in range(int(os.environ.get("EIFKIT_ATTEST_MUTATIONS", "600"))):
        data = bytearray(good)
        kind = rng.randrange(3)
        at = rng.randrange(len(data))
        if kind == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del data[at:]
        else:
            data[at:at] = bytes([rng.randrange(256)])
        result = attest.verify(bytes(data), root=pki.root.der, at=T0)
        if bytes(data) != good:
            assert not result.verified, (kind, at)
        for form in (bytes(data), bytes(data).hex().encode()):
            try:
                doc = attest.decode(form)
            except attest.AttestationError:
                continue
            assert document_rows(doc) and document_json(doc)["ModuleId"] == doc.module_id
