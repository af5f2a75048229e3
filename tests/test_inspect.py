"""Kernel and init inspection (real Debian binaries), reproducible initramfs, extract, diff."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import struct
import subprocess
from pathlib import Path

import pytest

from eifkit import read
from eifkit.cli import main
from eifkit.inspect.elf import elf_arch
from eifkit.inspect.initramfs import Entry, app_entries, list_archive, tree_entries, write_archive
from eifkit.inspect.kernel import inspect_kernel
from tests import realkernel
from tests.conftest import ROOT, VECTORS, expected_pcrs, load_manifest

HELLO = ROOT / "examples" / "hello"


def build(*args: str) -> int:
    """eifkit build with these arguments (in this process)."""
    return main(["build", *args])


def build_with_hello_init(kernel: str, out: str, *extra: str) -> int:
    """eifkit build of ``kernel`` with the hello example's init and cmdline "x"."""
    return build(
        "--kernel",
        kernel,
        "--initrd",
        str(HELLO / "init.cpio"),
        "--cmdline",
        "x",
        "-o",
        out,
        *extra,
    )


def _fetch(fn, *args):
    try:
        return fn(*args)
    except Exception as e:
        pytest.fail(f"could not get a Debian package for this test ({e}); CI installs them")


def _file(path: Path) -> str:
    if shutil.which("file") is None:
        pytest.fail("file(1) is needed (apt-get install file)")
    return subprocess.run(["file", "-b", str(path)], capture_output=True, text=True).stdout


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_real_debian_kernels(arch):
    kernel = _fetch(realkernel.fetch, arch)
    info = inspect_kernel(kernel)
    abi = kernel.name.removeprefix("vmlinuz-")  # 6.1.0-56-amd64
    assert info.version is not None and info.version.startswith(abi + " ")
    assert realkernel.deb_version(kernel) in info.version  # 6.1.192-2
    described = _file(kernel)
    if arch == "amd64":
        assert info.format == "bzImage" and info.arch == "x86_64" and info.bootable
        assert "bzImage" in described and f"version {abi}" in described
        assert info.details["BootProtocol"] == "2.15" and info.details["Kernel64"] is True
        assert info.efi_stub and info.pe_machine == "AMD64"
    else:
        assert info.format == "arm64-image" and info.arch == "aarch64" and info.bootable
        assert "ARM64 boot executable Image" in described
        assert ("4K pages" in described) == (info.details["PageSize"] == "4K")
        assert info.efi_stub and info.pe_machine == "ARM64"


def test_hello_kernel_facts():
    info = inspect_kernel(HELLO / "bzImage")
    assert info.format == "bzImage" and info.arch == "x86_64" and not info.efi_stub
    assert info.version.startswith("6.1.192 (eifkit@eifkit) #1 ")
    assert info.details["Kernel64"] is True
    assert f"version {info.version.split()[0]}" in _file(HELLO / "bzImage")


@pytest.mark.parametrize("size", [0x210, 0x240, 0x263])
def test_truncated_bzimage_is_reported_not_a_traceback(tmp_path, capsys, size):
    # The first bytes of the real hello kernel, cut inside the setup header: 0.1 raised
    # IndexError / struct.error here.
    kernel = tmp_path / "short-bzImage"
    kernel.write_bytes((HELLO / "bzImage").read_bytes()[:size])
    info = inspect_kernel(kernel)
    assert (info.format, info.bootable) == ("bzImage", False)
    assert f"{size} bytes" in info.problem
    code = build_with_hello_init(str(kernel), str(tmp_path / "o.eif"))
    err = capsys.readouterr().err
    assert code == 2 and "truncated bzImage" in err and "Traceback" not in err
    assert not (tmp_path / "o.eif").exists()


def _elf_header(ei_class: int, ei_data: int, machine: int) -> bytes:
    fmt = "<" if ei_data == 1 else ">"
    ident = b"\x7fELF" + bytes([ei_class, ei_data, 1, 0]) + bytes(8)
    return (ident + struct.pack(fmt + "HHI", 2, machine, 1)).ljust(64, b"\0")


