"""`eifkit build --image` makes the customer ramdisk while it writes the EIF (no ramdisk
on disk): the EIF must be the bytes of the ordinary build from the two ramdisks
written to files first (`eifkit initramfs`, then `build --initrd`), and a failure
while streaming must leave nothing at the output path."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
from pathlib import Path

import pytest

from eifkit.build import BuildInputs, build_image
from eifkit.container import open_image
from eifkit.container.bootstrap import Blobs
from eifkit.container.eif import nitro_cli_build_inputs
from eifkit.container.folder import rootfs_source
from eifkit.container.linuxkit import CpioEntry, LayerBytes, NewcEncoder, newc_size
from eifkit.errors import InputError
from eifkit.sources import GeneratedSource
from eifkit.writer import write
from tests.test_container_cli import CASES, NITRO, _blobs, _index, run


def _built_both_ways(tmp_path: Path, image_spec: str, blobs: Path) -> tuple[bytes, bytes]:
    streamed = tmp_path / "streamed.eif"
    code, _, err = run(
        "build", "--image", image_spec, "--blobs", str(blobs), "-o", str(streamed), "-q"
    )  # fmt: skip
    assert code == 0, err
    # The ordinary path: both ramdisks written to files, then built as --initrd files
    # with the same metadata values the image build chose.
    boot, customer = tmp_path / "b.cpio", tmp_path / "c.cpio"
    assert run("initramfs", "--nitro-bootstrap", str(blobs), "-o", str(boot))[0] == 0
    assert run("initramfs", "--image", image_spec, "-o", str(customer))[0] == 0
    with open_image(image_spec) as image:
        chosen, _ = nitro_cli_build_inputs(BuildInputs(kernel=""), image, Blobs.find(blobs))
    from_files = dataclasses.replace(
        chosen, ramdisk_sources=(), ramdisks=(str(boot), str(customer))
    )
    ordinary = tmp_path / "ordinary.eif"
    with build_image(from_files) as built:
        write(built.image, ordinary)
    return streamed.read_bytes(), ordinary.read_bytes()


@pytest.mark.parametrize("case", CASES)
def test_streamed_build_is_the_build_from_written_ramdisks(tmp_path, monkeypatch, case):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    blobs = _blobs(tmp_path, b"console=ttyS0 reboot=k\n")
    spec = f"{NITRO / case}/docker-save.tar"
    streamed, ordinary = _built_both_ways(tmp_path, spec, blobs)
    assert streamed == ordinary
    # and the customer ramdisk inside is nitro-cli's own (recorded in the vector)
    assert (NITRO / case / "customer.cpio").read_bytes() in streamed


def test_cpio_size_is_known_before_any_data_is_read(tmp_path):
    entries = [
        CpioEntry("rootfs", "d", 0o755),
        CpioEntry("rootfs/a", "-", 0o644, body=b"x" * 5),
        CpioEntry("rootfs/\u00e9t\u00e9", "-", 0o644, body=LayerBytes(0, 0, 1000)),
    ]
    # each: 110-byte header + name and NUL, padded to 4; data padded to 4; then the
    # trailer; then zeros to a multiple of 512
    by_hand = (110 + 7 + 3) + (110 + 9 + 1 + 5 + 3) + (110 + 13 + 1 + 1000) + (110 + 11 + 3)
    assert by_hand == 1496
    assert newc_size(entries) == 1536
    encoded = NewcEncoder(lambda where: iter([bytes(where.size)])).archive(entries)
    assert len(b"".join(encoded)) == 1536
    assert newc_size(entries[:2]) == 512  # 372 bytes before the padding


def _pieces(*pieces: bytes) -> GeneratedSource:
    return GeneratedSource(sum(map(len, pieces)), lambda: iter(pieces), "made")


def test_generated_source_fills_each_buffer_across_pieces():
    pieces = (b"abc", b"", b"defghij", b"k" * 20, b"lm")
    source = _pieces(*pieces)
    chunks = [bytes(c) for c in source.chunks(buffer_size=7)]
    assert b"".join(chunks) == b"".join(pieces)
    assert [len(c) for c in chunks] == [7, 7, 7, 7, 4]


def test_generated_source_that_makes_more_than_it_promised_is_refused():
    source = GeneratedSource(4, lambda: iter([b"abc", b"de"]), "made")
    with pytest.raises(InputError, match="more than the 4 bytes"):
        list(source.chunks(buffer_size=2))


def test_a_layer_that_fails_its_digest_while_streaming_leaves_no_output(tmp_path):
    """The plain layers' digests are checked on a worker thread while the EIF is
    written: a changed byte of file data (the tar headers intact) is found at the
    end, and neither the EIF nor its temporary file is left."""
    source = NITRO / "c1-entrypoint-only" / "docker-save.tar"
    archive = tmp_path / "in" / "save.tar"
    archive.parent.mkdir()
    with tarfile.open(source) as tar:
        layer = next(info for info in tar if info.name.endswith("/layer.tar"))
    data = bytearray(source.read_bytes())
    data[layer.offset_data + layer.size // 2] ^= 1  # inside bin/busybox's body
    archive.write_bytes(bytes(data))
    blobs = _blobs(tmp_path, b"console=ttyS0\n")
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = run(
        "build", "--image", str(archive), "--blobs", str(blobs), "-o", str(out / "a.eif")
    )  # fmt: skip
    assert code != 0 and "layer.tar" in err and "sha256 is" in err
    assert os.listdir(out) == []


def _docker_save(path: Path, files: dict[str, bytes]) -> Path:
    """A one-layer `docker save` archive (legacy format) holding ``files``."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return _save_of_layer(path, layer.getvalue())


