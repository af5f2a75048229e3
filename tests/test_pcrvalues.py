"""PCR values outside an EIF, signing an existing EIF, describe's signature fields."""

from __future__ import annotations

import json

import pytest

from eifkit import InputError, measure_image, read
from eifkit.measure import pcr_of_bytes
from eifkit.pcrvalues import expected_pcrs, kms_policy, pcr_of_certificate_file, pcr_of_file
from eifkit.report import signature_fields
from eifkit.resign import sign_image
from eifkit.signing.signers import LocalKeySigner
from tests import naive
from tests.conftest import VECTORS, load_manifest
from tests.conftest import expected_pcrs as printed_pcrs

INPUTS = VECTORS / "inputs"
H384 = "ab" * 48


def test_pcr_of_file_and_of_a_certificate():
    data = (INPUTS / "ramdisk1.bin").read_bytes()
    assert pcr_of_file(str(INPUTS / "ramdisk1.bin")).hex() == naive.pcr(data)
    signed = printed_pcrs(load_manifest()["signed-p384"])
    assert pcr_of_certificate_file(str(INPUTS / "cert-p384.pem")).hex() == signed["PCR8"]
    assert pcr_of_file(str(INPUTS / "ramdisk1.bin"), "sha256") == pcr_of_bytes(data, "sha256")


def test_expected_pcrs_from_a_file_with_values_given_on_top(tmp_path):
    f = tmp_path / "pcrs.json"
    f.write_text(json.dumps({"Measurements": {"HashAlgorithm": "x", "PCR0": H384, "PCR1": H384}}))
    got = expected_pcrs(str(f), {"PCR1": "cd" * 48, "PCR2": None})
    assert got == {"PCR0": H384, "PCR1": "cd" * 48}
    assert expected_pcrs(None, {"PCR8": "ef" * 32}) == {"PCR8": "ef" * 32}
    with pytest.raises(InputError, match="PCR0 'abc' is not a hex SHA-256/384/512 value"):
        expected_pcrs(None, {"PCR0": "abc"})
    f.write_text(json.dumps({"Name": "x"}))
    with pytest.raises(InputError, match=r"no PCR0\.\.PCR8 values found"):
        expected_pcrs(str(f), {})
    f.write_text("[1]")
    with pytest.raises(InputError, match="expected a JSON object of PCR values"):
        expected_pcrs(str(f), {})
    f.write_bytes(b" " * ((1 << 20) + 1))
    with pytest.raises(InputError, match="at most 1048576 allowed") as e:
        expected_pcrs(str(f), {})
    assert e.value.path == str(f)


def test_kms_policy_orders_pcrs_numerically_and_takes_sha384_only():
    values = {"HashAlgorithm": "Sha384 { ... }", "PCR10": "a", "PCR2": "b", "PCR": "c"}
    policy = kms_policy(values, "sha384")
    cond = policy["Condition"]["StringEqualsIgnoreCase"]
    assert list(cond.items()) == [
        ("kms:RecipientAttestation:PCR2", "b"),
        ("kms:RecipientAttestation:PCR10", "a"),
    ]
    with pytest.raises(InputError, match="SHA-384"):
        kms_policy(values, "sha256")
    with pytest.raises(InputError, match="needs PCR values"):
        kms_policy({"PCR": "c"}, "sha384")


def test_signature_fields():
    unsigned = read(VECTORS / "basic-x86_64.eif")
    assert signature_fields(unsigned, measure_image(unsigned)) == {}
    signed = read(VECTORS / "signed-p256.eif")
    fields = signature_fields(signed, measure_image(signed))
    assert fields["signature_check"] is True
    cert = fields["certificate"]
    assert cert["IssuerName"]["commonName"] == "eifkit vector p256"
    assert cert["Algorithm"] == "ecdsa-with-SHA256" and cert["NotAfter"].endswith("2126 GMT")


def test_sign_image_signs_and_refuses_a_damaged_file(tmp_path):
    image = read(VECTORS / "basic-x86_64.eif")
    m = measure_image(image)
    signer = LocalKeySigner.from_file(str(INPUTS / "key-p384.pem"))
    signed = sign_image(image, m, str(INPUTS / "cert-p384.pem"), signer=signer)
    assert signed.is_signed and not image.is_signed
    data = bytearray((VECTORS / "basic-x86_64.eif").read_bytes())
    data[-1] ^= 1
    bad = tmp_path / "bad.eif"
    bad.write_bytes(bytes(data))
    damaged = read(bad)
    with pytest.raises(InputError, match="refusing to sign: stored CRC32") as e:
        sign_image(damaged, measure_image(damaged), "unused", signer=signer, path=str(bad))
    assert e.value.path == str(bad)
    with pytest.raises(InputError, match="needs a private key, a KMS key or a signature file"):
        sign_image(image, m, str(INPUTS / "cert-p384.pem"))