# (EI_CLASS, EI_DATA, e_machine) -> eifkit's arch, and a word `file` prints for the same
# header (libmagic's own table: an independent reading of the machine field).
ELF_HEADERS = [
    ((2, 1, 62), "x86_64", "x86-64"),
    ((2, 1, 183), "aarch64", "aarch64"),
    ((1, 1, 3), "i386", "80386"),
    ((2, 2, 22), "s390", "S/390"),
    ((2, 2, 21), "ppc64", "64-bit PowerPC"),
    ((2, 1, 243), "riscv", "RISC-V"),
    ((2, 1, 9999), "em_9999", "ELF 64-bit LSB"),
]


@pytest.mark.parametrize("fields, arch, file_says", ELF_HEADERS)
def test_elf_machine_both_byte_orders_agree_with_file(tmp_path, fields, arch, file_says):
    head = _elf_header(*fields)
    assert elf_arch(head) == arch
    path = tmp_path / "h.elf"
    path.write_bytes(head)
    assert file_says in _file(path)


@pytest.mark.parametrize("class_byte", [0, 3, 0xFF])
def test_elf_with_an_invalid_class_byte_is_classified(tmp_path, class_byte):
    # An ELF header whose EI_CLASS is neither 1 nor 2 (0.1: AttributeError from its parser).
    elf = bytearray(_fetch(realkernel.busybox, "amd64").read_bytes()[:4096])
    elf[4] = class_byte
    path = tmp_path / "odd.elf"
    path.write_bytes(bytes(elf))
    info = inspect_kernel(path)
    assert (info.format, info.bootable) == ("elf", False)


@pytest.mark.parametrize("arch, expected", [("amd64", "x86_64"), ("arm64", "aarch64")])
def test_elf_vmlinux_is_refused_by_build(tmp_path, capsys, arch, expected):
    elf = _fetch(realkernel.busybox, arch)  # any ELF stands for a vmlinux here
    info = inspect_kernel(elf)
    assert (info.format, info.arch, info.bootable) == ("elf", expected, False)
    assert info.elf_machine == {"amd64": "X86_64", "arm64": "AARCH64"}[arch]
    code = build_with_hello_init(str(elf), str(tmp_path / "o.eif"))
    assert code == 2 and "an ELF vmlinux" in capsys.readouterr().err
    assert not (tmp_path / "o.eif").exists()


def test_arch_defaults_to_the_kernels_and_contradiction_needs_force(tmp_path, capsys):
    arm = _fetch(realkernel.fetch, "arm64")
    out = tmp_path / "arm.eif"
    assert build_with_hello_init(str(arm), str(out), "--no-lint") == 0
    assert read(out).arch.value == "aarch64"
    capsys.readouterr()
    assert build_with_hello_init(str(arm), str(out), "--arch", "x86_64") == 2
    assert "contradicts the kernel, which is aarch64" in capsys.readouterr().err
    assert (
        build_with_hello_init(str(arm), str(out), "--arch", "x86_64", "--force", "--no-lint") == 0
    )
    assert read(out).arch.value == "x86_64"


