"""eifkit attest against the real AWS documents in ../shared/vectors/attestation: the
decoded fields equal the manifest's (decoded there with other tools), the verdicts equal
the manifest's (checked there with OpenSSL) and Evervault's spec files."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import cbor2
import pytest

from eifkit import attest
from eifkit.attest.inputform import cose_bytes
from tests.attest_pki import SIGNED_CHECKS

SHARED = Path(os.environ.get("EIFKIT_SHARED", Path(__file__).resolve().parents[2] / "shared"))
ATTESTATION = SHARED / "vectors" / "attestation"


def attestation_manifest() -> dict:
    return json.loads((ATTESTATION / "manifest.json").read_text())


def documents() -> list[str]:
    path = ATTESTATION / "manifest.json"
    return sorted(json.loads(path.read_text())["documents"]) if path.is_file() else []


def doc_bytes(name: str) -> bytes:
    return (ATTESTATION / attestation_manifest()["documents"][name]["file"]).read_bytes()


def eifkit(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eifkit", *args],
        capture_output=True,
        text=stdin is None,
        input=stdin,
        timeout=120,
    )


def test_shipped_root_is_the_aws_root_of_the_vectors():
    shipped = attest.aws_nitro_root()
    assert hashlib.sha256(shipped).hexdigest() == attest.AWS_ROOT_SHA256
    assert shipped == (ATTESTATION / "aws-nitro-root-g1.der").read_bytes()
    assert attest.load_root_file(str(ATTESTATION / "aws-nitro-root-g1.pem")) == shipped


@pytest.mark.parametrize("name", documents())
def test_decoded_fields_equal_the_manifest(name):
    want = attestation_manifest()["documents"][name]
    cose, form = cose_bytes(doc_bytes(name))
    assert hashlib.sha256(cose).hexdigest() == want["cose_sha256"]
    assert form.replace("-certificate", "-cert") == want["format"]
    doc = attest.decode(doc_bytes(name))
    assert doc.module_id == want["module_id"]
    assert doc.digest == want["digest"]
    assert doc.timestamp_ms == want["timestamp_ms"]
    assert doc.tagged == want["cose_tagged"]
    assert doc.protected.hex() == want["protected_header_hex"]
    assert len(doc.pcrs) == want["pcr_count"]
    for key, value in want["pcrs"].items():
        assert doc.pcrs[int(key[3:])].hex() == value
    assert doc.debug_mode == want["debug_mode"]
    for field in ("public_key", "user_data", "nonce"):
        got = getattr(doc, field)
        assert (None if got is None else got.hex()) == want[field]
    assert len(doc.cabundle) == want["cabundle_len"]
    assert doc.emulated_unsigned is False


@pytest.mark.parametrize("name", documents())
def test_verdicts_equal_the_manifest(name):
    want = attestation_manifest()["documents"][name]
    data = doc_bytes(name)
    at_doc = attest.verify(data, at="doc", allow_debug=True)
    assert at_doc.verified == (want["expect"]["verdict_at_doc_time"] == "pass")
    now = attest.verify(data, at="now", allow_debug=True)
    assert [c.name for c in now.checks if not c.ok] == want["expect"]["failed_now"]
    strict = attest.verify(data, at="doc")
    failed = [c.name for c in strict.checks if not c.ok]
    assert failed == (["debug-mode"] if want["debug_mode"] else [])


@pytest.mark.parametrize("name", documents())
def test_pcr4_from_the_instance_id_matches_as_the_manifest_says(name):
    want = attestation_manifest()["documents"][name]
    expect = attest.Expectations(pcrs={4: attest.pcr_of_text(want["instance_id"])})
    result = attest.verify(doc_bytes(name), expect, at="doc", allow_debug=True)
    pcr4 = next(c for c in result.checks if c.name == "pcr4")
    assert pcr4.ok == want["pcr4_matches_instance_id"]


def _spec_cases() -> list[dict]:
    path = ATTESTATION / "manifest.json"
    return json.loads(path.read_text())["evervault_specs"]["results"] if path.is_file() else []


@pytest.mark.parametrize("case", _spec_cases(), ids=lambda c: Path(c["spec"]).stem)
def test_evervault_specs(case):
    spec = json.loads((ATTESTATION / case["spec"]).read_text())
    data = (ATTESTATION / case["document"]).read_bytes()
    args = ["attest", "verify", "--at", "doc", "--allow-debug", str(ATTESTATION / case["document"])]
    hex_pcrs = {
        int(k[3:]): v for k, v in spec["pcrs"].items() if all(c in "0123456789abcdef" for c in v)
    }
    if len(hex_pcrs) < len(spec["pcrs"]):
        # Evervault's "incorrect" PCR strings are not hex: eifkit refuses them as input.
        bad = next(f"{k[3:]}={v}" for k, v in spec["pcrs"].items() if int(k[3:]) not in hex_pcrs)
        assert eifkit(*args, "--pcr", bad).returncode == 2
        assert not case["shouldPcrsMatch"]
        return
    expect = attest.Expectations(pcrs={k: bytes.fromhex(v) for k, v in hex_pcrs.items()})
    result = attest.verify(data, expect, at="doc", allow_debug=True)
    assert result.verified == (case["isAttestationDocValid"] and case["shouldPcrsMatch"])
    r = eifkit(*args, *(f"--pcr={k}={v}" for k, v in hex_pcrs.items()))
    assert r.returncode == (0 if result.verified else 1), r.stdout + r.stderr


def test_every_input_form_gives_the_same_document():
    name = "evervault-beta-valid-bytes"
    raw = doc_bytes(name)
    b64 = base64.b64encode(raw)
    forms = {
        "cbor": raw,
        "hex": raw.hex().upper().encode(),
        "base64": b64[:100] + b"\n" + b64[100:] + b"\n",
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "json": json.dumps({"document": raw.hex()}).encode(),
        "tagged": cbor2.dumps(cbor2.CBORTag(18, cbor2.loads(raw))),
    }
    for form, data in forms.items():
        doc = attest.decode(data)
        assert doc.payload == attest.decode(raw).payload, form
        assert attest.verify(data, at="doc").verified, form
    assert attest.decode(forms["tagged"]).tagged


def test_pem_and_der_certificates_carry_the_same_document():
    pem = doc_bytes("evervault-beta-non-debug-in-cert-pem")
    der = doc_bytes("evervault-beta-non-debug-in-cert-der")
    assert attest.decode(pem) == attest.decode(der)


def test_trailing_bytes_are_refused():
    raw = doc_bytes("evervault-beta-valid-bytes")
    result = attest.verify(raw + b"\x00", at="doc")
    assert not result.verified
    assert result.checks[0].name == "structure" and "1 bytes follow" in result.checks[0].detail


# ------------------------------------------------------------------------ the CLI


def test_cli_verify_at_doc_and_now():
    path = str(ATTESTATION / "sparsity" / "attestation_2.report")
    ok = eifkit("attest", "verify", "--at", "doc", path)
    assert ok.returncode == 0 and ok.stdout.rstrip().endswith(": verified"), ok.stdout
    now = eifkit("attest", "verify", path)
    assert now.returncode == 1 and "NOT verified" in now.stdout
    assert "chain" in next(line for line in now.stdout.splitlines() if "FAIL" in line)


def test_cli_json_has_verify_shape_and_the_document():
    path = str(ATTESTATION / "sparsity" / "attestation_2.report")
    r = eifkit("attest", "verify", "--at", "doc", "--json", path)
    out = json.loads(r.stdout)
    assert out["Verified"] is True and out["Unsigned"] is False
    assert [c["Name"] for c in out["Checks"]] == SIGNED_CHECKS
    assert out["Document"]["ModuleId"] == attest.decode(Path(path).read_bytes()).module_id


def test_cli_reads_stdin_and_decodes_as_json():
    raw = doc_bytes("sparsity-attestation-1")
    r = eifkit("attest", "decode", "--json", "-", stdin=base64.b64encode(raw))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    want = attestation_manifest()["documents"]["sparsity-attestation-1"]
    assert out["TimestampMs"] == want["timestamp_ms"]
    assert out["UserData"]["Hex"] == want["user_data"]
    assert out["DebugMode"] is True
    assert out["CaBundle"][0]["Note"] == "the AWS Nitro Enclaves root G1"


def test_cli_decode_text_names_every_pcr_and_certificate():
    r = eifkit("attest", "decode", str(ATTESTATION / "sparsity" / "attestation_2.report"))
    assert r.returncode == 0
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert [n for n in names if n.startswith("PCR")] == [f"PCR{i}" for i in range(16)]
    assert sum(n.startswith("cabundle[") for n in names) == 4


@pytest.mark.parametrize(
    "extra",
    [["--pcr", "3=zz"], ["--pcr", "40=" + "00" * 48], ["--nonce", "xyz"], ["--at", "yesterday"]],
)
def test_cli_bad_options_are_exit_2(extra):
    path = str(ATTESTATION / "sparsity" / "attestation_2.report")
    r = eifkit("attest", "verify", path, *extra)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_cli_not_a_document_is_one_line_exit_2_for_decode(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"hello world")
    r = eifkit("attest", "decode", str(bad))
    assert r.returncode == 2 and str(bad) in r.stderr and r.stderr.count("\n") == 1
    missing = eifkit("attest", "verify", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "not found" in missing.stderr


# ------------------------------------------------- QEMU's emulated NSM (recorded)

QEMU_DOC = Path(__file__).parent / "data" / "attestation" / "qemu-nsm-attestation.hex"
QEMU_ROLE = "arn:aws:iam::123456789012:role/eifkit-test"
QEMU_INSTANCE = "i-0123456789abcdef0"


def test_recorded_qemu_document_is_unsigned_and_carries_pcr3_pcr4():
    data = QEMU_DOC.read_bytes()
    doc = attest.decode(data)
    assert doc.emulated_unsigned and doc.protected_header == {1: -1}
    assert doc.module_id == "i-234-enc5678" and doc.nonce is None
    strict = attest.verify(data)
    assert {c.name for c in strict.checks if not c.ok} == {"cose-header", "signature", "chain"}
    expect = attest.Expectations(
        pcrs={3: attest.pcr_of_text(QEMU_ROLE), 4: attest.pcr_of_text(QEMU_INSTANCE)}
    )
    result = attest.verify(data, expect, allow_unsigned=True)
    assert result.verified and result.unsigned
    wrong = attest.Expectations(pcrs={4: attest.pcr_of_text("i-00000000000000000")})
    assert [c.name for c in attest.verify(data, wrong, allow_unsigned=True).checks if not c.ok] == [
        "pcr4"
    ]
