"""Signing and verification: AWS's encodings, independent verifiers, tamper cases."""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import re
import struct
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from eifkit import measure_image, read
from eifkit.cli import main
from eifkit.format import SECTION_HEADER_SIZE, SectionType
from eifkit.signing.cose import ES256, decode_cose_sign1, protected_header, sig_structure
from eifkit.signing.signers import LocalKeySigner, pcr0_payload
from eifkit.sigsection import (
    PcrSignature,
    decode_signature_section,
    encode_signature_section,
    load_certificate,
)
from eifkit.sources import read_small
from tests import naive
from tests.certs import NOW, build_args, make_cert
from tests.conftest import VECTORS, expected_pcrs, load_manifest

MANIFEST = load_manifest()
SIGNED = [n for n, c in MANIFEST.items() if "--private-key" in c["args"]]
INPUTS = VECTORS / "inputs"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def build_signed(tmp_path: Path, key: Path, cert: Path, name: str = "s.eif", *extra: str) -> Path:
    out = tmp_path / name
    args = ["build", "--kernel", str(INPUTS / "kernel.bin"), "--cmdline", "console=ttyS0"]
    args += ["--initrd", str(INPUTS / "ramdisk0.bin"), "--initrd", str(INPUTS / "ramdisk1.bin")]
    args += ["--build-time", "2025-01-01T00:00:00Z", "-o", str(out)]
    args += ["--signing-certificate", str(cert), "--private-key", str(key), *extra]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(args) == 0
    return out


def signature_entry(path: Path) -> PcrSignature:
    section = read(path).signature_section
    assert section is not None
    return decode_signature_section(read_small(section.source, 1 << 20, "signature"))[0]


# ------------------------------------------------------------------ AWS's vectors


@pytest.mark.parametrize("name", SIGNED)
def test_vectors_verify_and_pcr8_matches(name, capsys):
    curve = name.split("-")[1]
    code, out, _ = run(
        capsys,
        "verify",
        str(VECTORS / f"{name}.eif"),
        "--json",
        "--signing-certificate",
        str(INPUTS / f"cert-{curve}.pem"),
    )
    result = json.loads(out)
    assert code == 0 and result["Verified"] is True
    assert {c["Name"] for c in result["Checks"]} >= {"crc", "signature", "payload", "certificate"}
    assert result["Measurements"]["PCR8"] == expected_pcrs(MANIFEST[name])["PCR8"]


@pytest.mark.parametrize("name", SIGNED)
def test_reencoding_vector_signature_section_gives_its_bytes(name):
    section = read(VECTORS / f"{name}.eif").signature_section
    assert section is not None
    raw = read_small(section.source, 1 << 20, "signature")
    entries = decode_signature_section(raw)
    assert encode_signature_section(entries) == raw
    pem = (INPUTS / f"cert-{name.split('-')[1]}.pem").read_bytes()
    assert entries[0].signing_certificate == pem  # stored verbatim
    cose = decode_cose_sign1(entries[0].signature)
    assert cose.encode() == entries[0].signature
    assert entries[0].signature[0] == 0x84  # untagged array of 4


def test_protected_headers_are_awss_bytes():
    from eifkit.signing.cose import ES384, ES512

    assert protected_header(ES256) == bytes.fromhex("a10126")
    assert protected_header(ES384) == bytes.fromhex("a1013822")
    assert protected_header(ES512) == bytes.fromhex("a1013823")


# ------------------------------------------------------------------ our signatures


