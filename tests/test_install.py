"""eifkit as users install it: every module in the wheel, every command runs from any folder.

`scripts/test` runs the suite against a wheel installed in a fresh virtual environment,
with EIFKIT_SOURCE naming the checkout the wheel was built from; the first test then
compares the installed files with the source tree (the 0.1 wheel left out every
subpackage, so `eifkit fixtures` and `eifkit check` died with ModuleNotFoundError).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import eifkit

SOURCE = os.environ.get("EIFKIT_SOURCE")


def eifkit_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eifkit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.mark.skipif(not SOURCE, reason="EIFKIT_SOURCE unset: not testing an installed wheel")
def test_the_installed_package_has_every_module_of_the_source_tree():
    assert SOURCE is not None
    package_dir = Path(eifkit.__file__).parent
    assert not package_dir.is_relative_to(Path(SOURCE)), "testing the checkout, not the wheel"
    source_files = {
        p.relative_to(SOURCE).as_posix()
        for p in (Path(SOURCE) / "eifkit").rglob("*")
        if p.suffix in (".py", ".typed", ".pem", ".der", ".json") and "__pycache__" not in p.parts
    }
    dist = importlib.metadata.distribution("eifkit")
    installed = {str(f) for f in dist.files or []}
    missing = sorted(source_files - installed)
    assert not missing, f"the wheel lacks {missing}"
    assert "eifkit/py.typed" in installed


def test_every_command_answers_help_from_another_folder(tmp_path):
    top = eifkit_cli("--help", cwd=tmp_path)
    assert top.returncode == 0, top.stderr
    # the command list: the lines indented by four spaces under "COMMAND"
    listing = top.stdout.split("  COMMAND\n", 1)[1].split("\n\n", 1)[0]
    commands = re.findall(r"^    ([a-z0-9-]+)", listing, re.M)
    assert {"build", "describe", "pcr", "sign", "verify", "fixtures", "check"} <= set(commands)
    for command in commands:
        r = eifkit_cli(command, "--help", cwd=tmp_path)
        assert r.returncode == 0, (command, r.stderr)
        assert r.stdout.startswith(f"usage: eifkit {command}"), (command, r.stdout[:200])
        assert "Traceback" not in r.stderr


def test_fixtures_then_check_from_another_folder(tmp_path):
    out = tmp_path / "corpus"
    made = eifkit_cli("fixtures", "-o", str(out), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    cases = manifest["cases"]
    assert len(cases) >= 80
    eifs = sorted(out.glob("*.eif"))
    assert len(eifs) >= len(cases)
    assert all((out / c["file"]).is_file() for c in cases)
    accepted = eifkit_cli("check", "--json", str(out / "base.eif"), cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    verdicts = json.loads(accepted.stdout)
    assert {v["verdict"] for v in verdicts.values()} == {"accept"}
    rejected = eifkit_cli("check", str(out / "bad-magic.eif"), cwd=tmp_path)
    assert rejected.returncode == 1, rejected.stderr
    assert "Magic mismatch" in rejected.stdout
    assert "bad-magic" in {c["id"] for c in cases}
