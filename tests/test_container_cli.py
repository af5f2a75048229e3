"""`eifkit initramfs --image` / `--nitro-bootstrap`: nitro-cli's ramdisks from the command
line, checked against nitro-cli 1.5.0's own outputs in shared/vectors/nitro-cli."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import pytest

from eifkit.cli import main
from tests.conftest import VECTORS

NITRO = VECTORS / "nitro-cli"


def _index() -> dict:
    path = NITRO / "INDEX.json"
    return json.loads(path.read_text())["cases"] if path.is_file() else {}


CASES = [name for name, case in _index().items() if case["known_issue"] is None]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def pcr(data: bytes) -> str:
    return hashlib.sha384(bytes(48) + hashlib.sha384(data).digest()).hexdigest()


@pytest.mark.parametrize("form", ["docker-save.tar", "oci-layout:v1"])
@pytest.mark.parametrize("case", CASES)
def test_customer_ramdisk_from_each_form_is_nitro_clis(tmp_path, case, form):
    folder = NITRO / case
    out = tmp_path / "customer.cpio"
    code, stdout, err = run("initramfs", "--image", f"{folder}/{form}", "-o", str(out))
    assert code == 0, err
    # skopeo drops an empty Cmd: [] when it writes the OCI layout (c5): nitro-cli then
    # uses the Entrypoint; the vector records that result separately.
    oci_variant = folder / "customer.via-oci-layout.cpio"
    expected = (
        oci_variant if form.startswith("oci") and oci_variant.exists() else folder / "customer.cpio"
    )
    assert out.read_bytes() == expected.read_bytes()
    if expected.name == "customer.cpio":
        assert f"PCR2  {_index()[case]['PCR2']}" in stdout
    assert f"PCR2  {pcr(expected.read_bytes())}" in stdout


def test_bootstrap_ramdisk_from_the_blobs_is_nitro_clis(tmp_path):
    out = tmp_path / "bootstrap.cpio"
    code, _, err = run("initramfs", "--nitro-bootstrap", str(NITRO / "bootstrap"), "-o", str(out))
    assert code == 0, err
    assert out.read_bytes() == (NITRO / "bootstrap" / "bootstrap.cpio").read_bytes()


def test_what_newc_cannot_hold_is_refused_and_nothing_is_written(tmp_path):
    out = tmp_path / "c6.cpio"
    code, _, err = run(
        "initramfs",
        "--image",
        str(NITRO / "c6-mtime-over-32bit" / "docker-save.tar"),
        "-o",
        str(out),
    )
    assert code == 2 and "does not fit the 8 hex digits" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_unreproducible_cases_are_warned_about(tmp_path):
    code, _, err = run(
        "initramfs", "--image", str(NITRO / "c8-crosslayer-hardlinks" / "docker-save.tar"),
        "-o", str(tmp_path / "c8.cpio"),
    )  # fmt: skip
    assert code == 0 and "overlay2" in err, err
    code, _, err = run(
        "initramfs", "--image", str(NITRO / "c7-implicit-parents" / "docker-save.tar"),
        "-o", str(tmp_path / "c7.cpio"),
    )  # fmt: skip
    assert code == 0 and "eifkit: warning:" in err, err


def test_one_source_at_a_time(tmp_path):
    code, _, err = run("initramfs", "-o", str(tmp_path / "x.cpio"))
    assert code == 2 and "give one of DIR, --image IMAGE or --nitro-bootstrap BLOBS" in err
    code, _, err = run("initramfs", str(tmp_path), "--image", "x.tar", "-o", str(tmp_path / "x"))
    assert code == 2 and "give one of" in err


def _blobs(tmp_path: Path, cmdline: bytes) -> Path:
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    for name in ("init", "nsm.ko"):
        (blobs / name).write_bytes((NITRO / "bootstrap" / name).read_bytes())
    hello = Path(__file__).resolve().parents[1] / "examples" / "hello"
    (blobs / "bzImage").write_bytes((hello / "bzImage").read_bytes())
    (blobs / "cmdline").write_bytes(cmdline)
    return blobs


def test_pcr_of_an_image_equals_the_eif_built_from_the_same_parts(tmp_path):
    # nitro-cli trims the cmdline file as Rust's str::trim does (an em space included).
    blobs = _blobs(tmp_path, b" \tconsole=ttyS0 reboot=k \xe2\x80\x83\n")
    image = f"{NITRO / 'c3-multilayer'}/docker-save.tar"
    code, stdout, err = run("pcr", "--image", image, "--blobs", str(blobs), "--json")
    assert code == 0, err
    predicted = json.loads(stdout)
    # The independent way: write both ramdisks, build an EIF with eifkit, measure it.
    boot, customer, eif = tmp_path / "b.cpio", tmp_path / "c.cpio", tmp_path / "a.eif"
    assert run("initramfs", "--nitro-bootstrap", str(blobs), "-o", str(boot))[0] == 0
    assert run("initramfs", "--image", image, "-o", str(customer))[0] == 0
    code, _, err = run(
        "build", "--kernel", str(blobs / "bzImage"), "--cmdline", "console=ttyS0 reboot=k",
        "--initrd", str(boot), "--initrd", str(customer), "-o", str(eif), "--quiet",
        "--no-lint",
    )  # fmt: skip
    assert code == 0, err
    code, stdout, _ = run("pcr", str(eif), "--json")
    measured = json.loads(stdout)
    assert {k: predicted[k] for k in ("PCR0", "PCR1", "PCR2")} == {
        k: measured[k] for k in ("PCR0", "PCR1", "PCR2")
    }
    assert predicted["PCR2"] == _index()["c3-multilayer"]["PCR2"]


def test_pcr_of_an_image_needs_the_blobs_parts(tmp_path):
    blobs = _blobs(tmp_path, b"x")
    (blobs / "bzImage").unlink()
    image = f"{NITRO / 'c1-entrypoint-only'}/docker-save.tar"
    code, _, err = run("pcr", "--image", image, "--blobs", str(blobs))
    assert code == 2 and "no bzImage" in err
    code, _, err = run("pcr", "--image", image, "--blobs", str(tmp_path / "none"))
    assert code == 2 and "no blobs folder" in err


@pytest.mark.parametrize("form", ["docker-save.tar", "oci-layout:v1"])
def test_build_from_an_image_is_the_eif_nitro_cli_would_build(tmp_path, monkeypatch, form):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    blobs = _blobs(tmp_path, b"console=ttyS0 reboot=k\n")
    image = f"{NITRO / 'c1-entrypoint-only'}/{form}"
    eif = tmp_path / "app.eif"
    code, _, err = run("build", "--image", image, "--blobs", str(blobs), "-o", str(eif), "-q")
    assert code == 0, err
    code, predicted, _ = run("pcr", "--image", image, "--blobs", str(blobs), "--json")
    code, measured, _ = run("pcr", str(eif), "--json")
    assert json.loads(measured) == json.loads(predicted)
    assert json.loads(measured)["PCR2"] == _index()["c1-entrypoint-only"]["PCR2"]
    code, described, _ = run("describe", "--json", str(eif))
    info = json.loads(described)
    inspect = json.loads((NITRO / "c1-entrypoint-only" / "docker-inspect.json").read_text())
    docker_info = info["Metadata"]["DockerInfo"]
    for key in ("Created", "Architecture", "Os"):
        assert docker_info[key] == inspect[key], key
    if form == "docker-save.tar":  # the OCI layout keeps only the tag "v1"
        assert docker_info["Id"] == inspect["Id"]
        assert docker_info["RepoTags"] == inspect["RepoTags"]
        assert info["ImageName"] == inspect["RepoTags"][0].split(":")[0]
    else:  # skopeo rewrote the config in the OCI schema: its digest is the layout's
        layout = NITRO / "c1-entrypoint-only" / "oci-layout"
        index = json.loads((layout / "index.json").read_text())
        manifest_hex = index["manifests"][0]["digest"].split(":")[1]
        manifest = json.loads((layout / "blobs" / "sha256" / manifest_hex).read_text())
        assert docker_info["Id"] == manifest["config"]["digest"]
    assert info["ImageVersion"] == docker_info["Id"].removeprefix("sha256:")


def test_build_from_an_image_refuses_other_ramdisks_and_another_arch(tmp_path):
    blobs = _blobs(tmp_path, b"console=ttyS0\n")
    image = f"{NITRO / 'c1-entrypoint-only'}/docker-save.tar"
    out = str(tmp_path / "a.eif")
    code, _, err = run(
        "build", "--image", image, "--blobs", str(blobs), "--initrd", image, "-o", out
    )
    assert code == 2 and "makes its own two ramdisks" in err
    code, _, err = run(
        "build", "--image", image, "--blobs", str(blobs), "--arch", "aarch64", "-o", out
    )
    assert code == 2 and ("aarch64" in err or "arm64" in err), err
    assert not (tmp_path / "a.eif").exists()


def test_diff_names_the_layer_behind_a_pcr2_change(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    c1 = f"{NITRO / 'c1-entrypoint-only'}/docker-save.tar"
    c3 = f"{NITRO / 'c3-multilayer'}/docker-save.tar"
    code, stdout, err = run("diff", c1, c3, "--json")
    assert code == 1, err
    d = json.loads(stdout)
    assert d["PCR2"]["A"] == _index()["c1-entrypoint-only"]["PCR2"]
    assert d["PCR2"]["B"] == _index()["c3-multilayer"]["PCR2"] and not d["PCR2"]["Same"]
    # Every file c3 adds is named with the layer that holds it; check them against the
    # vector's own record of what each layer contains.
    manifest = json.loads((NITRO / "c3-multilayer" / "MANIFEST.json").read_text())
    assert d["Added"]
    for path in d["Added"]:
        assert path in d["Layers"]["B"], path
    contents = json.dumps(manifest["image_contents"])
    top = [p for p in d["Added"] if d["Layers"]["B"][p].startswith("layer 2 ")]
    assert top and all(p.removeprefix("rootfs/").rstrip("/") in contents for p in top)


def test_diff_of_an_eif_and_the_image_it_was_built_from_is_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    blobs = _blobs(tmp_path, b"console=ttyS0\n")
    image = f"{NITRO / 'c3-multilayer'}/docker-save.tar"
    eif = tmp_path / "a.eif"
    assert run("build", "--image", image, "--blobs", str(blobs), "-o", str(eif), "-q")[0] == 0
    code, stdout, err = run("diff", str(eif), image, "--json")
    assert code == 0, err
    d = json.loads(stdout)
    assert d["PCR2"]["Same"] and (d["Added"], d["Removed"], d["Changed"], d["Encoding"]) == (
        [],
        [],
        [],
        [],
    )
