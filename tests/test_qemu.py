"""The real loader: QEMU's nitro-enclave machine (hw/core/eif.c) on eifkit's EIFs.

Needs QEMU built by ../shared/tools/get-qemu-nitro.sh (or $EIF_QEMU); .ci/run builds
it first. Skipped, with the reason shown, only where no such QEMU exists.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from eifkit import BuildInputs, make_image, measure_image, read, write
from eifkit.format import SectionType
from eifkit.image import EifImage, Filler, Section
from eifkit.sources import BytesSource, FileSource
from tests.conftest import ROOT, SHARED, VECTORS

QEMU = Path(os.environ.get("EIF_QEMU", "/opt/eif-qemu/bin/qemu-system-x86_64"))
CHECK = SHARED / "tools" / "qemu-eif-check"

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        not (QEMU.is_file() and CHECK.is_file()),
        reason=f"no QEMU nitro-enclave loader at {QEMU} (run ../shared/tools/get-qemu-nitro.sh)",
    ),
]


def qemu_check(eif: Path, *mode: str) -> tuple[int, str]:
    r = subprocess.run([str(CHECK), *mode, str(eif)], capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


def qemu_pcrs(eif: Path) -> dict[str, str]:
    if shutil.which("gdb") is None:
        pytest.fail("gdb is needed to read QEMU's PCRs (apt-get install gdb)")
    rc, out = qemu_check(eif, "--pcrs")
    assert rc == 0, out
    return {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith("PCR")}


@pytest.fixture(scope="module")
def kernel() -> Path:
    from tests.realkernel import fetch

    try:
        return fetch()
    except Exception as e:
        pytest.fail(f"could not get Debian's x86_64 kernel: {e}")


def _build(tmp: Path, kernel: Path, ramdisks: list[str], name: str, **kw) -> Path:
    out = tmp / f"{name}.eif"
    write(
        make_image(
            BuildInputs(
                kernel=str(kernel),
                ramdisks=ramdisks,
                cmdline="console=ttyS0",
                build_time="2025-01-01T00:00:00+00:00",
                **kw,
            )
        ),
        out,
    )
    return out


RD = [str(VECTORS / "inputs" / f"ramdisk{i}.bin") for i in range(3)]


@pytest.mark.parametrize("n_ramdisks", [1, 2, 3])
def test_real_kernel_eif_is_accepted_and_qemu_pcrs_equal_ours(tmp_path, kernel, n_ramdisks):
    eif = _build(
        tmp_path,
        kernel,
        RD[:n_ramdisks],
        f"r{n_ramdisks}",
        custom_metadata={"n": n_ramdisks} if n_ramdisks == 3 else None,
    )
    rc, out = qemu_check(eif)
    assert (rc, out.strip()) == (0, "ACCEPTED")
    ours = measure_image(read(eif))
    theirs = qemu_pcrs(eif)
    assert theirs["PCR0"] == ours.pcr0.hex()
    assert theirs["PCR1"] == ours.pcr1.hex()
    assert theirs["PCR2"] == ours.pcr2.hex()
    assert theirs["PCR8"] == "00" * 48


def test_odd_layout_is_accepted_and_measured_in_table_order(tmp_path, kernel):
    """Gap, table order != file order, unknown type, no metadata, trailing bytes."""
    ksize = kernel.stat().st_size
    koff = 548 + 100
    cmd = b"console=ttyS0"
    roff = koff + 12 + ksize + 7
    rsize = Path(RD[1]).stat().st_size
    r0off = roff + 12 + rsize
    r0size = Path(RD[0]).stat().st_size
    xoff = r0off + 12 + r0size
    coff = xoff + 12 + 5
    end = coff + 12 + len(cmd)
    image = EifImage(
        sections=(
            Section(SectionType.CMDLINE, BytesSource(cmd), 0, coff),
            Section(SectionType.RAMDISK, FileSource.open(RD[0], "ramdisk"), 0, r0off),
            Section(SectionType.KERNEL, FileSource.open(str(kernel), "kernel"), 0, koff),
            Section(9, BytesSource(b"extra"), 0, xoff),
            Section(SectionType.RAMDISK, FileSource.open(RD[1], "ramdisk"), 0, roff),
        ),
        fillers=(
            Filler(548, BytesSource(b"\x55" * 100)),
            Filler(koff + 12 + ksize, BytesSource(b"\0" * 7)),
            Filler(end, BytesSource(b"trailing")),
        ),
    )
    eif = tmp_path / "odd.eif"
    write(image, eif, layout="original", crc="compute")
    rc, out = qemu_check(eif)
    assert (rc, out.strip()) == (0, "ACCEPTED")
    ours = measure_image(read(eif, strict=False))
    theirs = qemu_pcrs(eif)
    assert (theirs["PCR0"], theirs["PCR1"], theirs["PCR2"]) == (
        ours.pcr0.hex(),
        ours.pcr1.hex(),
        ours.pcr2.hex(),
    )


def test_cli_built_eif_matches_qemu(tmp_path, kernel):
    from eifkit.cli import main

    out = tmp_path / "cli.eif"
    assert (
        main(
            [
                "build",
                "--kernel",
                str(kernel),
                "--initrd",
                RD[0],
                "--initrd",
                RD[1],
                "--cmdline",
                "console=ttyS0 reboot=k",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    theirs = qemu_pcrs(out)
    r = subprocess.run(["eifkit", "describe", str(out), "--json"], capture_output=True, text=True)
    described = json.loads(r.stdout)["Measurements"]
    assert {k: described[k] for k in ("PCR0", "PCR1", "PCR2")} == {
        k: theirs[k] for k in ("PCR0", "PCR1", "PCR2")
    }


@pytest.mark.parametrize(
    "eif", sorted(ROOT.glob("golden/*.eif")) + sorted(VECTORS.glob("*.eif")), ids=lambda p: p.name
)
def test_golden_and_vector_verdicts(eif):
    rc, out = qemu_check(eif)
    if read(eif, strict=False).arch.value == "aarch64":
        assert rc == 1 and "Expected EIF flags to be 0" in out
    else:
        # 3: EIF parsed and CRC accepted; the fake kernel is then not an x86 bzImage
        assert rc == 3 and out.startswith("KERNEL-NOT-X86"), out


def test_corrupted_crc_is_rejected_with_qemus_message(tmp_path):
    data = bytearray((VECTORS / "basic-x86_64.eif").read_bytes())
    data[-1] ^= 0xFF
    bad = tmp_path / "bad.eif"
    bad.write_bytes(bytes(data))
    ours = measure_image(read(bad))
    rc, out = qemu_check(bad)
    assert rc == 1
    stored = int.from_bytes(data[544:548], "big")
    assert f"CRC mismatch. Expected {ours.crc32} but header has {stored}." in out


def test_signed_real_kernel_eif_pcr8_matches_qemu(tmp_path, kernel):
    from tests.certs import make_cert

    key, cert = make_cert(tmp_path, "q", "p384")
    from eifkit.signing.signers import LocalKeySigner, read_certificate_file

    pem, _ = read_certificate_file(str(cert))
    eif = _build(
        tmp_path,
        kernel,
        RD[:2],
        "signed",
        signing_certificate=pem,
        signer=LocalKeySigner.from_file(str(key)),
    )
    rc, out = qemu_check(eif)
    assert (rc, out.strip()) == (0, "ACCEPTED")
    ours = measure_image(read(eif))
    theirs = qemu_pcrs(eif)
    assert ours.pcr8 is not None
    assert {k: theirs[k] for k in ("PCR0", "PCR1", "PCR2", "PCR8")} == {
        "PCR0": ours.pcr0.hex(),
        "PCR1": ours.pcr1.hex(),
        "PCR2": ours.pcr2.hex(),
        "PCR8": ours.pcr8.hex(),
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from eifkit.loadertest import generate

    out = tmp_path_factory.mktemp("qemu-corpus")
    return out, generate(out)


def test_every_fixture_gets_the_verdict_and_message_the_manifest_predicts(corpus):
    folder, manifest = corpus
    mismatches = []
    for case in manifest["cases"]:
        rc, out = qemu_check(folder / case["file"])
        expected = case["expected"]["qemu"]
        accepted = rc in (0, 3)  # 3: EIF accepted, then the stand-in kernel is not a bzImage
        if rc == 2:
            mismatches.append(f"{case['id']}: qemu-eif-check could not run: {out}")
        else:
            agrees = accepted == (expected["verdict"] == "accept") and (
                accepted or out.strip() == f"REJECTED: {expected['message']}"
            )
            if not agrees:
                mismatches.append(f"{case['id']}: QEMU says {out.strip()!r}, manifest {expected}")
    assert not mismatches, "\n".join(mismatches)
    assert len(manifest["cases"]) >= 50


HELLO = ROOT / "examples" / "hello"
HELLO_CMDLINE = "console=ttyS0 reboot=k panic=-1"


def _hello(tmp_path: Path, *extra: str) -> Path:
    from eifkit.cli import main

    out = tmp_path / "hello.eif"
    args = [
        "build",
        "--kernel",
        str(HELLO / "bzImage"),
        "--initrd",
        str(HELLO / "init.cpio"),
        "--cmdline",
        HELLO_CMDLINE,
        "-o",
        str(out),
        "--build-time",
        "2025-01-01T00:00:00Z",
    ]
    assert main([*args, *extra]) == 0
    return out


def test_hello_example_boots_and_prints_the_greeting(tmp_path, capsys):
    eif = _hello(tmp_path)
    capsys.readouterr()
    r = subprocess.run(
        [str(CHECK), "--boot", str(eif)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "EIF_BOOT_TIMEOUT": "120"},
    )
    log = Path(r.stdout.split("console log: ")[1].split(" (qemu exit")[0])
    console = log.read_text(errors="replace")
    log.unlink()
    assert r.returncode == 0, r.stdout + console[-2000:]
    assert "Hello from an enclave image built by eifkit!" in console
    assert f"kernel cmdline: {HELLO_CMDLINE}" in console
    assert "eifkit hello: done, restarting" in console


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_hello_pcrs_equal_qemus(tmp_path, capsys, signed):
    extra: tuple[str, ...] = ()
    if signed:
        from tests.certs import make_cert

        key, cert = make_cert(tmp_path, "hello", "p384")
        extra = ("--signing-certificate", str(cert), "--private-key", str(key))
    eif = _hello(tmp_path, *extra)
    capsys.readouterr()
    from eifkit.cli import main

    assert main(["describe", str(eif), "--json"]) == 0
    described = json.loads(capsys.readouterr().out)["Measurements"]
    theirs = qemu_pcrs(eif)
    names = ["PCR0", "PCR1", "PCR2"] + (["PCR8"] if signed else [])
    assert {k: described[k] for k in names} == {k: theirs[k] for k in names}
    if not signed:
        assert theirs["PCR8"] == "00" * 48
