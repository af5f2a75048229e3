"""The build library: make_image refuses what `eifkit build` refuses, findings are data,
folders become ramdisks, eif_build 0.3.1's rules under eif_build_compat."""

from __future__ import annotations

import gc
import json
import os
import struct
from pathlib import Path

import pytest

import eifkit
from eifkit import BuildFinding, BuildInputs, InputError, build_image, make_image
from eifkit.errors import MetadataError
from eifkit.format import Arch
from eifkit.inputs import archive_mtime, read_input_file, utf8_text
from eifkit.inspect.initramfs import iter_members
from eifkit.metadata import parse_kernel_config, parse_metadata_section, rust_lines
from eifkit.sources import open_source, read_small
from eifkit.timefmt import is_rfc3339, parse_rfc3339
from tests.conftest import ROOT

HELLO = ROOT / "examples" / "hello"
KERNEL = str(HELLO / "bzImage")  # a real x86_64 bzImage
INIT_CPIO = str(HELLO / "init.cpio")  # /init for x86_64


def elf_header(machine: int) -> bytes:
    """The 64-byte header of an ELF64 executable for ``machine`` (62 x86_64, 183 aarch64)."""
    ident = b"\x7fELF\x02\x01\x01" + b"\0" * 9
    return ident + struct.pack(
        "<HHIQQQIHHHHHH", 2, machine, 1, 0x400000, 0, 0, 0, 64, 56, 0, 64, 0, 0
    )


def arm64_image(tmp_path: Path) -> str:
    data = bytearray(4096)
    data[0x38:0x3C] = b"ARM\x64"
    p = tmp_path / "Image"
    p.write_bytes(bytes(data))
    return str(p)


def folder_with_init(tmp_path: Path, machine: int, name: str = "boot") -> str:
    d = tmp_path / name
    d.mkdir()
    init = d / "init"
    init.write_bytes(elf_header(machine) + b"\0" * 64)
    init.chmod(0o755)
    (d / "nsm.ko").write_bytes(b"module")
    return str(d)


def metadata_of(image: eifkit.EifImage) -> dict[str, object]:
    assert image.metadata_section is not None
    return json.loads(read_small(image.metadata_section.source, 1 << 20, "metadata"))


def members(source: eifkit.sources.Source) -> dict[str, bytes]:
    with open_source(source) as f:
        return {m.entry.name: m.data or b"" for m in iter_members(f, keep_data=lambda e: True)}


# ------------------------------------------------------------------ refusals


def test_make_image_refuses_an_elf_kernel_unless_forced(tmp_path):
    k = tmp_path / "vmlinux"
    k.write_bytes(elf_header(62) + b"\0" * 4096)
    inputs = BuildInputs(kernel=str(k), ramdisks=[INIT_CPIO], cmdline="x")
    with pytest.raises(InputError, match=r"ELF vmlinux.*use --force"):
        make_image(inputs)
    image = make_image(BuildInputs(kernel=str(k), ramdisks=[INIT_CPIO], cmdline="x", force=True))
    assert image.kernel is not None and image.kernel.size == 4096 + 64


def test_arch_comes_from_the_kernel_and_a_contradiction_is_refused(tmp_path):
    k = arm64_image(tmp_path)
    rd = str(tmp_path / "rd")
    Path(rd).write_bytes(b"not a cpio")
    assert make_image(BuildInputs(kernel=k, ramdisks=[rd], cmdline="x")).arch == Arch.AARCH64
    with pytest.raises(InputError, match="--arch x86_64 contradicts the kernel, which is aarch64"):
        make_image(BuildInputs(kernel=k, ramdisks=[rd], cmdline="x", arch=Arch.X86_64))
    forced = BuildInputs(kernel=k, ramdisks=[rd], cmdline="x", arch=Arch.X86_64, force=True)
    assert make_image(forced).arch == Arch.X86_64


def test_under_eif_build_compat_an_arm64_kernel_without_arch_is_x86_64(tmp_path):
    k = arm64_image(tmp_path)
    rd = str(tmp_path / "rd")
    Path(rd).write_bytes(b"not a cpio")
    built = build_image(BuildInputs(kernel=k, ramdisks=[rd], cmdline="x", eif_build_compat=True))
    assert built.image.arch == Arch.X86_64 and built.image.flags == 0
    warnings = [f for f in built.findings if f.path == k]
    assert len(warnings) == 1 and "add --arch aarch64" in warnings[0].message
    compat_arm = BuildInputs(
        kernel=k, ramdisks=[rd], cmdline="x", eif_build_compat=True, arch=Arch.AARCH64
    )
    assert make_image(compat_arm).flags == 1