def _save_of_layer(path: Path, layer_bytes: bytes, cmd: tuple[str, ...] = ("/bin/app",)) -> Path:
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": list(cmd), "Env": ["A=1"]},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(layer_bytes).hexdigest()],
            },
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": ["t:1"], "Layers": ["l/layer.tar"]}]
    with tarfile.open(path, "w") as tar:
        for name, data in (
            (config_name, config),
            ("manifest.json", json.dumps(manifest).encode()),
            ("l/layer.tar", layer_bytes),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.skipif(not all(shutil.which(t) for t in ("gcc", "objcopy")), reason="needs gcc")
def test_a_module_in_the_image_is_linted_as_in_the_written_ramdisk(tmp_path):
    """The streamed customer ramdisk cannot be reopened as a file: its lint reads the
    .ko files from the layers; it must say what the lint of the written cpio says."""
    from tests.test_kmod import make_module

    ko = make_module(tmp_path, "4.14.177-104.253.amzn2.x86_64 SMP mod_unload ")
    image = _docker_save(
        tmp_path / "save.tar", {"bin/app": b"#!/bin/sh\n", "lib/m/nsm.ko": ko.read_bytes()}
    )
    blobs = _blobs(tmp_path, b"console=ttyS0\n")
    code, _, streamed = run(
        "build", "--image", str(image), "--blobs", str(blobs), "-o", str(tmp_path / "a.eif")
    )  # fmt: skip
    assert code == 2 and not (tmp_path / "a.eif").exists()
    boot, customer = tmp_path / "b.cpio", tmp_path / "c.cpio"
    assert run("initramfs", "--nitro-bootstrap", str(blobs), "-o", str(boot))[0] == 0
    assert run("initramfs", "--image", str(image), "-o", str(customer))[0] == 0
    code, _, ordinary = run(
        "build", "--kernel", str(blobs / "bzImage"), "--cmdline", "console=ttyS0",
        "--initrd", str(boot), "--initrd", str(customer), "-o", str(tmp_path / "b.eif"),
    )  # fmt: skip
    assert code == 2
    problem = "ramdisk 1's /rootfs/lib/m/nsm.ko was built for kernel 4.14.177"
    assert problem in streamed and problem in ordinary
    refusal = [line.split("ramdisk 1's")[1] for line in (streamed, ordinary)]
    assert refusal[0] == refusal[1]


def _extract_layer(case: str, into: Path) -> None:
    """The only layer of a vector image, extracted by Python's tarfile (not eifkit)
    with its owners, modes and mtimes, as a user would with ``tar --same-owner -xpf``."""
    with tarfile.open(NITRO / case / "docker-save.tar") as save:
        (legacy,) = json.load(save.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert len(legacy["Layers"]) == 1
        layer = save.extractfile(legacy["Layers"][0])
        with tarfile.open(fileobj=io.BytesIO(layer.read())) as tar:  # type: ignore[union-attr]
            tar.extractall(into, numeric_owner=True, filter="fully_trusted")
            # tarfile leaves a symlink's own mtime at "now" (GNU tar sets it)
            for info in tar:
                if info.issym():
                    times = (info.mtime, info.mtime)
                    os.utime(into / info.name, times, follow_symlinks=False)


def _items(path: Path) -> list[str]:
    return path.read_bytes().decode().splitlines()


ONE_LAYER_CASES = [
    c for c in CASES if c in ("c1-entrypoint-only", "c2-cmd-entrypoint-env", "c5-names-mtimes-ids")
]


@pytest.mark.skipif(os.geteuid() != 0, reason="keeping the vectors' owners needs root")
@pytest.mark.parametrize("case", ONE_LAYER_CASES)
def test_rootfs_folder_in_nitro_cli_form_is_nitro_clis_customer_ramdisk(tmp_path, case):
    rootfs = tmp_path / "rootfs"
    _extract_layer(case, rootfs)
    blobs = _blobs(tmp_path, b"console=ttyS0\n")
    args = ["--cmd=" + item for item in _items(NITRO / case / "cmd")]
    args += ["--env=" + item for item in _items(NITRO / case / "env")]
    if not _items(NITRO / case / "cmd"):  # c5: Cmd [] (nitro-cli runs nothing)
        args.append("--force")
    eif = tmp_path / "a.eif"
    code, stdout, err = run(
        "build", "--kernel", str(blobs / "bzImage"), "--cmdline", "console=ttyS0",
        "--bootstrap", str(blobs), "--rootfs", str(rootfs), "--cpio-format", "nitro-cli",
        *args, "-o", str(eif),
    )  # fmt: skip
    assert code == 0, err
    assert f"PCR2  {_index()[case]['PCR2']}" in stdout
    built = eif.read_bytes()
    for expected in (NITRO / case / "customer.cpio", NITRO / "bootstrap" / "bootstrap.cpio"):
        assert expected.read_bytes() in built
    # the default form is eifkit's own: not nitro-cli's bytes (and it keeps the blob
    # files' modes: _blobs's init is 0644, which the nitro-cli form ignores)
    (blobs / "init").chmod(0o755)
    code, stdout, err = run(
        "build", "--kernel", str(blobs / "bzImage"), "--cmdline", "console=ttyS0",
        "--bootstrap", str(blobs), "--rootfs", str(rootfs), *args, "-o", str(eif),
    )  # fmt: skip
    assert code == 0 and f"PCR2  {_index()[case]['PCR2']}" not in stdout, err


def test_nitro_cli_form_needs_a_folder(tmp_path):
    blobs = _blobs(tmp_path, b"console=ttyS0\n")
    code, _, err = run(
        "build", "--kernel", str(blobs / "bzImage"), "--cmdline", "x", "--initrd",
        str(blobs / "init"), "--cpio-format", "nitro-cli", "-o", str(tmp_path / "a.eif"),
    )  # fmt: skip
    assert code == 2 and "goes with --bootstrap or --rootfs" in err


@pytest.mark.skipif(os.geteuid() != 0, reason="device nodes and owners need root")
def test_rootfs_folder_in_nitro_cli_form_is_the_image_of_its_tar(tmp_path):
    """A folder with what a layer may hold (hard links, a FIFO, a device, setuid, owners,
    an empty folder, a socket, which Docker skips) gives the same ramdisk as the image
    whose one layer is Python's tar of it (eifkit's layer path, not the folder walk)."""
    import socket

    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "app").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "bin" / "app").chmod(0o4755)
    os.link(root / "bin" / "app", root / "bin" / "again")
    (root / "bin" / "sh").symlink_to("app")
    (root / "empty").mkdir(mode=0o700)
    os.chown(root / "empty", 1000, 1001)
    os.mkfifo(root / "pipe")
    os.mknod(root / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(root / "sock"))
    for n, path in enumerate(sorted(root.rglob("*"), reverse=True)):
        os.utime(path, (1_600_000_000 + n, 1_600_000_000 + n), follow_symlinks=False)
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(root.rglob("*")):
            if not path.is_socket():
                tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
    image = _save_of_layer(tmp_path / "save.tar", layer.getvalue(), ("/bin/app", "x"))
    from_image = tmp_path / "image.cpio"
    assert run("initramfs", "--image", str(image), "-o", str(from_image))[0] == 0
    source = rootfs_source(str(root), ["/bin/app", "x"], ["A=1"])
    from_folder = b"".join(bytes(c) for c in source.chunks(buffer_size=1000))
    assert from_folder == from_image.read_bytes()
    assert b"rootfs/bin/again" in from_folder and b"rootfs/pipe" in from_folder
    assert b"rootfs/sock" not in from_folder
