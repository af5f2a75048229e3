"""AWS's own eif_build vectors: we must rebuild, read, measure and rewrite them exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eifkit import measure_image, read, write
from eifkit.cli import main
from tests import naive
from tests.conftest import VECTORS, expected_pcrs, load_manifest

MANIFEST = load_manifest()
UNSIGNED = [n for n, c in MANIFEST.items() if "--private-key" not in c["args"]]
ALL = list(MANIFEST)


def _algo(case: dict) -> str:
    args = case["args"]
    return args[args.index("--algo") + 1] if "--algo" in args else "sha384"


def _build_args(name: str, out: Path) -> list[str]:
    args = list(MANIFEST[name]["args"])
    args[args.index("--output") + 1] = str(out)
    return args


@pytest.mark.parametrize("name", UNSIGNED)
def test_rebuild_is_byte_identical(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(VECTORS)
    out = tmp_path / f"{name}.eif"
    assert main(["build", *_build_args(name, out), "--eif-build-compat", "--json"]) == 0
    assert out.read_bytes() == (VECTORS / f"{name}.eif").read_bytes()
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"Measurements": expected_pcrs(MANIFEST[name])}


@pytest.mark.parametrize("name", ["basic-x86_64", "custom-metadata"])
def test_rebuild_with_explicit_metadata_flags(name, tmp_path, monkeypatch, capsys):
    """Without --eif-build-compat the same bytes come from spelling the values out."""
    monkeypatch.chdir(VECTORS)
    out = tmp_path / "x.eif"
    args = _build_args(name, out)
    name_value = args[args.index("--name") + 1]
    extra = ["--version", name_value]
    if "--build-tool" not in args:
        extra += ["--build-tool", "eif_build", "--build-tool-version", "0.3.1"]
    assert main(["build", *args, *extra]) == 0
    assert out.read_bytes() == (VECTORS / f"{name}.eif").read_bytes()
    capsys.readouterr()


@pytest.mark.parametrize("name", ALL)
def test_read_write_original_is_identical(name, tmp_path):
    src = VECTORS / f"{name}.eif"
    image = read(src)
    result = write(image, tmp_path / "out.eif", layout="original", crc="compute")
    assert (tmp_path / "out.eif").read_bytes() == src.read_bytes()
    assert result.crc32 == image.stored_crc


@pytest.mark.parametrize("name", ALL)
def test_read_write_canonical_is_identical_for_aws_files(name, tmp_path):
    src = VECTORS / f"{name}.eif"
    write(read(src), tmp_path / "out.eif", layout="canonical")
    assert (tmp_path / "out.eif").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("name", ALL)
def test_measurements_match_eif_build_output(name):
    case = MANIFEST[name]
    image = read(VECTORS / f"{name}.eif")
    m = measure_image(image, _algo(case))
    assert m.as_dict() == expected_pcrs(case)
    assert m.crc32 == image.stored_crc
    data = (VECTORS / f"{name}.eif").read_bytes()
    assert m.crc32 == naive.crc_of_file(data)


@pytest.mark.parametrize("name", ALL)
def test_describe_json(name, capsys):
    case = MANIFEST[name]
    args = ["describe", str(VECTORS / f"{name}.eif"), "--json", "--algo", _algo(case)]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    signed = "--private-key" in case["args"]
    nitro_cli_fields = ["EifVersion", "Measurements", "IsSigned"]
    nitro_cli_fields += (
        ["SigningCertificate", "CheckCRC", "SignatureCheck"] if signed else ["CheckCRC"]
    )
    nitro_cli_fields += ["ImageName", "ImageVersion", "Metadata"]
    assert list(out)[: len(nitro_cli_fields)] == nitro_cli_fields
    if signed:
        assert out["SignatureCheck"] is True
        assert list(out["SigningCertificate"]) == [
            "IssuerName",
            "Algorithm",
            "NotBefore",
            "NotAfter",
            "Signature",
        ]
    assert out["CheckCRC"] is True
    assert out["Measurements"] == expected_pcrs(case)
    assert out["IsSigned"] == ("--private-key" in case["args"])
    args_ = case["args"]
    if "--name" in args_:
        assert out["ImageName"] == args_[args_.index("--name") + 1]
    assert out["Metadata"]["BuildTime"] == "2024-06-21T12:00:00+00:00"
    assert out["Cmdline"] == args_[args_.index("--cmdline") + 1]
    assert out["Arch"] == ("aarch64" if "aarch64" in args_ else "x86_64")
    assert [s["Type"] for s in out["Sections"]][:3] == ["kernel", "cmdline", "metadata"]
    assert out["FileSize"] == (VECTORS / f"{name}.eif").stat().st_size


def test_describe_flattens_custom_metadata_like_nitro_cli(capsys):
    assert main(["describe", str(VECTORS / "custom-metadata.eif"), "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)["Metadata"]
    custom = json.loads((VECTORS / "inputs" / "custom-metadata.json").read_text())
    assert list(meta)[:6] == [
        "BuildTime",
        "BuildTool",
        "BuildToolVersion",
        "OperatingSystem",
        "KernelVersion",
        "DockerInfo",
    ]
    assert meta["OperatingSystem"] == "Linux" and meta["KernelVersion"] == "6.1.0"
    for key in custom:
        assert key in meta
    assert list(meta)[6:] == sorted(custom)


def test_three_ramdisks_pcr2_covers_ramdisks_1_and_2():
    inputs = VECTORS / "inputs"
    r1 = (inputs / "ramdisk1.bin").read_bytes()
    r2 = (inputs / "ramdisk2.bin").read_bytes()
    m = measure_image(read(VECTORS / "three-ramdisks.eif"))
    assert m.pcr2.hex() == naive.pcr(r1 + r2)
