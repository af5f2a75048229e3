"""The malformed-fixture corpus: deterministic, exactly the declared changes, models consistent."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from eifkit import FormatError, read
from eifkit.cli import main
from eifkit.loadertest import (
    CASES,
    DeclarationMismatch,
    EifEditor,
    Part,
    check_declaration,
    check_file,
    generate,
    qemu_crc,
)
from tests import naive


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("corpus")
    return out, generate(out)


def _cases(corpus):
    folder, manifest = corpus
    return [(folder, c) for c in manifest["cases"]]


def test_at_least_50_cases_and_every_disagreement_covered(corpus):
    _, manifest = corpus
    ids = {c["id"] for c in manifest["cases"] if "file" in c}
    assert len(ids) >= 50
    for needed in [
        "gap-between-sections",
        "trailing-100-bytes",
        "type-6",
        "type-0",
        "no-metadata",
        "flags-aarch64",
        "ramdisk-before-kernel",
        "extra-ramdisk-size-0",
        "sections-reversed",
        "metadata-not-json",
        "signature-over-32768",
        "signature-keys-swapped",
        "signature-cert-bytestring",
        "size-near-2^63",
        "table-size-u64-max",
        "offset-past-eof",
        "duplicate-table-entry",
        "num-sections-0",
        "num-sections-33",
        "num-sections-65535",
        "empty-file",
        "header-only",
        "truncated-last-section",
    ]:
        assert needed in ids, needed


def test_corpus_is_byte_identical_between_runs(corpus, tmp_path):
    folder, _ = corpus
    generate(tmp_path)
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    for name in names:
        assert (folder / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_manifest_verdicts_equal_eifkit_check(corpus, capsys):
    folder, manifest = corpus
    for case in manifest["cases"]:
        code = main(["check", str(folder / case["file"]), "--json"])
        got = json.loads(capsys.readouterr().out)
        assert got == case["expected"], case["id"]
        assert code == (0 if all(v["verdict"] == "accept" for v in got.values()) else 1)


def _covered(case: dict, base_len: int) -> set[int]:
    """Byte positions the manifest says may differ from the base."""
    spots: set[int] = set()
    for ch in case["changes"]:
        if ch["field"] in ("file size", "removed bytes"):
            continue
        new = ch["new"]
        length = len(bytes.fromhex(new)) if isinstance(new, str) else None
        if length is None:
            length = {
                "magic": 4,
                "version": 2,
                "flags": 2,
                "reserved": 2,
                "num_sections": 2,
                "unused": 4,
                "eif_crc32": 4,
            }.get(ch["field"].split("[")[0], 8)
            if ch["field"].startswith("section ") and ch["field"].endswith(("type", "flags")):
                length = 2
        spots.update(range(ch["offset"], ch["offset"] + length))
    if case["crc_recomputed"]:
        spots.update(range(544, 548))
    return spots


def test_each_case_differs_from_its_base_exactly_where_the_manifest_says(corpus):
    folder, manifest = corpus
    bases = {
        "unsigned": (folder / "base.eif").read_bytes(),
        "signed": (folder / "base-signed.eif").read_bytes(),
    }
    checked = 0
    for case in manifest["cases"]:
        data = (folder / case["file"]).read_bytes()
        base = bases[case["base"]]
        fields = [c["field"] for c in case["changes"]]
        if "layout" in fields:
            _check_layout(case, data)
            continue
        if "file size" in fields:
            assert data == base[: len(data)]
            continue
        extra = [c for c in case["changes"] if c["field"] == "trailing bytes"]
        if extra:
            assert data[len(base) :] == bytes.fromhex(extra[0]["new"])
        diff = {i for i in range(len(base)) if data[i] != base[i]}
        assert diff <= _covered(case, len(base)), (case["id"], sorted(diff - _covered(case, 0)))
        for ch in case["changes"]:  # each recorded old value is what the base had
            if isinstance(ch["old"], str) and ch["field"] != "trailing bytes":
                old = bytes.fromhex(ch["old"])
                assert base[ch["offset"] : ch["offset"] + len(old)] == old
        checked += 1
        # offset-zero makes the header (CRC field included) the kernel's "section", so its
        # CRC cannot be a fixed point; QEMU stops at the section flags before the CRC.
        if case["crc_recomputed"] and case["id"] != "offset-zero":
            assert struct.unpack(">I", data[544:548])[0] == qemu_crc(data)
            if case["id"] not in ("offset-past-eof",):
                h_n = struct.unpack(">H", data[26:28])[0]
                if h_n <= 32 and all(
                    o + 12 + s <= len(data)
                    for o, s in zip(
                        struct.unpack(">32Q", data[28:284])[:h_n],
                        struct.unpack(">32Q", data[284:540])[:h_n],
                        strict=True,
                    )
                ):
                    assert naive.crc_of_file(data) == qemu_crc(data)
    assert checked >= 25


def _check_layout(case: dict, data: bytes) -> None:
    """A relaid case: the file holds exactly the described parts, in the described order."""
    layout = next(c["new"] for c in case["changes"] if c["field"] == "layout")
    pos = 548
    for part in layout["parts"]:
        pos += part["gap_before"]
        t, flags, size = struct.unpack(">HHQ", data[pos : pos + 12])
        assert (t, flags, size) == (part["type"], part["flags"], part["size"]), case["id"]
        pos += 12 + size
    assert len(data) == pos + layout["trailing"]
    n = struct.unpack(">H", data[26:28])[0]
    assert n == len(layout["table_order"]) + len(layout["extra_entries"])


def test_reader_never_crashes_on_any_fixture(corpus):
    folder, manifest = corpus
    for case in manifest["cases"]:
        path = folder / case["file"]
        for strict in (True, False):
            try:
                image = read(path, strict=strict)
            except FormatError as e:
                assert str(path) in str(e)
            else:
                assert image.file_size == path.stat().st_size


def test_cli_never_tracebacks_on_any_fixture(corpus):
    folder, manifest = corpus
    paths = [str(folder / c["file"]) for c in manifest["cases"]]
    script = (
        "import sys, contextlib, io\n"
        "from eifkit.cli import main\n"
        "quiet = contextlib.redirect_stdout, contextlib.redirect_stderr\n"
        "for p in sys.argv[1:]:\n"
        "    for cmd in (['describe', '--lenient', p], ['pcr', p], ['verify', p],\n"
        "                ['describe', p]):\n"
        "        with quiet[0](io.StringIO()), quiet[1](io.StringIO()):\n"
        "            code = main(cmd)\n"
        "        assert code in (0, 1, 2), (cmd, code)\n"
    )
    r = subprocess.run([sys.executable, "-c", script, *paths], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]


def test_declarations_are_enforced():
    case = next(c for c in CASES if c.id == "bad-magic")
    from eifkit.loadertest.profiles import Verdict

    wrong = {
        "qemu": Verdict("qemu", True, "accepted"),
        "aws-reader": Verdict("aws-reader", True, "accepted"),
        "nitro-spec": Verdict("nitro-spec", False, "x"),
    }
    with pytest.raises(DeclarationMismatch, match=r"bad-magic: qemu model says 'accepted'"):
        check_declaration(case, wrong)


def test_editor_api_composes_and_records(tmp_path):
    from eifkit.loadertest import default_base

    e = EifEditor.from_bytes(default_base())
    e.set_header("version", 3).set_section(0, "flags", 1).fix_crc()
    assert [c.field for c in e.changes] == ["version", "section 0 flags", "eif_crc32 (recomputed)"]
    assert e.changes[0].old == 4 and e.changes[0].new == 3 and e.changes[0].offset == 4
    out = tmp_path / "x.eif"
    e.write(out)
    verdicts = {v.profile: v for v in check_file(out)}
    assert verdicts["qemu"].message == "Expected EIF version 4 or greater"
    # layout-level: add an unknown section and a trailing blob
    e2 = EifEditor.from_bytes(default_base())
    e2.relayout([*e2.parts(), Part(9, b"abc")], trailing=b"zz", description="type 9").fix_crc()
    img = read(e2.data and _write(tmp_path / "y.eif", e2.data), strict=False)
    assert img.sections[-1].type == 9 and img.file_size == len(e2.data)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_fixtures_cli_with_a_custom_base(tmp_path, capsys):
    from tests.conftest import VECTORS

    out = tmp_path / "c"
    assert main(["fixtures", "-o", str(out), "--base", str(VECTORS / "three-ramdisks.eif")]) == 0
    assert "Wrote " in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    made = [c for c in manifest["cases"] if "file" in c]
    assert len(made) >= 50
    for c in made[:10]:
        got = {v.profile: v.as_dict() for v in check_file(out / c["file"])}
        assert got == c["expected"]
    assert main(["fixtures", "--list"]) == 0
    assert "signature-keys-swapped" in capsys.readouterr().out


AWS_READER_VERDICTS = Path(__file__).parent / "data" / "aws-eif-reader" / "verdicts.tsv"
# nitro-cli describe-eif rejects these after from_eif, in get_certificate_info (COSE), which
# the recorded harness does not run (see tests/data/aws-eif-reader/README.md).
COSE_STAGE = "Failed to get certificate sigining info"


def test_aws_reader_model_matches_aws_eif_reader_compiled_from_source(corpus):
    """Every fixture's aws-reader verdict against what AWS's EifReader::from_eif did."""
    _, manifest = corpus
    recorded = {}
    for line in AWS_READER_VERDICTS.read_text().splitlines():
        case_id, digest, outcome, message = line.split("\t", 3)
        recorded[case_id] = (digest, outcome, message)
    cases = [c for c in manifest["cases"] if "file" in c]
    assert sorted(recorded) == sorted(c["id"] for c in cases), "re-record verdicts.tsv"
    wrong, cose_stage = [], []
    for case in cases:
        digest, outcome, message = recorded[case["id"]]
        assert case["sha256"] == digest, f"{case['id']} changed: re-record verdicts.tsv"
        model = case["expected"]["aws-reader"]
        if outcome == "ACCEPT":
            crc = message.removeprefix("crc=")
            ok = model == {"verdict": "accept", "message": f"accepted (CheckCRC: {crc})"}
            if not ok and model["message"] == COSE_STAGE:
                cose_stage.append(case["id"])
                continue
        elif outcome == "REJECT":
            ok = model["verdict"] == "reject" and message.startswith(model["message"])
        elif outcome == "PANIC":
            ok = model == {"verdict": "reject", "message": f"panics: {message}"}
        else:  # ABORT
            ok = model == {"verdict": "reject", "message": f"{message} (nitro-cli aborts)"}
        if not ok:
            wrong.append((case["id"], model, outcome, message))
    assert wrong == []
    assert sorted(cose_stage) == ["signature-cose-garbage", "signature-wrong-key"]
