"""Kernel modules in ramdisks are checked against the EIF's kernel and CPU (issue 12, item 7).

A real boot with AWS's 4.14 nsm.ko on a 6.1 kernel panics ("disagrees about version of
symbol module_layout"). The modules here are made by the real toolchain (gcc, then
objcopy adds the .modinfo section, as kbuild's modpost output carries it) and read back
by readelf as an independent check of eifkit's own ELF reading.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from eifkit.cli import main
from eifkit.inspect.kmod import module_info

HELLO = Path(__file__).resolve().parents[1] / "examples" / "hello"
TOOLS = ("gcc", "objcopy", "readelf")
pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in TOOLS), reason=f"needs {', '.join(TOOLS)}"
)


def make_module(folder: Path, vermagic: str, machine: int | None = None) -> Path:
    src, obj, info = folder / "m.c", folder / "m.o", folder / "modinfo"
    src.write_text("int nsm_stub;\n")
    subprocess.run(["gcc", "-c", str(src), "-o", str(obj)], check=True)
    info.write_bytes(f"vermagic={vermagic}\0name=nsm\0license=GPL\0".encode())
    ko = folder / "nsm.ko"
    subprocess.run(["objcopy", "--add-section", f".modinfo={info}", str(obj), str(ko)], check=True)
    if machine is not None:  # e_machine, little-endian, at offset 18
        data = bytearray(ko.read_bytes())
        data[18:20] = machine.to_bytes(2, "little")
        ko.write_bytes(bytes(data))
    for p in (src, obj, info):
        p.unlink()
    return ko


def test_vermagic_and_machine_agree_with_readelf(tmp_path):
    ko = make_module(tmp_path, "6.1.0-18-amd64 SMP preempt mod_unload modversions ")
    info = module_info(ko.read_bytes())
    strings = subprocess.run(
        ["readelf", "-p", ".modinfo", str(ko)], capture_output=True, text=True, check=True
    ).stdout
    assert f"vermagic={info.vermagic} " in strings  # readelf shows the trailing space too
    header = subprocess.run(["readelf", "-h", str(ko)], capture_output=True, text=True).stdout
    assert "X86-64" in header and info.arch == "x86_64"
    assert (info.name, info.kernel_release) == ("nsm", "6.1.0-18-amd64")


def test_no_modinfo_and_not_elf_give_nothing(tmp_path):
    assert module_info(b"not an ELF file").vermagic is None
    src = tmp_path / "m.c"
    src.write_text("int x;\n")
    subprocess.run(["gcc", "-c", str(src), "-o", str(tmp_path / "m.o")], check=True)
    data = (tmp_path / "m.o").read_bytes()
    assert module_info(data).vermagic is None and module_info(data).arch == "x86_64"
    assert module_info(data[:200]).vermagic is None  # section table cut off


def build(tmp_path: Path, ko: Path, *extra: str) -> tuple[int, str]:
    boot = tmp_path / "bootstrap"
    boot.mkdir(exist_ok=True)
    shutil.copy(HELLO / "init", boot / "init")
    shutil.copy(ko, boot / "nsm.ko")
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(
            [
                "build", "--kernel", str(HELLO / "bzImage"), "--bootstrap", str(boot),
                "--cmdline", "console=ttyS0", "-o", str(tmp_path / "a.eif"), "--quiet", *extra,
            ]
        )  # fmt: skip
    return code, err.getvalue()


@pytest.mark.parametrize(
    "vermagic, machine, problem",
    [
        ("4.14.177-104.253.amzn2.x86_64 SMP mod_unload modversions ", None, "built for kernel"),
        ("6.1.192 SMP mod_unload ", 183, "is for aarch64, the EIF is x86_64"),
    ],
)
def test_a_module_for_another_kernel_or_cpu_refuses_the_build(tmp_path, vermagic, machine, problem):
    ko = make_module(tmp_path, vermagic, machine)
    code, err = build(tmp_path, ko)
    assert code == 2 and problem in err and "nsm.ko" in err, err
    assert not (tmp_path / "a.eif").exists()
    code, err = build(tmp_path, ko, "--force")
    assert code == 0, err
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["describe", "--json", str(tmp_path / "a.eif")]) == 0
    lint = [f["Message"] for f in json.loads(out.getvalue())["Lint"] if f["Level"] == "error"]
    assert any(problem in m for m in lint), lint


def test_a_module_for_the_eifs_kernel_passes(tmp_path):
    # The hello kernel's version string starts "6.1.192 (eifkit@eifkit) #1 ..."
    ko = make_module(tmp_path, "6.1.192 SMP mod_unload ")
    code, err = build(tmp_path, ko)
    assert code == 0 and "nsm.ko" not in err, err
