"""Hostile inputs found in the review of `eifkit attest` (issue 13): each must give a
failing verdict with one line saying why, never an exception or a forged line."""

from __future__ import annotations

import cbor2
import pytest

from eifkit import attest
from tests.attest_pki import T0, make_doc, make_pki

HUGE = cbor2.CBORTag(2, b"\x01" * 2000)  # a bignum of ~4800 digits: repr() refuses it


@pytest.fixture(scope="module")
def pki():
    return make_pki()


def failed(data: bytes, pki) -> list[str]:
    result = attest.verify(data, root=pki.root.der, at=T0)
    return [f"{c.name}: {c.detail}" for c in result.checks if not c.ok]


def _payload_with_pcrs(doc, pcrs_map: bytes) -> bytes:
    """The payload of ``doc`` with its pcrs replaced by the raw CBOR ``pcrs_map``."""
    rest = cbor2.dumps({k: v for k, v in doc.payload.items() if k != "pcrs"})
    assert rest[0] & 0xE0 == 0xA0 and rest[0] & 0x1F < 23
    return bytes([rest[0] + 1]) + rest[1:] + cbor2.dumps("pcrs") + pcrs_map


@pytest.mark.parametrize(
    "where",
    ["timestamp", "pcr-index", "unprotected", "protected-and-unprotected"],
)
def test_a_huge_bignum_fails_the_structure_check(pki, where):
    doc = make_doc(pki)
    if where == "timestamp":
        doc = make_doc(pki, timestamp=HUGE)
    elif where == "pcr-index":
        doc = make_doc(pki, pcrs={HUGE: b"\0" * 48})
    elif where == "unprotected":
        doc.unprotected = {HUGE: 1}
    else:
        doc.protected, doc.unprotected = cbor2.dumps({HUGE: 1}), {HUGE: 1}
    problems = failed(doc.encode(), pki)
    assert len(problems) == 1 and problems[0].startswith("structure: "), problems
    assert "CBOR tag 2" in problems[0]


@pytest.mark.parametrize(
    "second_key",
    [b"\xf5", b"\xf9\x3c\x00", b"\xc2\x41\x01", b"\xfb\x3f\xf0\x00\x00\x00\x00\x00\x00"],
    ids=["true", "float16-1.0", "bignum-1", "float64-1.0"],
)
def test_a_pcr_index_python_equates_with_another_is_refused(pki, second_key):
    # {1: A, <key equal to 1 in Python>: B}: cbor2 keeps one entry, so the duplicate
    # check on encodings alone let the signed payload say PCR1 = B.
    doc = make_doc(pki)
    pcrs = b"\xa2\x01" + cbor2.dumps(b"A" * 48) + second_key + cbor2.dumps(b"B" * 48)
    payload = _payload_with_pcrs(doc, pcrs)
    problems = failed(doc.encode(payload=payload, signature=doc.signature(payload)), pki)
    assert len(problems) == 1 and problems[0].startswith("structure: "), problems


def test_a_payload_key_that_is_not_text_is_refused(pki):
    doc = make_doc(pki)
    body = cbor2.dumps(doc.payload)
    payload = bytes([body[0] + 1]) + body[1:] + b"\x01\x01"  # one more entry, 1: 1
    problems = failed(doc.encode(payload=payload, signature=doc.signature(payload)), pki)
    assert len(problems) == 1 and problems[0].startswith("structure: "), problems


def test_a_tag_nested_in_the_cose_tag_is_refused(pki):
    inner = make_doc(pki).encode()
    assert failed(cbor2.dumps(cbor2.CBORTag(18, cbor2.loads(b"\xd2" + inner))), pki)[0].startswith(
        "structure: "
    )


def test_an_oversized_cose_is_refused_before_it_is_parsed(pki):
    doc = make_doc(pki)
    doc.unprotected = {i: i for i in range(30000)}
    problems = failed(doc.encode(), pki)
    assert len(problems) == 1 and "bytes, expected at most" in problems[0], problems


# ------------------------------------------------- document text in the human output

FORGED = "x\n\x1b[8mstructure  ok\r\u202esignature"


def verify_args(tmp_path, pki, doc_bytes: bytes) -> list[str]:
    """``attest verify DOC --root ROOT --at T0`` for ``doc_bytes`` against ``pki``."""
    path = tmp_path / "doc.cbor"
    path.write_bytes(doc_bytes)
    root = tmp_path / "root.der"
    root.write_bytes(pki.root.der)
    return ["attest", "verify", str(path), "--root", str(root), "--at", "2026-03-01T12:00:00Z"]


def _cli(capsys, *args: str) -> str:
    from eifkit.cli import main

    main(list(args))
    return capsys.readouterr().out


def _assert_no_control_characters(out: str) -> None:
    for line in out.splitlines():
        assert all(c.isprintable() for c in line), repr(line)


def test_control_characters_in_module_id_cannot_forge_lines(pki, tmp_path, capsys):
    verify = verify_args(tmp_path, pki, make_doc(pki, module_id=FORGED).encode())
    for args in (["attest", "decode", verify[2]], verify):
        out = _cli(capsys, *args)
        _assert_no_control_characters(out)
        assert "\\x1b[8m" in out and "\\n" in out


