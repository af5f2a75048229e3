"""End to end in a real loader: examples/attest booted in QEMU's nitro-enclave machine asks
its emulated NSM for an attestation document, and `eifkit attest verify` judges it.

The document is captured once per module (a TCG boot takes a while) from an EIF built
from the example with a known cmdline, on a machine with a known parent role and
instance id. Besides the CLI's verdicts, the PCRs in the document are checked here with
a few lines of cbor2 against `eifkit pcr` and against SHA-384 computed directly.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cbor2
import pytest

from tests.conftest import ROOT
from tests.nsm_boot import (
    QEMU,
    VSOCK,
    NoAttestation,
    boot_and_capture,
    document_from_console,
    machine_option,
)

ATTEST = ROOT / "examples" / "attest"
CMDLINE = "console=ttyS0 reboot=k panic=-1"
OTHER_CMDLINE = CMDLINE + " eifkit.other=1"
ROLE_ARN = "arn:aws:iam::123456789012:role/eifkit-test"
INSTANCE_ID = "i-0123456789abcdef0"

needs_qemu = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        not (QEMU.is_file() and VSOCK.is_file()),
        reason=f"no QEMU nitro-enclave machine at {QEMU} (run ../shared/tools/get-qemu-nitro.sh)",
    ),
]


def eifkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eifkit", *args], capture_output=True, text=True, timeout=300
    )


def build(out: Path, cmdline: str, kernel: Path = ATTEST / "bzImage") -> Path:
    r = eifkit(
        "build", "--kernel", str(kernel), "--initrd", str(ATTEST / "init.cpio"),
        "--cmdline", cmdline, "--build-time", "2025-01-01T00:00:00Z", "-o", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def eifs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A.eif (booted) and B.eif (the same example with another cmdline)."""
    tmp = tmp_path_factory.mktemp("attest")
    return build(tmp / "A.eif", CMDLINE), build(tmp / "B.eif", OTHER_CMDLINE)


@pytest.fixture(scope="module")
def document_file(eifs: tuple[Path, Path]) -> Path:
    """The document QEMU's NSM gave A.eif's init, as raw bytes in a file."""
    document = boot_and_capture(eifs[0], parent_role=ROLE_ARN, parent_id=INSTANCE_ID)
    out = eifs[0].parent / "document.bin"
    out.write_bytes(document)
    return out


