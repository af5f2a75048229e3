from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EIFKIT_SHARED", ROOT.parent / "shared"))
VECTORS = SHARED / "vectors"


def load_manifest() -> dict[str, dict]:
    path = VECTORS / "manifest.json"
    if not path.is_file():
        raise RuntimeError(
            f"AWS test vectors not found at {VECTORS}; set EIFKIT_SHARED to the shared/ folder"
        )
    return json.loads(path.read_text())


def expected_pcrs(case: dict) -> dict[str, str]:
    """The PCR JSON that eif_build printed (after its 'Output file:' line)."""
    return json.loads(case["stdout"].split("\n", 1)[1])


@pytest.fixture(scope="session")
def manifest() -> dict[str, dict]:
    return load_manifest()


@pytest.fixture(scope="session")
def vectors() -> Path:
    return VECTORS