def test_control_characters_in_a_certificate_name_cannot_forge_lines(tmp_path, capsys):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    from tests.attest_pki import Cert, make_cert

    pki = make_pki()
    ca = pki.cas[-1]
    evil_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, FORGED)])
    evil = make_cert("leaf", ca, ca=False, start=T0, end=T0)
    rebuilt = (
        x509.CertificateBuilder()
        .subject_name(evil_name)
        .issuer_name(evil_name)  # not the CA's name: the chain check prints it
        .public_key(evil.key.public_key())
        .serial_number(1)
        .not_valid_before(evil.cert.not_valid_before_utc)
        .not_valid_after(evil.cert.not_valid_after_utc)
        .sign(ca.key, hashes.SHA384())
    )
    pki.leaf = Cert(evil.key, rebuilt)
    verify = verify_args(tmp_path, pki, make_doc(pki).encode())
    for args in (["attest", "decode", verify[2]], verify):
        out = _cli(capsys, *args)
        _assert_no_control_characters(out)
        assert "\\x1b[8m" in out


# ------------------------------------------------------------ expectations


@pytest.mark.parametrize(
    "extra",
    [
        ("--pcr", "1=" + "02" * 48),  # the document's own PCR1 is 02..02
        ("--pcr", "1=" + "ff" * 48, "--pcr", "1=" + "02" * 48),
        ("--role-arn", "arn:aws:iam::1:role/r", "--pcr", "3=" + "04" * 48),
    ],
)
def test_two_different_expectations_for_one_pcr_are_a_usage_error(pki, tmp_path, capsys, extra):
    # Before, the last one silently replaced the first, so a check the user asked for
    # was never made: with --pcr 1=ff.. --pcr 1=<the document's>, the document passed.
    from eifkit.cli import main

    args = verify_args(tmp_path, pki, make_doc(pki).encode())
    assert main(args + list(extra)) == (0 if len(extra) == 2 else 2)
    err = capsys.readouterr().err
    if len(extra) > 2:
        assert "two different expected values" in err and err.count("\n") == 1


@pytest.mark.parametrize("which", ["at", "now"])
def test_a_naive_time_is_refused_up_front(pki, which):
    # A naive datetime used to fail the chain as "a certificate does not parse:
    # TypeError(...)", or, with --max-age and at="doc", raise TypeError from the check.
    import datetime as dt

    naive = dt.datetime(2026, 3, 1, 12, 0, 0)
    kw = {"at": naive} if which == "at" else {"at": "doc", "now": naive}
    with pytest.raises(ValueError, match="timezone"):
        attest.verify(make_doc(pki).encode(), attest.Expectations(max_age_seconds=5), **kw)


# ------------------------------------------------------------------ --at times


@pytest.mark.parametrize(
    "at", ["0000-01-01T00:00:00Z", "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01"]
)
def test_an_at_time_outside_what_python_holds_is_a_usage_error(pki, tmp_path, capsys, at):
    from eifkit.cli import main

    path = tmp_path / "doc.cbor"
    path.write_bytes(make_doc(pki).encode())
    assert main(["attest", "verify", str(path), "--at", at, "--json"]) == 2
    assert "--at" in capsys.readouterr().err


def test_an_at_time_with_an_offset_is_reported_in_utc(pki):
    # 18:00+02:00 is 16:00Z, after the leaf's 15:00Z end; it was printed as 18:00:00Z.
    import datetime as dt

    at = dt.datetime(2026, 3, 1, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    result = attest.verify(make_doc(pki).encode(), root=pki.root.der, at=at)
    chain = next(c for c in result.checks if c.name == "chain")
    assert not chain.ok and chain.detail.endswith("not at 2026-03-01T16:00:00Z"), chain.detail
    assert result.at is not None and result.at.utcoffset() == dt.timedelta(0)


# ------------------------------------------------------------------ input forms


@pytest.mark.parametrize("encode", ["b64encode", "urlsafe_b64encode"])
def test_base64_of_a_tagged_document_is_not_taken_for_der(pki, encode):
    # base64 of d2 84 ... starts with "0o" (0x30): it was parsed as a DER certificate.
    import base64

    doc = make_doc(pki)
    doc.tagged = True
    text = getattr(base64, encode)(doc.encode())
    assert text[:1] == b"0"
    assert failed(text, pki) == []


@pytest.mark.parametrize("value", ["5", '["x"]', "null", "true"])
def test_a_pcr_json_value_that_is_not_text_is_a_usage_error(pki, tmp_path, capsys, value):
    # {"PCR0": "...", "PCR1": 5}: PCR1 was dropped without a word, so never checked.
    from eifkit.cli import main

    pcrs = tmp_path / "pcrs.json"
    pcrs.write_text(f'{{"PCR0": "{"01" * 48}", "PCR1": {value}}}')
    assert main([*verify_args(tmp_path, pki, make_doc(pki).encode()), "--pcrs", str(pcrs)]) == 2
    assert "PCR1" in capsys.readouterr().err


def test_a_root_file_with_two_certificates_is_a_usage_error(pki, tmp_path, capsys):
    # Only the first was trusted, silently: a bundle of roots gave a 'root' FAIL (or,
    # with the document's root first, a pass that ignored the rest of the file).
    from cryptography.hazmat.primitives.serialization import Encoding

    from eifkit.cli import main

    args = verify_args(tmp_path, pki, make_doc(pki).encode())
    roots = tmp_path / "roots.pem"
    other = make_pki().root.cert
    roots.write_bytes(other.public_bytes(Encoding.PEM) + pki.root.cert.public_bytes(Encoding.PEM))
    args[args.index("--root") + 1] = str(roots)
    assert main(args) == 2
    assert "2 certificates" in capsys.readouterr().err