def test_output_that_is_an_input_is_refused(tmp_path):
    inputs = BuildInputs(kernel=KERNEL, ramdisks=[INIT_CPIO], cmdline="x", output=INIT_CPIO)
    with pytest.raises(InputError, match="output path is also an input file"):
        make_image(inputs)


def test_no_ramdisk_and_cmd_without_rootfs_are_refused():
    with pytest.raises(InputError, match="at least one ramdisk"):
        make_image(BuildInputs(kernel=KERNEL, cmdline="x"))
    with pytest.raises(InputError, match="--cmd and --env go with --rootfs"):
        make_image(BuildInputs(kernel=KERNEL, ramdisks=[INIT_CPIO], cmdline="x", cmd=["sh"]))
    with pytest.raises(InputError, match="give a cmdline or a cmdline file"):
        make_image(BuildInputs(kernel=KERNEL, ramdisks=[INIT_CPIO]))


# ------------------------------------------------------------------ findings as data


def test_an_unknown_kernel_is_a_warning_naming_it(tmp_path):
    k = tmp_path / "k"
    k.write_bytes(b"kernel")
    built = build_image(BuildInputs(kernel=str(k), ramdisks=[INIT_CPIO], cmdline="x"))
    assert (
        BuildFinding(
            "warning",
            "not a kernel eifkit recognises (bzImage, arm64 Image); building anyway",
            str(k),
        )
        in built.findings
    )
    quiet = build_image(
        BuildInputs(kernel=str(k), ramdisks=[INIT_CPIO], cmdline="x", eif_build_compat=True)
    )
    assert all(f.path != str(k) for f in quiet.findings)


def test_a_lint_error_refuses_unless_forced_and_names_the_folder(tmp_path):
    boot = folder_with_init(tmp_path, 183)  # an aarch64 /init
    inputs = BuildInputs(kernel=KERNEL, bootstrap=boot, cmdline="x")
    with pytest.raises(InputError) as e:
        make_image(inputs)
    assert e.value.path == boot
    assert "/init is for aarch64, the EIF is x86_64" in str(e.value)
    assert "use --force" in str(e.value)
    built = build_image(BuildInputs(kernel=KERNEL, bootstrap=boot, cmdline="x", force=True))
    errors = [f for f in built.findings if f.level == "error"]
    assert [(f.path, f.message) for f in errors] == [
        (boot, "ramdisk 0's /init is for aarch64, the EIF is x86_64")
    ]
    assert build_image(BuildInputs(kernel=KERNEL, bootstrap=boot, cmdline="x", lint=False))


def test_a_ramdisk_that_is_not_cpio_is_only_a_warning(tmp_path):
    rd = tmp_path / "rd.xz"
    rd.write_bytes(b"\xfd7zXZ\0 compressed, perhaps")
    built = build_image(BuildInputs(kernel=KERNEL, ramdisks=[str(rd)], cmdline="x"))
    [finding] = built.findings
    assert finding.level == "warning" and finding.path == str(rd)
    assert "is not a cpio archive" in finding.message


# ------------------------------------------------------------------ ramdisks from folders


def test_bootstrap_and_rootfs_folders_become_ramdisks_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    boot = folder_with_init(tmp_path, 62)
    app = tmp_path / "app"
    (app / "bin").mkdir(parents=True)
    (app / "bin" / "hello").write_text("hi")
    inputs = BuildInputs(
        kernel=KERNEL,
        bootstrap=boot,
        ramdisks=[INIT_CPIO],
        rootfs=str(app),
        cmd=["sh", "-c", "echo hi"],
        env=["A=1"],
        cmdline="x",
    )
    with build_image(inputs) as built:
        assert built.ramdisk_labels == [boot, INIT_CPIO, str(app)]
        rds = built.image.ramdisks
        assert len(rds) == 3
        first, last = members(rds[0].source), members(rds[2].source)
        assert "init" in first and "nsm.ko" in first
        assert last["cmd"] == b"sh\n-c\necho hi\n" and last["env"] == b"A=1\n"
        assert last["rootfs/bin/hello"] == b"hi"
        made = [s.source.path for s in (rds[0], rds[2])]
        assert all(os.path.exists(p) for p in made)
        assert not any(f.path and "eifkit-ramdisk" in f.path for f in built.findings)
    assert not any(os.path.exists(p) for p in made)


