"""Expected PCRs for attest verify from an EIF: PCR0-2, and PCR8 when it is signed,
equal to what `eifkit pcr` prints for the same file (and, for AWS's signed vectors,
to the PCRs eif_build recorded)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from eifkit import attest
from tests.conftest import VECTORS, expected_pcrs, load_manifest


@pytest.mark.parametrize("name", ["basic-x86_64.eif", "signed-p384.eif"])
def test_pcrs_of_eif_are_the_eifs_measurements(name):
    path = VECTORS / name
    got = attest.pcrs_of_eif(str(path))
    printed = subprocess.run(
        [sys.executable, "-m", "eifkit", "pcr", "--json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    printed_pcrs = json.loads(printed.stdout)
    want = {int(k[3:]): v for k, v in printed_pcrs.items() if k[3:].isdigit()}
    assert {i: v.hex() for i, v in got.items()} == want
    assert (8 in got) == ("signed" in name)
    recorded = expected_pcrs(load_manifest()[name.removesuffix(".eif")])
    recorded_pcrs = {k: v for k, v in recorded.items() if k[3:].isdigit()}
    assert recorded_pcrs and all(got[int(k[3:])].hex() == v for k, v in recorded_pcrs.items())
