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


def test_direct_io_gives_the_same_bytes(tmp_path):
    """The hello kernel (873,472 bytes) is long enough to go direct with --direct-io."""
    sde = {"SOURCE_DATE_EPOCH": "1700000000"}
    a, b = tmp_path / "a.eif", tmp_path / "b.eif"
    base = ["build", "--kernel", KERNEL, "--initrd", RD0, "--cmdline", "x", "--json"]
    r1 = eifkit(*base, "-o", str(a), env=sde)
    r2 = eifkit(*base, "-o", str(b), "--direct-io", env=sde)
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
    with pytest.raises(InputError, match=r"changed since it was opened \(size, mtime"):
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


# ------------------------------------------------------------------ issue 10, section 4

HELLO_INIT = str(ROOT / "examples" / "hello" / "init.cpio")


def metadata_json(eif: Path) -> dict:
    r = eifkit("describe", str(eif), "--json", "--no-inspect")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["Metadata"]


@pytest.mark.parametrize("value", ["yesterday", "", "2024-06-21 12:00:00+00:00", "-1"])
def test_any_build_time_is_accepted_and_extract_rebuilds_it(tmp_path, value):
    out = tmp_path / "a.eif"
    r = eifkit(
        "build", "--kernel", KERNEL, "--initrd", HELLO_INIT, "--cmdline", "x", "-o", str(out),
        "--build-time", value,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"build time {value!r} is not an RFC 3339 time" in r.stderr
    assert metadata_json(out)["BuildTime"] == value
    parts = tmp_path / "parts"
    assert eifkit("extract", str(out), "-o", str(parts)).returncode == 0
    args = json.loads((parts / "build-args.json").read_text())["args"]
    r = eifkit("build", *args, cwd=parts)
    assert r.returncode == 0, r.stderr
    assert (parts / "rebuilt.eif").read_bytes() == out.read_bytes()


def test_an_rfc3339_build_time_gives_no_warning(tmp_path):
    r = build(tmp_path / "a.eif", "--build-time", "2016-12-31t23:59:60z", "--no-lint")
    assert r.returncode == 0 and r.stderr == ""


def test_eif_build_compat_with_kernel_config_ignores_build_values(tmp_path):
    config = tmp_path / "kernel.config"
    config.write_bytes(b"#\r\n#\r\n# Linux/x86_64 6.1.0-18 Kernel Configuration\r\n")
    out = tmp_path / "a.eif"
    r = eifkit(
        "build", "--kernel", KERNEL, "--ramdisk", RD0, "--cmdline", "x", "--output", str(out),
        "--kernel_config", str(config), "--build-time", "2024-06-21T12:00:00+00:00",
        "--img-os", "MyOS", "--eif-build-compat",
        env={"SOURCE_DATE_EPOCH": "0"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "--build-time, --img-os ignored" in r.stderr
    meta = metadata_json(out)
    assert [meta[k] for k in ("BuildTime", "BuildTool", "BuildToolVersion")] == [
        "1970-01-01T00:00:00+00:00",
        "eif_build",
        "0.3.1",
    ]
    assert (meta["OperatingSystem"], meta["KernelVersion"]) == ("Linux", "6.1.0")


def test_arguments_that_are_not_utf8_are_clean_errors(tmp_path):
    def run(*args: str | bytes) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "eifkit", "build", *args, "-o", str(tmp_path / "a.eif")],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=120,
        )

    r = run("--kernel", KERNEL, "--initrd", RD0, "--cmdline", b"console=\xff")
    assert_clean_error(r, "--cmdline is not valid UTF-8 (byte 0xff at character 8)")
    r = run("--kernel", KERNEL, "--initrd", RD0, "--cmdline", "x", "--name", b"\xfe")
    assert_clean_error(r, "--name is not valid UTF-8")
    kernel = tmp_path / os.fsdecode(b"bz\xffImage")
    kernel.write_bytes(Path(KERNEL).read_bytes())
    r = run("--kernel", os.fsencode(kernel), "--initrd", RD0, "--cmdline", "x")
    assert_clean_error(r, "kernel file name is not valid UTF-8")
    assert leftovers(tmp_path) == [kernel.name]


def test_cmdline_file_over_1_mib_is_refused_not_cut(tmp_path):
    f = tmp_path / "cmdline.txt"
    f.write_bytes(b"x" * (2 << 20))
    r = eifkit("build", "--kernel", KERNEL, "--initrd", RD0, "--cmdline-file", str(f), "-o", "a")
    assert_clean_error(r, str(f), "cmdline file is 2097152 bytes, at most 1048576 allowed")


@pytest.mark.parametrize(
    "extra, needle",
    [
        ({"cmdline": "x" * ((1 << 20) + 1)}, "cmdline section is 1048577 bytes, more than the"),
        ({"custom_metadata": "m" * (16 << 20)}, "more than the 16777216-byte limit"),
    ],
)
def test_extract_of_an_oversized_cmdline_or_metadata_writes_all_and_says_why(
    tmp_path, extra, needle
):
    # 0.1 ended in a ValueError traceback; the sections extract fine, only the rebuild
    # command cannot be given.
    inputs = {"cmdline": "x", **extra}
    eif = tmp_path / "big.eif"
    write(make_image(BuildInputs(kernel=KERNEL, ramdisks=[RD0], lint=False, **inputs)), eif)
    r = eifkit("extract", str(eif), "-o", str(tmp_path / "p"))
    assert r.returncode == 0 and not r.stderr, r
    assert "Not reproducible with eifkit build: " in r.stdout and needle in r.stdout
    assert {"kernel", "cmdline.txt", "metadata.json"} <= {
        p.name for p in (tmp_path / "p").iterdir()
    }


def test_folder_ramdisks_warnings_name_the_folder_and_cmd_takes_dash_values(tmp_path):
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "init").write_bytes(Path(ROOT / "examples" / "hello" / "init").read_bytes())
    (boot / "init").chmod(0o755)
    app = tmp_path / "app"
    app.mkdir()
    out = tmp_path / "a.eif"
    r = eifkit(
        "build", "--kernel", KERNEL, "--bootstrap", str(boot), "--rootfs", str(app),
        "--cmd", "sh", "--cmd", "-c", "--cmd", "echo hi", "--env", "-X=1",
        "--cmdline", "x", "-o", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (
        r.stderr == f"eifkit: warning: {boot}: ramdisk 0 has no nsm.ko (the Nitro Secure "
        "Module driver nitro-cli's bootstrap ramdisk carries)\n"
    )
    parts = tmp_path / "parts"
    assert eifkit("extract", str(out), "-o", str(parts), "--unpack").returncode == 0
    assert (parts / "ramdisk-1" / "cmd").read_text() == "sh\n-c\necho hi\n"
    assert (parts / "ramdisk-1" / "env").read_text() == "-X=1\n"


def test_a_lint_error_refuses_the_build_unless_forced(tmp_path):
    bad = tmp_path / "noinit"
    bad.mkdir()
    (bad / "hello").write_text("hi")
    args = ["--kernel", KERNEL, "--bootstrap", str(bad), "--cmdline", "x"]
    r = eifkit("build", *args, "-o", str(tmp_path / "a.eif"))
    assert_clean_error(r, f"{bad}: ramdisk 0 has no /init", "use --force")
    assert leftovers(tmp_path) == ["noinit"]
    r = eifkit("build", *args, "-o", str(tmp_path / "a.eif"), "--force")
    assert r.returncode == 0
    assert (
        f"warning: {bad}: ramdisk 0 has no /init: the kernel has nothing to run (the "
        "enclave could not start)" in r.stderr
    )


def test_join_dash_values():
    from eifkit.cli import join_dash_values

    argv = ["build", "--cmd", "-c", "--env", "-A=1", "--kernel", "-k", "--", "--cmd", "-d"]
    assert join_dash_values(argv) == [
        "build", "--cmd=-c", "--env=-A=1", "--kernel", "-k", "--", "--cmd", "-d",
    ]  # fmt: skip
    assert join_dash_values(["build", "--build-time", "-1"]) == ["build", "--build-time=-1"]
    assert join_dash_values(["describe", "--cmd", "-c"]) == ["describe", "--cmd", "-c"]
    assert join_dash_values(["build", "--cmd"]) == ["build", "--cmd"]


def test_every_command_is_a_module_with_add_parser_and_run():
    from eifkit.cli import COMMANDS, command_module, make_parser

    parser = make_parser()
    for name in COMMANDS:
        module = command_module(name)
        assert callable(module.add_parser) and callable(module.run)
        args = parser.parse_args([name, *_minimal_args(name)])
        assert args.command == name


def _minimal_args(name: str) -> list[str]:
    return {
        "build": ["--kernel", "k", "--cmdline", "x", "-o", "o"],
        "describe": ["i"],
        "pcr": [],
        "sign": ["i"],
        "verify": ["i"],
        "pcr0-payload": ["i", "-o", "o"],
        "fixtures": [],
        "check": ["i"],
        "initramfs": ["d", "-o", "o"],
        "extract": ["i", "-o", "o"],
        "diff": ["a", "b"],
        "attest": ["verify", "doc"],
    }[name]


def test_builds_are_recorded_for_the_qemu_check_at_session_end(tmp_path):
    from tests.conftest import BUILT_WITH_X86_KERNEL

    out = tmp_path / "a.eif"
    assert build(out, "--no-lint").returncode == 0  # another process: not recorded
    from eifkit.cli import main

    assert main(["build", "--kernel", KERNEL, "--initrd", RD0, "--cmdline", "x", "-o",
                 str(out), "-q", "--no-lint"]) == 0  # fmt: skip
    assert BUILT_WITH_X86_KERNEL[-1] == out


def test_a_message_with_a_line_break_stays_one_line(tmp_path):
    k = tmp_path / "bad\nname"
    r = eifkit("build", "--kernel", str(k), "--initrd", RD0, "--cmdline", "x", "-o", "o")
    assert_clean_error(r, "bad\\nname: kernel file not found")


def test_a_role_arn_that_is_not_utf8_is_a_clean_error():
    r = subprocess.run(
        [sys.executable, "-m", "eifkit", "pcr", "--role-arn", b"arn:\xff"],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=60,
    )
    assert_clean_error(r, "--role-arn is not valid UTF-8")


def test_a_folder_with_a_file_name_that_is_not_utf8_is_a_clean_error(tmp_path):
    folder = tmp_path / "tree"
    folder.mkdir()
    (folder / os.fsdecode(b"a\xff")).write_text("x")
    r = eifkit("initramfs", str(folder), "-o", str(tmp_path / "t.cpio"))
    assert_clean_error(r, str(folder), "a file name or link target in the folder is not UTF-8")
    r = eifkit(
        "build", "--kernel", KERNEL, "--rootfs", str(folder), "--cmd", "/app", "--cmdline", "x",
        "-o", "o",
    )  # fmt: skip
    assert_clean_error(r, str(folder), "is not UTF-8")
    assert leftovers(tmp_path) == ["tree"]


def test_import_eifkit_is_lazy_and_every_public_name_resolves():
    """``import eifkit`` loads no command's heavy dependencies; every name in __all__
    resolves to the object of its home module."""
    code = (
        "import sys, eifkit; heavy = [m for m in ('cryptography', 'eifkit.build', "
        "'eifkit.writer') if m in sys.modules]; print(heavy)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"
    import eifkit

    for name in eifkit.__all__:
        assert getattr(eifkit, name) is not None
    from eifkit.build import build_image

    assert eifkit.build_image is build_image
    with pytest.raises(AttributeError):
        _ = eifkit.no_such_name


def test_a_command_run_imports_only_its_own_module():
    code = (
        "import sys\nfrom eifkit.cli import main\n"
        "try:\n    main(['pcr', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('eifkit.cli.')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip().splitlines()[-1] == "['eifkit.cli.common', 'eifkit.cli.pcr']"
