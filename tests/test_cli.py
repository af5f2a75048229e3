"""The command line: results, and every bad input as one clear line with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eifkit import BuildInputs, InputError, make_image, write
from eifkit.sources import FileSource
from tests import naive
from tests.conftest import ROOT, VECTORS

INPUTS = VECTORS / "inputs"
KERNEL = str(ROOT / "examples" / "hello" / "bzImage")  # a real kernel: no warning about it
RD0 = str(INPUTS / "ramdisk0.bin")
RD1 = str(INPUTS / "ramdisk1.bin")


def eifkit(
    *args: str, cwd: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "eifkit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def assert_clean_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr
    # warnings (e.g. about an unrecognised kernel) may come first; the error is one line
    lines = [ln for ln in r.stderr.strip().splitlines() if not ln.startswith("eifkit: warning:")]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("eifkit: error: ")
    for n in needles:
        assert n in lines[0], (n, lines[0])


def build(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return eifkit(
        "build", "--kernel", KERNEL, "--initrd", RD0, "--cmdline", "x", "-o", str(out), *extra
    )


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_build_prints_pcrs_and_describe_agrees(tmp_path):
    out = tmp_path / "a.eif"
    r = build(out, "--initrd", RD1, "--json")
    assert r.returncode == 0, r.stderr
    built = json.loads(r.stdout)["Measurements"]
    data = out.read_bytes()
    ref = naive.pcrs_of_file(data)
    assert {k: built[k] for k in ref} == ref
    d = eifkit("describe", str(out), "--json")
    assert json.loads(d.stdout)["Measurements"] == built
    p = eifkit("pcr", str(out), "--json")
    assert json.loads(p.stdout) == built


def test_human_build_output(tmp_path):
    r = build(tmp_path / "a.eif")
    assert r.returncode == 0
    assert r.stdout.startswith(f"Built {tmp_path / 'a.eif'}: ")
    assert "PCR0  " in r.stdout and "PCR8" not in r.stdout


def test_source_date_epoch_makes_builds_reproducible(tmp_path):
    a, b = tmp_path / "a.eif", tmp_path / "b.eif"
    sde = {"SOURCE_DATE_EPOCH": "1700000000"}
    r1, r2 = (
        eifkit(
            "build", "--kernel", KERNEL, "--initrd", RD0, "--cmdline", "x", "-o", str(p), env=sde
        )
        for p in (a, b)
    )
    assert r1.returncode == r2.returncode == 0
    assert a.read_bytes() == b.read_bytes()
    meta = json.loads(eifkit("describe", str(a), "--json").stdout)["Metadata"]
    assert meta["BuildTime"] == "2023-11-14T22:13:20+00:00"
    assert meta["BuildTool"] == "eifkit"


def test_no_direct_io_gives_the_same_bytes(tmp_path):
    """The hello kernel (873,472 bytes) is long enough to go direct by default."""
    sde = {"SOURCE_DATE_EPOCH": "1700000000"}
    a, b = tmp_path / "a.eif", tmp_path / "b.eif"
    base = ["build", "--kernel", KERNEL, "--initrd", RD0, "--cmdline", "x", "--json"]
    r1 = eifkit(*base, "-o", str(a), env=sde)
    r2 = eifkit(*base, "-o", str(b), "--no-direct-io", env=sde)
    assert r1.returncode == r2.returncode == 0, (r1.stderr, r2.stderr)
    assert a.read_bytes() == b.read_bytes()
    assert r1.stdout == r2.stdout
    assert leftovers(tmp_path) == ["a.eif", "b.eif"]


def test_version_is_honoured_and_name_defaults_to_kernel_file_name(tmp_path):
    out = tmp_path / "a.eif"
    assert build(out, "--version", "2.5").returncode == 0
    d = json.loads(eifkit("describe", str(out), "--json").stdout)
    assert d["ImageName"] == "bzImage"
    assert d["ImageVersion"] == "2.5"


def test_cmdline_file_drops_one_trailing_newline(tmp_path):
    f = tmp_path / "cmd.txt"
    f.write_bytes(b"console=ttyS0\n")
    out = tmp_path / "a.eif"
    r = eifkit(
        "build", "--kernel", KERNEL, "--initrd", RD0, "--cmdline-file", str(f), "-o", str(out)
    )
    assert r.returncode == 0
    d = json.loads(eifkit("describe", str(out), "--json").stdout)
    assert d["Cmdline"] == "console=ttyS0"


def test_pcr_modes(tmp_path):
    r = eifkit("pcr", "--input", RD0, "--json")
    assert json.loads(r.stdout) == {"PCR": naive.pcr(Path(RD0).read_bytes())}
    r = eifkit("pcr", "--signing-certificate", str(INPUTS / "cert-p384.pem"), "--json")
    assert json.loads(r.stdout)["PCR8"].startswith("47e325d2")
    r = eifkit("pcr", "--role-arn", "arn:aws:iam::123456789012:role/Webserver")
    assert r.stdout.startswith("PCR3  78fce75d") and r.stdout.strip().endswith("6921e6")
    r = eifkit("pcr", "--instance-id", "i-1234567890abcdef0", "--json")
    assert json.loads(r.stdout)["PCR4"].endswith("e79ce0")


# ----------------------------------------------------------------- errors


def test_missing_kernel(tmp_path):
    out = tmp_path / "a.eif"
    r = eifkit(
        "build",
        "--kernel",
        str(tmp_path / "nope"),
        "--initrd",
        RD0,
        "--cmdline",
        "x",
        "-o",
        str(out),
    )
    assert_clean_error(r, "nope", "kernel file not found")
    assert leftovers(tmp_path) == []


def test_directory_as_kernel(tmp_path):
    out = tmp_path / "a.eif"
    r = eifkit(
        "build", "--kernel", str(tmp_path), "--initrd", RD0, "--cmdline", "x", "-o", str(out)
    )
    assert_clean_error(r, "kernel must be a file, found a directory")
    assert leftovers(tmp_path) == []


def test_cmdline_with_nul(tmp_path):
    f = tmp_path / "cmd"
    f.write_bytes(b"console=ttyS0\0evil")
    out = tmp_path / "a.eif"
    r = eifkit(
        "build", "--kernel", KERNEL, "--initrd", RD0, "--cmdline-file", str(f), "-o", str(out)
    )
    assert_clean_error(r, "cmdline", "NUL byte at position 13")
    assert leftovers(tmp_path) == ["cmd"]


def test_more_than_32_sections(tmp_path):
    out = tmp_path / "a.eif"
    many = [a for _ in range(30) for a in ("--initrd", RD0)]
    r = eifkit("build", "--kernel", KERNEL, *many, "--cmdline", "x", "-o", str(out))
    assert_clean_error(r, "33 sections (30 ramdisks), at most 32")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"{not json", "not valid JSON"),
        (b"1e400000", "number out of range"),
        (b"[" + b"0," * 3000 + b"0]", "at most 4096 allowed"),
    ],
)
def test_invalid_metadata(tmp_path, content, needle):
    m = tmp_path / "m.json"
    m.write_bytes(content)
    out = tmp_path / "a.eif"
    r = build(out, "--metadata", str(m))
    assert_clean_error(r, str(m), needle)
    assert leftovers(tmp_path) == ["m.json"]


def test_unreadable_metadata(tmp_path):
    r = build(tmp_path / "a.eif", "--metadata", str(tmp_path / "missing.json"))
    assert_clean_error(r, "missing.json", "custom metadata file not found")


def test_unwritable_folder(tmp_path):
    assert_clean_error(build(Path("/proc/a.eif")), "/proc/a.eif", "cannot create the output file")


def test_output_folder_missing(tmp_path):
    r = build(tmp_path / "no" / "such" / "a.eif")
    assert_clean_error(r, "output folder does not exist")


def test_output_equal_to_input(tmp_path):
    k = tmp_path / "k"
    k.write_bytes(b"kernel")
    r = eifkit("build", "--kernel", str(k), "--initrd", RD0, "--cmdline", "x", "-o", str(k))
    assert_clean_error(r, "output path is also an input file")
    assert k.read_bytes() == b"kernel"
    assert leftovers(tmp_path) == ["k"]


@pytest.mark.parametrize("command", ["describe", "pcr"])
@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda d: d[:-5], "truncated"),
        (lambda d: d[:300], "300 bytes, shorter than the 548-byte EIF header"),
        (lambda d: b"\x7fELF" + d[4:], "magic is 7f454c46"),
        (lambda d: d[:4] + b"\x00\x03" + d[6:], "version is 3, expected 4"),
    ],
)
def test_corrupt_eif(tmp_path, command, mutate, needle):
    p = tmp_path / "bad.eif"
    p.write_bytes(mutate((VECTORS / "basic-x86_64.eif").read_bytes()))
    assert_clean_error(eifkit(command, str(p)), str(p), needle)


def test_describe_reports_crc_mismatch_without_failing(tmp_path):
    data = bytearray((VECTORS / "basic-x86_64.eif").read_bytes())
    data[-1] ^= 1
    p = tmp_path / "crc.eif"
    p.write_bytes(bytes(data))
    r = eifkit("describe", str(p), "--json")
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert out["CheckCRC"] is False
    assert out["CRC"]["Computed"] == naive.crc_of_file(bytes(data)) != out["CRC"]["Stored"]


def test_describe_of_missing_file_and_usage_errors(tmp_path):
    assert_clean_error(eifkit("describe", str(tmp_path / "x.eif")), "file not found")
    assert_clean_error(eifkit("pcr"), "nothing to measure")
    r = eifkit("build", "--kernel", KERNEL)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "required" in r.stderr


def test_source_changing_size_mid_write_leaves_nothing(tmp_path):
    k = tmp_path / "k"
    k.write_bytes(b"k" * 1000)
    image = make_image(BuildInputs(kernel=str(k), ramdisks=[RD0], cmdline="x", build_time="t"))
    k.write_bytes(b"k" * 10)  # shrinks after the image was planned
    with pytest.raises(InputError, match="ended 990 bytes early"):
        write(image, tmp_path / "out.eif")
    assert leftovers(tmp_path) == ["k"]
    assert isinstance(image.sections[0].source, FileSource)


def test_console_script_and_version():
    r = subprocess.run(["eifkit", "--version"], capture_output=True, text=True)
    from eifkit._version import __version__

    assert r.returncode == 0 and r.stdout.strip() == f"eifkit {__version__}"


def test_pcr_env_and_kms_policy_formats():
    eif = str(VECTORS / "basic-x86_64.eif")
    r = eifkit("pcr", eif, "--format", "env")
    lines = r.stdout.splitlines()
    assert [ln.split("=")[0] for ln in lines] == ["PCR0", "PCR1", "PCR2"]
    assert (
        lines[0]
        == "PCR0=" + naive.pcrs_of_file((VECTORS / "basic-x86_64.eif").read_bytes())["PCR0"]
    )
    r = eifkit("pcr", eif, "--format", "kms-policy", "--instance-id", "i-1234567890abcdef0")
    cond = json.loads(r.stdout)["Condition"]["StringEqualsIgnoreCase"]
    assert list(cond) == [f"kms:RecipientAttestation:PCR{n}" for n in (0, 1, 2, 4)]
    assert cond["kms:RecipientAttestation:PCR4"].endswith("e79ce0")
    assert_clean_error(eifkit("pcr", eif, "--format", "kms-policy", "--algo", "sha256"), "SHA-384")


class _Tty:
    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> None:
        self.text += s

    def flush(self) -> None:
        pass


def test_progress_bar_only_on_a_terminal_and_after_the_delay():
    from eifkit.progress import Progress

    tty = _Tty()
    bar = Progress(1000, "building", stream=tty, delay=0.0)
    bar(500)
    assert "building [###############" in tty.text and " 50% " in tty.text
    bar.close()
    assert tty.text.endswith("\r\x1b[K")
    quiet = _Tty()
    bar = Progress(1000, "x", stream=quiet, delay=0.0, enabled=False)
    bar(1000)
    assert quiet.text == ""
    slow = _Tty()
    bar = Progress(1000, "x", stream=slow, delay=60.0)
    bar(1000)
    assert slow.text == ""  # work under the delay shows nothing