@pytest.mark.parametrize("curve", ["p256", "p384", "p521"])
def test_signed_build_verifies_independently(tmp_path, curve):
    key, cert = make_cert(tmp_path, curve, curve)
    eif = build_signed(tmp_path, key, cert)
    entry = signature_entry(eif)
    m = measure_image(read(eif))
    cose_list = cbor2.loads(entry.signature)
    protected, unprotected, payload, sig = cose_list
    assert unprotected == {}
    assert cbor2.loads(payload) == {"register_index": 0, "register_value": list(m.pcr0)}

    # 1. cryptography directly from raw r||s over the Sig_structure
    pub = load_certificate(cert.read_bytes()).public_key()
    n = len(sig) // 2
    der = encode_dss_signature(int.from_bytes(sig[:n], "big"), int.from_bytes(sig[n:], "big"))
    h = {"p256": hashes.SHA256(), "p384": hashes.SHA384(), "p521": hashes.SHA512()}[curve]
    tbs = cbor2.dumps(["Signature1", protected, b"", payload])
    pub.verify(der, tbs, ec.ECDSA(h))  # raises if invalid

    # 2. pycose, an independent COSE implementation
    from pycose.keys import EC2Key
    from pycose.messages import Sign1Message

    msg = Sign1Message.from_cose_obj(list(cose_list), True)
    msg.key = EC2Key.from_pem_public_key(
        pub.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
    )
    assert msg.verify_signature()

    # 3. PCR8 = extend(SHA384(cert DER))
    der_cert = load_certificate(cert.read_bytes()).public_bytes(serialization.Encoding.DER)
    assert m.pcr8.hex() == naive.pcr(der_cert)


def test_signed_builds_are_reproducible(tmp_path):
    key, cert = make_cert(tmp_path, "k")
    a = build_signed(tmp_path, key, cert, "a.eif")
    b = build_signed(tmp_path, key, cert, "b.eif")
    assert a.read_bytes() == b.read_bytes()


def test_key_not_matching_certificate_is_refused(tmp_path, capsys):
    key, _ = make_cert(tmp_path, "one")
    _, cert = make_cert(tmp_path, "two")
    code, _, err = run(capsys, *build_args(tmp_path / "o.eif", cert, "--private-key", str(key)))
    assert code == 2 and "does not belong to this certificate" in err
    assert not (tmp_path / "o.eif").exists()


