"""Expected PCRs for an attestation document, from what a verifier has: the EIF itself
(PCR0, PCR1, PCR2, and PCR8 when it is signed), a PCR JSON file (nitro-cli's
``Measurements`` or eifkit's outputs), ``N=HEX`` pairs, the parent's IAM role ARN
(PCR3) and instance id (PCR4)."""

from __future__ import annotations

import re

from ..errors import InputError
from ..measure import extend_from_zero
from ..pcrvalues import expected_pcrs
from ..reader import read
from ..stream import measure_image

_PCR_PAIR = re.compile(r"(\d{1,2})=([0-9a-fA-F]+)")
PCR3_ROLE = 3
PCR4_INSTANCE = 4


def pcrs_of_eif(path: str) -> dict[int, bytes]:
    """The PCRs an enclave started from the EIF at ``path`` reports."""
    with read(path) as image:
        m = measure_image(image)
    pcrs = {0: m.pcr0, 1: m.pcr1, 2: m.pcr2}
    if m.pcr8 is not None:
        pcrs[8] = m.pcr8
    elif m.signature_error is not None:  # signed, and its certificate unusable
        raise InputError(f"signed, but PCR8 is unknown: {m.signature_error}", path=path)
    return pcrs


def pcrs_of_json(path: str) -> dict[int, bytes]:
    return {int(k[3:]): bytes.fromhex(v) for k, v in expected_pcrs(path, {}).items()}


def pcr_pair(text: str) -> tuple[int, bytes]:
    """``N=HEX`` (N 0..31, HEX 32, 48 or 64 bytes)."""
    match = _PCR_PAIR.fullmatch(text)
    if not match or int(match[1]) > 31 or len(match[2]) not in (64, 96, 128):
        raise InputError(
            f"{text!r} is not N=HEX with N 0..31 and HEX of 32, 48 or 64 bytes", field="--pcr"
        )
    return int(match[1]), bytes.fromhex(match[2])


def pcr_of_text(text: str) -> bytes:
    """PCR3 of a role ARN, PCR4 of an instance id: the extend of the raw UTF-8 string."""
    return extend_from_zero(text.encode())


def hex_value(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InputError(f"{text!r} is not hex", field=what) from None