def test_make_image_keeps_folder_ramdisks_while_the_image_is_used(tmp_path):
    boot = folder_with_init(tmp_path, 62)
    image = make_image(BuildInputs(kernel=KERNEL, bootstrap=boot, cmdline="x"))
    path = image.ramdisks[0].source.path
    assert os.path.exists(path)
    out = tmp_path / "a.eif"
    eifkit.write(image, out)
    assert out.stat().st_size > os.path.getsize(path)
    del image
    gc.collect()
    assert not os.path.exists(path)


def test_archive_mtime_rules(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert archive_mtime(None) == 0 and archive_mtime(7) == 7
    assert archive_mtime(None, {"SOURCE_DATE_EPOCH": "12"}) == 12
    with pytest.raises(InputError, match="--mtime -1 does not fit"):
        archive_mtime(-1)
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH is 'soon'"):
        archive_mtime(None, {"SOURCE_DATE_EPOCH": "soon"})


# ------------------------------------------------------------------ metadata values


@pytest.mark.parametrize("value", ["yesterday", "", "2024-06-21 12:00:00"])
def test_any_build_time_is_stored_as_given_with_a_warning(value):
    built = build_image(
        BuildInputs(kernel=KERNEL, ramdisks=[INIT_CPIO], cmdline="x", build_time=value)
    )
    assert metadata_of(built.image)["BuildMetadata"]["BuildTime"] == value  # type: ignore[index]
    assert any("is not an RFC 3339 time" in f.message for f in built.findings)


@pytest.mark.parametrize(
    "value, ok",
    [
        ("2024-06-21T12:00:00+00:00", True),
        ("2024-06-21t12:00:00z", True),
        ("2016-12-31T23:59:60Z", True),
        ("2024-02-29T00:00:00.123456789-08:30", True),
        ("2023-02-29T00:00:00Z", False),
        ("2024-06-21T12:00:00", False),
        ("2024-06-21 12:00:00Z", False),
        ("2024-06-21T24:00:00Z", False),
        ("2024-13-01T00:00:00Z", False),
        ("2024-06-21T12:00:00+24:00", False),
        ("\uff12\uff10\uff12\uff14-06-21T12:00:00Z", False),  # fullwidth digits
    ],
)
def test_is_rfc3339(value, ok):
    assert is_rfc3339(value) is ok


def test_parse_rfc3339_reads_a_leap_second_and_refuses_others():
    assert parse_rfc3339("2016-12-31t23:59:60z", "--at").second == 59
    with pytest.raises(InputError, match="--at: 'noon' is not an RFC 3339 time"):
        parse_rfc3339("noon", "--at")


def write_config(tmp_path: Path, data: bytes) -> str:
    p = tmp_path / ".config"
    p.write_bytes(data)
    return str(p)


CONFIG = (
    b"#\n# Automatically generated file; DO NOT EDIT.\n"
    b"# Linux/x86_64 6.1.0-18 Kernel Configuration\n"
)


def test_kernel_config_under_compat_ignores_given_build_values(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    config = write_config(tmp_path, CONFIG)
    given = dict(
        build_time="2024-06-21T12:00:00+00:00",
        build_tool="mine",
        build_tool_version="9",
        img_os="MyOS",
        img_kernel="9.9",
    )
    base = dict(kernel=KERNEL, ramdisks=[INIT_CPIO], cmdline="x", kernel_config=config, **given)
    compat = build_image(BuildInputs(**base, eif_build_compat=True))  # type: ignore[arg-type]
    assert metadata_of(compat.image)["BuildMetadata"] == {
        "BuildTime": "1970-01-01T00:00:00+00:00",
        "BuildTool": "eif_build",
        "BuildToolVersion": "0.3.1",
        "OperatingSystem": "Linux",
        "KernelVersion": "6.1.0",
    }
    [warning] = [f for f in compat.findings if "ignored" in f.message]
    assert warning.message.startswith(
        "--build-time, --build-tool, --build-tool-version, --img-os, --img-kernel ignored"
    )
    plain = make_image(BuildInputs(**base))  # type: ignore[arg-type]
    assert metadata_of(plain)["BuildMetadata"] == {
        "BuildTime": "2024-06-21T12:00:00+00:00",
        "BuildTool": "mine",
        "BuildToolVersion": "9",
        "OperatingSystem": "MyOS",
        "KernelVersion": "9.9",
    }


def test_compat_without_kernel_config_keeps_given_values_and_names_the_version():
    inputs = BuildInputs(
        kernel=KERNEL,
        ramdisks=[INIT_CPIO],
        cmdline="x",
        name="app",
        version="2.0",
        build_time="",
        eif_build_compat=True,
    )
    built = build_image(inputs)
    meta = metadata_of(built.image)
    assert meta["ImageName"] == "app" and meta["ImageVersion"] == "app"
    assert meta["BuildMetadata"]["BuildTime"] == ""  # type: ignore[index]
    assert meta["BuildMetadata"]["BuildTool"] == "eif_build"  # type: ignore[index]
    assert any("--version is ignored" in f.message for f in built.findings)


def test_rust_lines():
    assert rust_lines(b"a\r\nb\rc\nd\r") == [b"a", b"b\rc", b"d\r"]
    assert rust_lines(b"a\n\n") == [b"a", b""]
    assert rust_lines(b"") == []


def test_kernel_config_lines_split_as_eif_build_splits_them(tmp_path):
    crlf = write_config(tmp_path, CONFIG.replace(b"\n", b"\r\n"))
    assert parse_kernel_config(crlf) == ("Linux", "6.1.0")
    cr_only = write_config(tmp_path, CONFIG.replace(b"\n", b"\r"))
    with pytest.raises(MetadataError, match="fewer than 3 lines"):
        parse_kernel_config(cr_only)
    inner_cr = write_config(tmp_path, b"#\n#\n# Linux\r/x86_64 6.1\r.0 Kernel\n")
    assert parse_kernel_config(inner_cr) == ("Linux\r", "6.1\r.0")
    bad_line_1 = write_config(tmp_path, b"\xff\n#\n" + CONFIG.split(b"\n")[2] + b"\n")
    assert parse_kernel_config(bad_line_1) == ("Linux", "6.1.0")
    bad_line_3 = write_config(tmp_path, b"#\n#\n# Linux/x86_64 6.1.0\xff\n")
    with pytest.raises(MetadataError, match="line 3 of the kernel config is not UTF-8"):
        parse_kernel_config(bad_line_3)


# ------------------------------------------------------------------ user-named inputs


def test_read_input_file_refuses_never_truncates(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"x" * 10)
    assert read_input_file(p, "thing", 10) == b"x" * 10
    with pytest.raises(InputError, match="thing file is 10 bytes, at most 9 allowed") as e:
        read_input_file(p, "thing", 9)
    assert e.value.path == str(p)
    with pytest.raises(InputError, match="thing file not found"):
        read_input_file(tmp_path / "nope", "thing", 9)
    with pytest.raises(InputError, match="thing must be a file, found a directory"):
        read_input_file(tmp_path, "thing", 9)
    with pytest.raises(MetadataError):
        read_input_file(tmp_path, "thing", 9, error=MetadataError)


def test_cmdline_file_over_1_mib_is_refused(tmp_path):
    p = tmp_path / "cmdline"
    p.write_bytes(b"x" * (1 << 20))
    image = make_image(BuildInputs(kernel=KERNEL, ramdisks=[INIT_CPIO], cmdline_file=str(p)))
    assert image.cmdline_section is not None and image.cmdline_section.size == 1 << 20
    p.write_bytes(b"x" * (2 << 20))
    with pytest.raises(InputError, match="cmdline file is 2097152 bytes, at most 1048576"):
        make_image(BuildInputs(kernel=KERNEL, ramdisks=[INIT_CPIO], cmdline_file=str(p)))


def test_text_that_is_not_utf8_is_refused_naming_the_option(tmp_path):
    bad = os.fsdecode(b"console=\xff")
    with pytest.raises(
        InputError, match=r"--cmdline is not valid UTF-8 \(byte 0xff at character 8\)"
    ):
        make_image(BuildInputs(kernel=KERNEL, ramdisks=[INIT_CPIO], cmdline=bad))
    with pytest.raises(InputError, match="--name is not valid UTF-8"):
        make_image(BuildInputs(kernel=KERNEL, ramdisks=[INIT_CPIO], cmdline="x", name=bad))
    k = tmp_path / os.fsdecode(b"bz\xffImage")
    k.write_bytes(Path(KERNEL).read_bytes())
    with pytest.raises(InputError, match="kernel file name is not valid UTF-8"):
        make_image(BuildInputs(kernel=str(k), ramdisks=[INIT_CPIO], cmdline="x"))
    assert utf8_text("été", "x") == "été"


def test_metadata_written_is_the_parsed_metadata():
    image = make_image(
        BuildInputs(kernel=KERNEL, ramdisks=[INIT_CPIO], cmdline="x", custom_metadata={"b": 1})
    )
    assert image.metadata_section is not None
    meta = parse_metadata_section(read_small(image.metadata_section.source, 1 << 20, "metadata"))
    assert meta.image_name == "bzImage" and meta.custom == {"b": 1}


def test_chrono_rfc3339_ns_and_the_compat_default_time(monkeypatch):
    from eifkit.timefmt import chrono_rfc3339_ns, default_build_time

    second = 1718971200 * 10**9  # 2024-06-21T12:00:00Z
    assert chrono_rfc3339_ns(second) == "2024-06-21T12:00:00+00:00"
    assert chrono_rfc3339_ns(second + 5 * 10**8) == "2024-06-21T12:00:00.500+00:00"
    assert chrono_rfc3339_ns(second + 1000) == "2024-06-21T12:00:00.000001+00:00"
    assert chrono_rfc3339_ns(second + 7) == "2024-06-21T12:00:00.000000007+00:00"
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.setattr("time.time_ns", lambda: second + 123456789)
    assert default_build_time(as_eif_build=True) == "2024-06-21T12:00:00.123456789+00:00"
    assert default_build_time({"SOURCE_DATE_EPOCH": "0"}, as_eif_build=True) == (
        "1970-01-01T00:00:00+00:00"
    )


def test_too_many_sections_are_refused_before_folders_are_packed(tmp_path):
    import tempfile

    def temporary_cpios() -> set[str]:
        return {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("eifkit-ramdisk.")}

    before = temporary_cpios()
    boot = folder_with_init(tmp_path, 62)
    inputs = BuildInputs(kernel=KERNEL, bootstrap=boot, ramdisks=[INIT_CPIO] * 29, cmdline="x")
    with pytest.raises(InputError, match=r"33 sections \(30 ramdisks\), at most 32"):
        make_image(inputs)
    assert temporary_cpios() == before
    assert (
        len(make_image(BuildInputs(**{**inputs.__dict__, "ramdisks": [INIT_CPIO] * 28})).sections)
        == 32
    )


def test_rootfs_without_cmd_is_refused_unless_forced(tmp_path):
    # nitro-cli refuses an image with neither CMD nor ENTRYPOINT (issue 12, item 7).
    app = tmp_path / "app"
    app.mkdir()
    (app / "x").write_text("x")
    base = {"kernel": str(HELLO / "bzImage"), "bootstrap": None, "cmdline": "x"}
    with pytest.raises(InputError, match="--rootfs without --cmd"):
        make_image(BuildInputs(**base, rootfs=str(app), ramdisks=[str(HELLO / "init.cpio")]))
    with build_image(
        BuildInputs(**base, rootfs=str(app), ramdisks=[str(HELLO / "init.cpio")], force=True)
    ) as built:
        assert any("--rootfs without --cmd" in f.message for f in built.findings)


def test_build_timings_line_adds_up(tmp_path, capsys):
    """--timings: one stderr line whose stages are each >= 0 and add up to no more than
    the total (they are shares of one thread's wall time)."""
    import re

    from eifkit.cli import main

    ramdisk = tmp_path / "r.bin"
    ramdisk.write_bytes(os.urandom(3 << 20))
    kernel = ROOT / "examples" / "hello" / "bzImage"
    out = tmp_path / "o.eif"
    argv = ["build", "--kernel", str(kernel), "--initrd", str(ramdisk), "--cmdline", "x"]
    assert main([*argv, "--no-lint", "-q", "-o", str(out), "--timings"]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "timings:" in line]
    assert len(lines) == 1, err
    numbers = [float(x) for x in re.findall(r"(\d+\.\d\d) s", lines[0])]
    total, stages = numbers[0], numbers[1:]
    assert len(stages) == 5 and all(x >= 0 for x in stages)
    assert sum(stages) <= total + 0.02
    assert main([*argv, "--no-lint", "-q", "-o", str(out)]) == 0
    assert "timings" not in capsys.readouterr().err