def test_compressed_arm64_kernel_is_refused(tmp_path, capsys):
    import gzip

    arm = _fetch(realkernel.fetch, "arm64")
    gz = tmp_path / "vmlinuz.gz"
    with open(arm, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    info = inspect_kernel(gz)
    assert (info.format, info.arch, info.bootable) == ("arm64-gzip", "aarch64", False)
    assert build_with_hello_init(str(gz), str(tmp_path / "o.eif")) == 2
    assert "compressed arm64 kernel" in capsys.readouterr().err


def test_real_arm64_zboot_kernel_is_recognised_and_refused(tmp_path, capsys):
    """A real EFI zboot header (built from Debian's linux-source; see tests/data)."""
    zboot = ROOT / "tests" / "data" / "arm64-zboot" / "vmlinuz.efi.head"
    assert "EFI application) Aarch64" in _file(zboot)
    info = inspect_kernel(zboot)
    assert (info.format, info.arch, info.bootable) == ("arm64-zboot", "aarch64", False)
    assert info.efi_stub and info.pe_machine == "ARM64"
    assert info.details == {"Compression": "gzip"}
    code = build_with_hello_init(str(zboot), str(tmp_path / "o.eif"))
    assert code == 2
    assert "an EFI zboot image (gzip-compressed)" in capsys.readouterr().err
    assert not (tmp_path / "o.eif").exists()


# ------------------------------------------------------------------ init lint with real ELFs


def _ramdisk_with_init(tmp_path: Path, elf: Path, *, nsm: bool) -> Path:
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    shutil.copy(elf, tree / "bin" / "busybox")
    os.chmod(tree / "bin" / "busybox", 0o755)
    os.symlink("bin/busybox", tree / "init")
    if nsm:
        (tree / "nsm.ko").write_bytes(b"\x7fELF module")
    out = tmp_path / "boot.cpio.gz"
    write_archive(tree_entries(tree), out)
    return out


@pytest.mark.parametrize("arch, eif_arch", [("amd64", "x86_64"), ("arm64", "aarch64")])
def test_describe_reports_init_arch_and_lints_mismatch(tmp_path, capsys, arch, eif_arch):
    bb = _fetch(realkernel.busybox, arch)
    boot = _ramdisk_with_init(tmp_path, bb, nsm=True)
    out = tmp_path / "x.eif"
    assert (
        build(
            "--kernel",
            str(HELLO / "bzImage"),
            "--force",
            "--initrd",
            str(boot),
            "--cmdline",
            "x",
            "-o",
            str(out),
        )
        == 0
    )
    err = capsys.readouterr().err
    assert ("is for aarch64, the EIF is x86_64" in err) == (arch == "arm64")
    assert main(["describe", str(out), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    r0 = d["Ramdisks"][0]
    assert r0["Format"] == "cpio.gz" and r0["Entries"] == 4 and r0["HasNsmKo"] is True
    assert r0["Init"] == {
        "Path": "/init",
        "Target": "/bin/busybox",
        "Kind": "file",
        "Executable": True,
        "Arch": eif_arch,
    }
    lint = [x["Message"] for x in d["Lint"]]
    assert any("is for aarch64, the EIF is x86_64" in m for m in lint) == (arch == "arm64")
    assert d["Kernel"]["Format"] == "bzImage" and d["Kernel"]["Arch"] == "x86_64"


def test_lint_finds_missing_init_truncated_cpio_and_app_layout(tmp_path, capsys):
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "hello").write_text("hi")
    noinit = tmp_path / "noinit.cpio"
    write_archive(tree_entries(tree), noinit)
    truncated = tmp_path / "trunc.cpio"
    truncated.write_bytes(noinit.read_bytes()[:150])
    app_root = tmp_path / "app"
    app_root.mkdir()
    (app_root / "x").write_text("x")
    app = tmp_path / "app.cpio"
    write_archive(app_entries(app_root, ["/bin/app", "--serve"], ["A=1"]), app)
    out = tmp_path / "x.eif"
    assert (
        build(
            "--kernel",
            str(HELLO / "bzImage"),
            "--force",  # no /init and a damaged cpio: refused without it
            "--initrd",
            str(noinit),
            "--initrd",
            str(truncated),
            "--initrd",
            str(app),
            "--cmdline",
            "x",
            "-o",
            str(out),
        )
        == 0
    )
    capsys.readouterr()
    assert main(["describe", str(out), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    lint = " | ".join(x["Message"] for x in d["Lint"])
    assert "ramdisk 0 has no /init" in lint
    assert (
        re.search(r"ramdisk 1 \(cpio\) is damaged: offset 112: hello: data truncated", lint)
        or "ramdisk 1 (cpio) is damaged: offset" in lint
    )
    assert d["Ramdisks"][2]["NitroCliAppLayout"] is True


# ------------------------------------------------------------------ initramfs


def _make_tree(root: Path, mtime: int, owner: int) -> None:
    (root / "etc").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "etc" / "conf").write_text("x=1\n")
    (root / "bin" / "app").write_bytes(b"\x7fELF" + bytes(100))
    os.chmod(root / "bin" / "app", 0o755)
    os.symlink("bin/app", root / "init")
    os.link(root / "etc" / "conf", root / "etc" / "conf-hardlink")
    for p in [root, *root.rglob("*")]:
        os.lchown(p, owner, owner)
        os.utime(p, (mtime, mtime), follow_symlinks=False)


def test_initramfs_is_byte_identical_across_folders_mtimes_and_owners(tmp_path):
    a, b = tmp_path / "one" / "tree", tmp_path / "two" / "elsewhere"
    _make_tree(a, 1_000_000, 0)
    _make_tree(b, 1_700_000_000, 1234)
    for suffix in (".cpio", ".cpio.gz"):
        write_archive(tree_entries(a), tmp_path / f"a{suffix}")
        write_archive(tree_entries(b), tmp_path / f"b{suffix}")
        assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes()
    gz = (tmp_path / "a.cpio.gz").read_bytes()
    assert gz[3] == 0 and gz[4:8] == b"\0\0\0\0"  # no file name, mtime 0
    entries = list_archive(tmp_path / "a.cpio")
    assert [e.name for e in entries] == [
        "bin",
        "bin/app",
        "etc",
        "etc/conf",
        "etc/conf-hardlink",
        "init",
    ]
    assert all(e.uid == 0 and e.gid == 0 and e.mtime == 0 for e in entries)
    assert [e.ino for e in entries] == list(range(1, 7))


def test_initramfs_listing_matches_the_kernels_cpio_tool(tmp_path, capsys):
    if shutil.which("cpio") is None:
        pytest.fail("cpio is needed (apt-get install cpio)")
    tree = tmp_path / "tree"
    _make_tree(tree, 5, 0)
    out = tmp_path / "x.cpio"
    assert main(["initramfs", str(tree), "-o", str(out), "--mtime", "42"]) == 0
    with open(out, "rb") as stdin:
        listed = subprocess.run(
            ["cpio", "-itv", "--quiet"], stdin=stdin, capture_output=True, text=True
        ).stdout.splitlines()
    ours = list_archive(out)
    assert [ln.split()[-1] if "->" not in ln else ln.split()[-3] for ln in listed] == [
        e.name for e in ours
    ]
    assert all(" root " in ln or " 0 " in ln for ln in listed)
    assert all(e.mtime == 42 for e in ours)


def test_cpio_tree_cpio_round_trip(tmp_path):
    from eifkit.sources import FileSource
    from eifkit.unpack import unpack_cpio

    tree = tmp_path / "tree"
    _make_tree(tree, 7, 0)
    first = tmp_path / "first.cpio.gz"
    write_archive(tree_entries(tree, mtime=0), first)
    unpack_cpio(FileSource.open(first, "ramdisk"), str(tmp_path / "unpacked"))
    second = tmp_path / "second.cpio.gz"
    write_archive(tree_entries(tmp_path / "unpacked", mtime=0), second)
    assert first.read_bytes() == second.read_bytes()


def test_build_rootfs_and_bootstrap_make_nitro_cli_layout(tmp_path, capsys):
    boot, app = tmp_path / "boot", tmp_path / "app"
    boot.mkdir()
    shutil.copy(HELLO / "init", boot / "init")
    os.chmod(boot / "init", 0o755)
    (boot / "nsm.ko").write_bytes(b"module")
    (app / "srv").mkdir(parents=True)
    (app / "srv" / "index.html").write_text("hello")
    out = tmp_path / "x.eif"
    assert (
        build(
            "--kernel",
            str(HELLO / "bzImage"),
            "--bootstrap",
            str(boot),
            "--rootfs",
            str(app),
            "--cmd",
            "/bin/server",
            "--cmd=--port=80",
            "--env",
            "MODE=prod",
            "--cmdline",
            "x",
            "-o",
            str(out),
        )
        == 0
    )
    assert capsys.readouterr().err == ""  # no lint warnings: init for x86_64, nsm.ko present
    image = read(out)
    from eifkit.inspect.initramfs import iter_members
    from eifkit.sources import open_source

    with open_source(image.ramdisks[1].source) as f:
        members = {m.entry.name: m for m in iter_members(f, keep_data=True)}
    assert members["cmd"].data == b"/bin/server\n--port=80\n"
    assert members["env"].data == b"MODE=prod\n"
    assert members["rootfs/srv/index.html"].data == b"hello"
    assert {f"rootfs/{d}" for d in ("dev", "run", "sys", "var", "proc", "tmp")} <= set(members)
    with open_source(image.ramdisks[0].source) as f:
        assert {m.entry.name for m in iter_members(f)} == {"init", "nsm.ko"}


# ------------------------------------------------------------------ extract


MANIFEST = load_manifest()
UNSIGNED = [n for n, c in MANIFEST.items() if "--private-key" not in c["args"]]


@pytest.mark.parametrize("name", UNSIGNED)
def test_extract_then_build_reproduces_every_unsigned_vector(tmp_path, name, capsys):
    src = VECTORS / f"{name}.eif"
    folder = tmp_path / "parts"
    assert main(["extract", str(src), "-o", str(folder)]) == 0
    args = json.loads((folder / "build-args.json").read_text())
    assert args["reproducible"] is True, args["notes"]
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        algo = (
            ["--algo", MANIFEST[name]["args"][MANIFEST[name]["args"].index("--algo") + 1]]
            if "--algo" in MANIFEST[name]["args"]
            else []
        )
        assert build(*args["args"], "--json", *algo) == 0
    finally:
        os.chdir(cwd)
    assert (folder / "rebuilt.eif").read_bytes() == src.read_bytes()
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{") :])["Measurements"] == expected_pcrs(MANIFEST[name])


def test_extract_signed_vector_explains_why_not_reproducible(tmp_path, capsys):
    assert main(["extract", str(VECTORS / "signed-p384.eif"), "-o", str(tmp_path / "p")]) == 0
    args = json.loads((tmp_path / "p" / "build-args.json").read_text())
    assert args["reproducible"] is False and any("signed" in n for n in args["notes"])
    assert (tmp_path / "p" / "signature.cbor").stat().st_size == 1957


def _evil_cpio(path: Path, members: list[Entry]) -> None:
    write_archive(members, path)


@pytest.mark.parametrize(
    "members, message",
    [
        ([Entry("../evil", stat.S_IFREG | 0o644, size=1, source=b"x")], "goes up with '..'"),
        ([Entry("a/../../evil", stat.S_IFREG | 0o644, size=1, source=b"x")], "goes up with '..'"),
        ([Entry("/etc/evil", stat.S_IFREG | 0o644, size=1, source=b"x")], "absolute path"),
        (
            [
                Entry("link", stat.S_IFLNK | 0o777, size=4, source=b"/tmp"),
                Entry("link/evil", stat.S_IFREG | 0o644, size=1, source=b"x"),
            ],
            "through the symlink 'link'",
        ),
    ],
)
def test_unpack_refuses_path_escapes(tmp_path, capsys, members, message):
    evil = tmp_path / "evil.cpio"
    _evil_cpio(evil, members)
    out = tmp_path / "x.eif"
    hello = str(HELLO / "bzImage")
    assert build_with_hello_init(hello, str(out), "--initrd", str(evil), "--no-lint") == 0
    capsys.readouterr()
    code = main(["extract", str(out), "-o", str(tmp_path / "parts"), "--unpack"])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert not (tmp_path / "evil").exists()
    assert not Path("/tmp/evil").exists() and not Path("/etc/evil").exists()


def test_extract_unpack_hello(tmp_path, capsys):
    out = tmp_path / "h.eif"
    assert build_with_hello_init(str(HELLO / "bzImage"), str(out)) == 0
    assert main(["extract", str(out), "-o", str(tmp_path / "p"), "--unpack"]) == 0
    init = tmp_path / "p" / "ramdisk-0" / "init"
    assert init.read_bytes() == (HELLO / "init").read_bytes()
    assert os.stat(init).st_mode & 0o777 == 0o755


# ------------------------------------------------------------------ diff


def test_diff_names_the_changed_file_and_pcrs(tmp_path, capsys):
    eifs = []
    for n, value in ((1, "a"), (2, "b")):
        app = tmp_path / f"app{n}"
        (app / "etc").mkdir(parents=True)
        (app / "etc" / "config").write_text(value)
        (app / "same").write_text("unchanged")
        cpio = tmp_path / f"app{n}.cpio"
        write_archive(tree_entries(app), cpio)
        out = tmp_path / f"e{n}.eif"
        extra = ["--initrd", str(cpio), "--build-time", "2025-01-01T00:00:00Z", "--no-lint"]
        assert build_with_hello_init(str(HELLO / "bzImage"), str(out), *extra) == 0
        eifs.append(out)
    capsys.readouterr()
    assert main(["diff", str(eifs[0]), str(eifs[1]), "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    pcrs = {p["PCR"]: p for p in d["PCRs"]}
    assert not pcrs["PCR0"]["Same"] and pcrs["PCR0"]["Because"] == ["ramdisk 1 differs"]
    assert not pcrs["PCR2"]["Same"] and pcrs["PCR1"]["Same"]
    assert d["Ramdisks"] == [
        {
            "Ramdisk": 1,
            "Comparable": True,
            "Added": [],
            "Removed": [],
            "Changed": [{"Path": "etc/config", "Changes": ["content"]}],
            "Encoding": [],
        }
    ]
    assert main(["diff", str(eifs[0]), str(eifs[1])]) == 1
    text = capsys.readouterr().out
    assert "PCR2  DIFFERS  because: ramdisk 1 differs" in text and "~ etc/config: content" in text
    assert main(["diff", str(eifs[0]), str(eifs[0])]) == 0


def test_diff_reports_metadata_and_cmdline(capsys):
    assert (
        main(
            [
                "diff",
                str(VECTORS / "basic-x86_64.eif"),
                str(VECTORS / "custom-metadata.eif"),
                "--json",
            ]
        )
        == 1
    )
    d = json.loads(capsys.readouterr().out)
    keys = {m["Key"] for m in d["Metadata"]}
    assert {"ImageName", "BuildMetadata.BuildTool", "CustomMetadata.z"} <= keys
    assert all(p["Same"] for p in d["PCRs"])  # same kernel, cmdline and ramdisks


def test_large_gzip_ramdisks_are_listed_only_with_deep(tmp_path, capsys, monkeypatch):
    import gzip as gz

    import eifkit.inspect.ramdisk as lint

    boot = tmp_path / "boot.cpio.gz"
    with open(HELLO / "init.cpio", "rb") as src, gz.open(boot, "wb") as dst:
        dst.write(src.read())
    out = tmp_path / "x.eif"
    assert (
        build(
            "--kernel",
            str(HELLO / "bzImage"),
            "--initrd",
            str(boot),
            "--cmdline",
            "x",
            "-o",
            str(out),
            "--no-lint",
        )
        == 0
    )
    monkeypatch.setattr(lint, "GZIP_INSPECT_LIMIT", 100)
    capsys.readouterr()
    assert main(["describe", str(out), "--json"]) == 0
    r0 = json.loads(capsys.readouterr().out)["Ramdisks"][0]
    assert r0["Inspected"] is False and r0["Entries"] is None and "--deep" in r0["Error"]
    assert main(["describe", str(out), "--json", "--deep"]) == 0
    r0 = json.loads(capsys.readouterr().out)["Ramdisks"][0]
    assert r0["Inspected"] is True and r0["Entries"] == 3 and r0["Init"]["Arch"] == "x86_64"