def verify(document_file: Path, eif: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return eifkit("attest", "verify", "--eif", str(eif), *extra, str(document_file))


def test_init_sends_the_all_null_attestation_request() -> None:
    request = cbor2.dumps({"Attestation": {"user_data": None, "nonce": None, "public_key": None}})
    assert len(request) == 44
    binary = (ATTEST / "init").read_bytes()
    assert request in binary
    # and it recognises the reply up to the document's byte-string header
    reply_prefix = cbor2.dumps({"Attestation": {"document": b""}})[:-1]
    assert reply_prefix in binary


def cose_payload(document: bytes) -> dict:
    """The payload map of a COSE_Sign1 document (tag 18 optional), read with cbor2 alone."""
    cose = cbor2.loads(document)
    if isinstance(cose, cbor2.CBORTag):
        assert cose.tag == 18
        cose = cose.value
    assert isinstance(cose, list) and len(cose) == 4
    protected, _unprotected, payload, signature = cose
    assert isinstance(protected, bytes) and isinstance(payload, bytes)
    assert isinstance(signature, bytes)
    decoded = cbor2.loads(payload)
    assert isinstance(decoded, dict)
    return decoded


def extended_from_zeros(text: str) -> bytes:
    return hashlib.sha384(bytes(48) + text.encode("ascii")).digest()


def pcrs_of(eif: Path) -> dict[int, bytes]:
    r = eifkit("pcr", "--json", str(eif))
    assert r.returncode == 0, r.stderr
    printed = json.loads(r.stdout)
    return {index: bytes.fromhex(printed[f"PCR{index}"]) for index in (0, 1, 2)}


def assert_pcrs_are_the_eifs_and_the_parents(document: bytes, eif: Path) -> None:
    pcrs = cose_payload(document)["pcrs"]
    assert {index: pcrs[index] for index in (0, 1, 2)} == pcrs_of(eif)
    assert pcrs[3] == extended_from_zeros(ROLE_ARN)
    assert pcrs[4] == extended_from_zeros(INSTANCE_ID)


def test_committed_document_is_from_this_example(eifs):
    """tests/data/attestation/README.md's provenance stays true while the example is unchanged."""
    committed = ROOT / "tests" / "data" / "attestation" / "qemu-nsm-attestation.hex"
    assert_pcrs_are_the_eifs_and_the_parents(bytes.fromhex(committed.read_text()), eifs[0])


def test_console_line_is_read_whole_and_errors_are_named():
    console = b"[    0.5] Run /init\r\nNSM-ATTESTATION 84a0ff\r\neifkit attest: done\r\n"
    assert document_from_console(console) == bytes.fromhex("84a0ff")
    with pytest.raises(NoAttestation, match="NSM-ERROR ioctl NSM_IOCTL_RAW: errno 5"):
        document_from_console(b"NSM-ERROR ioctl NSM_IOCTL_RAW: errno 5\n")
    with pytest.raises(NoAttestation, match="odd number of hex digits"):
        document_from_console(b"NSM-ATTESTATION 84a\n")  # odd length, not a document
    with pytest.raises(NoAttestation, match="2 attestation lines"):
        document_from_console(b"NSM-ATTESTATION 84\nNSM-ATTESTATION 84\n")
    with pytest.raises(NoAttestation, match="0 attestation lines"):
        document_from_console(b"NSM-ATTESTATION 84 [ 0.6] random: crng init done\n")


def test_machine_option():
    assert machine_option(None, None) == "nitro-enclave,vsock=c0"
    assert machine_option(ROLE_ARN, INSTANCE_ID) == (
        f"nitro-enclave,vsock=c0,parent-role={ROLE_ARN},parent-id={INSTANCE_ID}"
    )
    with pytest.raises(ValueError, match="comma"):
        machine_option("a,b", None)


class TestBootedInQemu:
    pytestmark = needs_qemu

    def test_verifies_against_the_eif_it_booted(self, eifs, document_file):
        r = verify(document_file, eifs[0], "--allow-unsigned")
        assert r.returncode == 0, r.stdout + r.stderr

    def test_fails_against_an_eif_with_another_cmdline(self, eifs, document_file):
        r = verify(document_file, eifs[1], "--allow-unsigned")
        assert r.returncode == 1, r.stdout + r.stderr

    def test_parent_role_and_instance_id_match_pcr3_and_pcr4(self, eifs, document_file):
        parent = ("--role-arn", ROLE_ARN, "--instance-id", INSTANCE_ID)
        r = verify(document_file, eifs[0], "--allow-unsigned", *parent)
        assert r.returncode == 0, r.stdout + r.stderr

    def test_another_role_arn_fails(self, eifs, document_file):
        other = ("--role-arn", ROLE_ARN + "-other", "--instance-id", INSTANCE_ID)
        r = verify(document_file, eifs[0], "--allow-unsigned", *other)
        assert r.returncode == 1, r.stdout + r.stderr

    def test_unsigned_document_fails_without_allow_unsigned(self, eifs, document_file):
        r = verify(document_file, eifs[0])
        assert r.returncode == 1, r.stdout + r.stderr

    def test_json_verdict(self, eifs, document_file):
        r = verify(document_file, eifs[0], "--allow-unsigned", "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout)["Verified"] is True
        r = verify(document_file, eifs[1], "--allow-unsigned", "--json")
        assert r.returncode == 1, r.stdout + r.stderr
        assert json.loads(r.stdout)["Verified"] is False

    def test_document_pcrs_are_the_eifs_and_the_parents(self, eifs, document_file):
        assert_pcrs_are_the_eifs_and_the_parents(document_file.read_bytes(), eifs[0])

    def test_kernel_without_nsm_driver_gives_the_inits_error_and_leaves_nothing(self, eifs):
        hello_kernel = ROOT / "examples" / "hello" / "bzImage"  # Linux 6.1: no CONFIG_NSM
        eif = build(eifs[0].parent / "no-nsm.eif", CMDLINE, kernel=hello_kernel)
        before = set(Path(tempfile.gettempdir()).glob("eifkit-nsm-boot.*"))
        with pytest.raises(NoAttestation, match=r"NSM-ERROR open /dev/nsm .*errno 2"):
            boot_and_capture(eif)
        assert set(Path(tempfile.gettempdir()).glob("eifkit-nsm-boot.*")) == before