def test_rsa_key_is_refused(tmp_path, capsys):
    from cryptography.hazmat.primitives.asymmetric import rsa

    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p = tmp_path / "rsa.pem"
    p.write_bytes(
        k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    _, cert = make_cert(tmp_path, "c")
    code, _, err = run(capsys, *build_args(tmp_path / "o.eif", cert, "--private-key", str(p)))
    assert code == 2 and "expected an EC private key" in err


# ------------------------------------------------------------------ sign / re-sign


def _table(path: Path) -> list[tuple[int, int]]:
    data = path.read_bytes()
    n = struct.unpack(">H", data[26:28])[0]
    offs = struct.unpack(">32Q", data[28:284])[:n]
    sizes = struct.unpack(">32Q", data[284:540])[:n]
    return list(zip(offs, sizes, strict=False))


def test_sign_verify_resign_with_another_key(tmp_path, capsys):
    src = VECTORS / "basic-x86_64.eif"
    k1, c1 = make_cert(tmp_path, "one", "p256")
    k2, c2 = make_cert(tmp_path, "two", "p521")
    one, two = tmp_path / "one.eif", tmp_path / "two.eif"
    assert (
        run(
            capsys,
            "sign",
            str(src),
            "--signing-certificate",
            str(c1),
            "--private-key",
            str(k1),
            "-o",
            str(one),
        )[0]
        == 0
    )
    original = src.read_bytes()
    signed1 = one.read_bytes()
    # every byte but the table entry, num_sections and CRC is unchanged; the section is appended
    assert signed1[548 : len(original)] == original[548:]
    assert _table(one)[:-1] == _table(src)
    assert _table(one)[-1] == (len(original), len(signed1) - len(original) - 12)
    assert naive.crc_of_file(signed1) == struct.unpack(">I", signed1[544:548])[0]
    assert run(capsys, "verify", str(one), "--signing-certificate", str(c1))[0] == 0

    assert (
        run(
            capsys,
            "sign",
            str(one),
            "--signing-certificate",
            str(c2),
            "--private-key",
            str(k2),
            "-o",
            str(two),
        )[0]
        == 0
    )
    signed2 = two.read_bytes()
    assert len(signed2) != len(signed1)  # P-521 signature and certificate are larger
    assert _table(two)[:-1] == _table(one)[:-1]
    off, size = _table(two)[-1]
    assert off == len(original) and off + 12 + size == len(signed2)
    assert struct.unpack(">HHQ", signed2[off : off + 12]) == (4, 0, size)
    assert naive.crc_of_file(signed2) == struct.unpack(">I", signed2[544:548])[0]
    assert run(capsys, "verify", str(two), "--signing-certificate", str(c2))[0] == 0
    code, out, _ = run(capsys, "verify", str(two), "--signing-certificate", str(c1))
    assert code == 1 and re.search(r"^expected-certificate\s+FAIL\s+signed by", out, re.M)
    # PCR0/1/2 are those of the unsigned image; PCR8 is the new certificate's
    m0, m2 = measure_image(read(src)), measure_image(read(two))
    assert (m0.pcr0, m0.pcr1, m0.pcr2) == (m2.pcr0, m2.pcr1, m2.pcr2)
    der2 = load_certificate(c2.read_bytes()).public_bytes(serialization.Encoding.DER)
    assert m2.pcr8.hex() == naive.pcr(der2)


def test_sign_in_place(tmp_path, capsys):
    k, c = make_cert(tmp_path, "k")
    img = tmp_path / "in.eif"
    img.write_bytes((VECTORS / "basic-x86_64.eif").read_bytes())
    assert (
        run(capsys, "sign", str(img), "--signing-certificate", str(c), "--private-key", str(k))[0]
        == 0
    )
    assert read(img).is_signed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.eif", "k-cert.pem", "k-key.pem"]


def test_sign_refuses_a_damaged_file(tmp_path, capsys):
    k, c = make_cert(tmp_path, "k")
    data = bytearray((VECTORS / "basic-x86_64.eif").read_bytes())
    data[-1] ^= 1
    bad = tmp_path / "bad.eif"
    bad.write_bytes(bytes(data))
    code, _, err = run(
        capsys, "sign", str(bad), "--signing-certificate", str(c), "--private-key", str(k)
    )
    assert code == 2 and "refusing to sign" in err and "CRC32" in err
    assert bad.read_bytes() == bytes(data)


# ------------------------------------------------------------------ detached signing


@pytest.mark.parametrize("form", ["der", "raw", "cose", "cose-tagged"])
def test_detached_signing(tmp_path, capsys, form):
    key_path, cert = make_cert(tmp_path, "hsm", "p384")
    src = VECTORS / "basic-x86_64.eif"
    tbs = tmp_path / "tbs.cbor"
    assert (
        run(capsys, "pcr0-payload", str(src), "--signing-certificate", str(cert), "-o", str(tbs))[0]
        == 0
    )
    pcr0 = measure_image(read(src)).pcr0
    assert tbs.read_bytes() == sig_structure(bytes.fromhex("a1013822"), pcr0_payload(pcr0))
    signer = LocalKeySigner.from_file(str(key_path))
    # what an HSM / openssl dgst -sha384 -sign would produce: DER over the file's bytes
    der = signer.key.sign(tbs.read_bytes(), ec.ECDSA(hashes.SHA384()))
    raw = signer.sign(tbs.read_bytes())
    body = [bytes.fromhex("a1013822"), {}, pcr0_payload(pcr0), raw]
    data = {
        "der": der,
        "raw": raw,
        "cose": cbor2.dumps(body),
        "cose-tagged": cbor2.dumps(cbor2.CBORTag(18, body)),
    }[form]
    sig = tmp_path / "sig.bin"
    sig.write_bytes(data)
    out = tmp_path / "signed.eif"
    assert (
        run(
            capsys,
            "sign",
            str(src),
            "--signing-certificate",
            str(cert),
            "--signature",
            str(sig),
            "-o",
            str(out),
        )[0]
        == 0
    )
    code, text, _ = run(capsys, "verify", str(out), "--signing-certificate", str(cert))
    assert code == 0, text


def test_detached_signature_over_other_bytes_is_refused(tmp_path, capsys):
    key_path, cert = make_cert(tmp_path, "hsm", "p384")
    signer = LocalKeySigner.from_file(str(key_path))
    sig = tmp_path / "sig.der"
    sig.write_bytes(signer.key.sign(b"something else", ec.ECDSA(hashes.SHA384())))
    out = tmp_path / "signed.eif"
    code, _, err = run(
        capsys,
        "sign",
        str(VECTORS / "basic-x86_64.eif"),
        "--signing-certificate",
        str(cert),
        "--signature",
        str(sig),
        "-o",
        str(out),
    )
    assert code == 2 and "does not verify" in err
    assert not out.exists()


# ------------------------------------------------------------------ tamper cases


def _with_signature_section(src: Path, dst: Path, section: bytes) -> Path:
    """Copy src replacing its signature section data (sizes and CRC fixed up)."""
    from eifkit import write
    from eifkit.signing.signers import attach_signature

    write(attach_signature(read(src), section), dst, layout="original", crc="compute")
    return dst


@pytest.fixture()
def signed(tmp_path):
    key, cert = make_cert(tmp_path, "main", "p384")
    eif = build_signed(tmp_path, key, cert)
    return eif, key, cert, signature_entry(eif)


def _verify(capsys, eif: Path, *extra: str) -> dict:
    code, out, _ = run(capsys, "verify", str(eif), "--json", *extra)
    result = json.loads(out)
    assert (code == 0) == result["Verified"]
    return {c["Name"]: (c["Ok"], c["Detail"]) for c in result["Checks"]}


def _tampered_cose(entry: PcrSignature, **change) -> bytes:
    p, u, pl, s = cbor2.loads(entry.signature)
    body = {"p": p, "u": u, "pl": pl, "s": s} | change
    return cbor2.dumps([body["p"], body["u"], body["pl"], body["s"]])


def test_tamper_flipped_pcr_byte_in_payload(tmp_path, capsys, signed):
    eif, _, _cert, entry = signed
    payload = cbor2.loads(cbor2.loads(entry.signature)[2])
    payload["register_value"][0] ^= 1
    cose = _tampered_cose(entry, pl=cbor2.dumps(payload))
    bad = _with_signature_section(
        eif,
        tmp_path / "t.eif",
        encode_signature_section([PcrSignature(entry.signing_certificate, cose)]),
    )
    checks = _verify(capsys, bad)
    assert checks["signature"][0] is False and "does not verify" in checks["signature"][1]
    assert checks["payload"][0] is False and "differs from this file's PCR0" in checks["payload"][1]


def test_tamper_validly_signed_wrong_pcr0(tmp_path, capsys, signed):
    eif, key, _, entry = signed
    signer = LocalKeySigner.from_file(str(key))
    from eifkit.signing.signers import sign_pcr0

    cose = sign_pcr0(b"\x00" * 48, signer).encode()
    bad = _with_signature_section(
        eif,
        tmp_path / "t.eif",
        encode_signature_section([PcrSignature(entry.signing_certificate, cose)]),
    )
    checks = _verify(capsys, bad)
    assert checks["signature"][0] is True
    assert checks["payload"] == (False, checks["payload"][1])
    assert "differs from this file's PCR0" in checks["payload"][1]


def test_tamper_flipped_signature_byte(tmp_path, capsys, signed):
    eif, _, _, entry = signed
    s = bytearray(cbor2.loads(entry.signature)[3])
    s[5] ^= 0x40
    cose = _tampered_cose(entry, s=bytes(s))
    bad = _with_signature_section(
        eif,
        tmp_path / "t.eif",
        encode_signature_section([PcrSignature(entry.signing_certificate, cose)]),
    )
    checks = _verify(capsys, bad)
    assert checks["signature"] == (
        False,
        "COSE signature does not verify with the certificate's key",
    )
    assert checks["payload"][0] is True


def test_tamper_swapped_certificate(tmp_path, capsys, signed):
    eif, _, _, entry = signed
    _, other = make_cert(tmp_path, "other", "p384")
    bad = _with_signature_section(
        eif,
        tmp_path / "t.eif",
        encode_signature_section([PcrSignature(other.read_bytes(), entry.signature)]),
    )
    checks = _verify(capsys, bad)
    assert checks["signature"] == (
        False,
        "COSE signature does not verify with the certificate's key",
    )
    m = measure_image(read(bad))
    der = load_certificate(other.read_bytes()).public_bytes(serialization.Encoding.DER)
    assert m.pcr8.hex() == naive.pcr(der)  # PCR8 follows the stored certificate


def test_tamper_alg_not_matching_curve(tmp_path, capsys, signed):
    eif, _, _, entry = signed
    cose = _tampered_cose(entry, p=protected_header(ES256))
    bad = _with_signature_section(
        eif,
        tmp_path / "t.eif",
        encode_signature_section([PcrSignature(entry.signing_certificate, cose)]),
    )
    checks = _verify(capsys, bad)
    assert checks["signature"][0] is False
    assert "COSE alg ES256 does not match the certificate's P-384 key" in checks["signature"][1]


def test_tamper_signature_section_not_cbor(tmp_path, capsys, signed):
    eif, _, _, _ = signed
    bad = _with_signature_section(eif, tmp_path / "t.eif", b"\xff\xfe not cbor")
    checks = _verify(capsys, bad)
    assert checks["signature"][0] is False and "not CBOR" in checks["signature"][1]
    code, out, _ = run(capsys, "describe", str(bad), "--json")
    assert code == 0 and json.loads(out)["SignatureCheck"] is False


def test_tamper_signature_section_over_32768_bytes(tmp_path, capsys, signed):
    eif, _, _, entry = signed
    big = encode_signature_section(
        [PcrSignature(entry.signing_certificate + b"#" * 20000, entry.signature)]
    )
    assert len(big) > 32768
    bad = _with_signature_section(eif, tmp_path / "t.eif", big)
    checks = _verify(capsys, bad)
    assert checks["structure"][0] is False and "at most 32768" in checks["structure"][1]


def test_certificate_bytes_as_cbor_byte_string_are_refused(tmp_path, capsys, signed):
    eif, _, _, entry = signed
    section = cbor2.dumps(
        [{"signing_certificate": entry.signing_certificate, "signature": list(entry.signature)}]
    )
    bad = _with_signature_section(eif, tmp_path / "t.eif", section)
    checks = _verify(capsys, bad)
    assert checks["signature"][0] is False
    assert "expected a CBOR array of 8-bit unsigned integers" in checks["signature"][1]


@pytest.mark.parametrize("when, word", [("expired", "expired at"), ("future", "not yet valid at")])
def test_certificate_validity_window(tmp_path, capsys, when, word):
    day = datetime.timedelta(days=1)
    if when == "expired":
        key, cert = make_cert(tmp_path, "old", not_before=NOW - 30 * day, not_after=NOW - day)
    else:
        key, cert = make_cert(tmp_path, "new", not_before=NOW + day, not_after=NOW + 30 * day)
    eif = build_signed(tmp_path, key, cert)
    checks = _verify(capsys, eif)
    assert checks["certificate"][0] is False and word in checks["certificate"][1]
    assert checks["signature"][0] is True
    # --at inside the window passes
    inside = (NOW - 2 * day if when == "expired" else NOW + 2 * day).isoformat()
    assert _verify(capsys, eif, "--at", inside)["certificate"][0] is True


def test_expected_pcr_values(tmp_path, capsys, signed):
    eif, _, _, _ = signed
    m = measure_image(read(eif))
    pcrs = tmp_path / "pcrs.json"
    pcrs.write_text(json.dumps({"Measurements": m.as_dict()}))
    assert run(capsys, "verify", str(eif), "--pcrs", str(pcrs))[0] == 0
    assert run(capsys, "verify", str(eif), "--pcr0", m.pcr0.hex().upper())[0] == 0
    code, out, _ = run(capsys, "verify", str(eif), "--pcr2", "00" * 48)
    assert code == 1 and re.search(r"^pcr2\s+FAIL\s+is [0-9a-f]{96}, expected 0{96}$", out, re.M)
    code, _, err = run(capsys, "verify", str(eif), "--pcr1", "xyz")
    assert code == 2 and "not a hex" in err


def test_unsigned_image_and_required_signature(capsys):
    src = str(VECTORS / "basic-x86_64.eif")
    assert run(capsys, "verify", src)[0] == 0
    code, out, _ = run(capsys, "verify", src, "--require-signature")
    assert code == 1 and "image is not signed" in out


def test_describe_signing_certificate_format(capsys):
    code, out, _ = run(capsys, "describe", str(VECTORS / "signed-p256.eif"), "--json")
    assert code == 0
    info = json.loads(out)["SigningCertificate"]
    cert = load_certificate((INPUTS / "cert-p256.pem").read_bytes())
    assert info["Signature"] == ":".join(f"{b:02X}" for b in cert.signature)
    assert info["Algorithm"] == "ecdsa-with-SHA256"
    nb = cert.not_valid_before_utc
    assert info["NotBefore"] == f"{nb:%b} {nb.day:2d} {nb:%H:%M:%S} {nb.year} GMT"
    assert info["IssuerName"]["commonName"] == "eifkit vector p256"


# ------------------------------------------------------------- sign in one pass


def _two_pass_sign(src: Path, dst: Path, key: Path, cert: Path) -> None:
    """The reference: measure the whole file first, then attach and write."""
    from eifkit.resign import sign_image
    from eifkit.writer import write

    image = read(src)
    signer = LocalKeySigner.from_file(str(key))
    signed = sign_image(image, measure_image(image), str(cert), signer=signer)
    write(signed, dst, layout="original", crc="compute")


@pytest.mark.parametrize("vector", ["basic-x86_64.eif", "signed-p384.eif"])
def test_sign_reads_the_file_once_and_equals_the_two_pass_result(
    tmp_path, capsys, monkeypatch, vector
):
    import eifkit.cli.common as common

    src = VECTORS / vector
    k, c = make_cert(tmp_path, "k")

    def no_second_pass(*args, **kwargs):
        raise AssertionError("sign measured the file before writing it")

    monkeypatch.setattr(common, "measure", no_second_pass)
    out = tmp_path / "one-pass.eif"
    code, _, err = run(
        capsys, "sign", str(src), "--signing-certificate", str(c), "--private-key", str(k),
        "-o", str(out),
    )  # fmt: skip
    assert code == 0, err
    monkeypatch.undo()
    reference = tmp_path / "two-pass.eif"
    _two_pass_sign(src, reference, k, c)
    assert out.read_bytes() == reference.read_bytes()


@pytest.mark.parametrize("where", ["kernel", "old signature section"])
def test_resigning_a_damaged_signed_file_is_refused(tmp_path, capsys, where):
    k, c = make_cert(tmp_path, "k")
    signed = build_signed(tmp_path, k, c)
    data = bytearray(signed.read_bytes())
    image = read(signed)
    kind = SectionType.KERNEL if where == "kernel" else SectionType.SIGNATURE
    section = next(s for s in image.sections if s.type == kind)
    at = section.offset + SECTION_HEADER_SIZE + 5
    data[at] ^= 1
    bad = tmp_path / "bad.eif"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out.eif"
    code, _, err = run(
        capsys, "sign", str(bad), "--signing-certificate", str(c), "--private-key", str(k),
        "-o", str(out),
    )  # fmt: skip
    assert code == 2 and "refusing to sign: stored CRC32" in err, err
    assert not out.exists() and bad.read_bytes() == bytes(data)
