"""Golden EIFs: made by golden/make.py, checked against an independent computation."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from eifkit.cli import main
from tests import naive
from tests.conftest import ROOT

GOLDEN = ROOT / "golden"
EIFS = sorted(p.name for p in GOLDEN.glob("*.eif"))


def _load_make():
    import importlib.util

    spec = importlib.util.spec_from_file_location("golden_make", GOLDEN / "make.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_there_are_golden_files():
    assert len(EIFS) >= 3


def test_regenerating_gives_the_committed_bytes(tmp_path):
    made = _load_make().make(tmp_path)
    assert sorted(p.name for p in made) == EIFS
    for name in EIFS:
        for f in (name, name.replace(".eif", ".describe.json")):
            assert (tmp_path / f).read_bytes() == (GOLDEN / f).read_bytes(), f


@pytest.mark.parametrize("name", EIFS)
def test_golden_crc_and_pcrs_match_naive_reference(name):
    data = (GOLDEN / name).read_bytes()
    golden = json.loads((GOLDEN / name.replace(".eif", ".describe.json")).read_text())
    stored = struct.unpack(">I", data[544:548])[0]
    assert naive.crc_of_file(data) == stored == golden["CRC"]["Stored"] == golden["CRC"]["Computed"]
    ref = naive.pcrs_of_file(data)
    assert {k: golden["Measurements"][k] for k in ref} == ref
    assert golden["FileSize"] == len(data)


@pytest.mark.parametrize("name", EIFS)
def test_describe_json_matches_golden(name, capsys):
    args = ["describe", str(GOLDEN / name), "--json"]
    if name == "odd-layout.eif":
        args.append("--lenient")
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    out["File"] = name
    golden = json.loads((GOLDEN / name.replace(".eif", ".describe.json")).read_text())
    assert out == golden


def test_odd_layout_needs_lenient(capsys):
    assert main(["describe", str(GOLDEN / "odd-layout.eif")]) == 2
    assert "type is 7" in capsys.readouterr().err


def test_golden_metadata_fields():
    g = json.loads((GOLDEN / "aarch64-custom-metadata.describe.json").read_text())
    assert g["Arch"] == "aarch64"
    assert g["Metadata"]["big"] == 1e16 and g["Metadata"]["ratio"] == 1e-7
    raw = (GOLDEN / "aarch64-custom-metadata.eif").read_bytes()
    assert b'"CustomMetadata":{"big":1e16,"list":[1,-0.0],"ratio":1e-7,"team":"enclaves"}' in raw
    assert Path(GOLDEN / "README.md").is_file()
