"""The signature section's codec: the one decoder that measuring and verifying share."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from eifkit import SignatureError, measure_image, read, write
from eifkit.cli import main
from eifkit.signing.signers import attach_signature
from eifkit.signing.verify import Expectations, verify_image
from eifkit.sigsection import (
    PcrSignature,
    certificate_der_from_section,
    decode_signature_section,
    encode_signature_section,
    load_certificate,
)
from eifkit.sources import read_small
from tests import naive
from tests.certs import build_args, make_cert


def _section_bytes(path: Path) -> bytes:
    section = read(path).signature_section
    assert section is not None
    return read_small(section.source, 1 << 20, "signature")


def _signed(tmp_path: Path) -> tuple[Path, Path]:
    key, cert = make_cert(tmp_path, "s")
    out = tmp_path / "signed.eif"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(build_args(out, cert, "--private-key", str(key))) == 0
    return out, cert


entries = st.lists(
    st.builds(PcrSignature, st.binary(max_size=40), st.binary(max_size=40)), min_size=1, max_size=4
)


@given(entries)
def test_encode_decode_round_trip(values):
    data = encode_signature_section(values)
    assert decode_signature_section(data) == values
    # serde_cbor's form: byte strings as arrays of unsigned integers
    assert cbor2.loads(data) == [
        {"signing_certificate": list(v.signing_certificate), "signature": list(v.signature)}
        for v in values
    ]


@pytest.mark.parametrize(
    "value, match",
    [
        ([], "non-empty CBOR array"),
        ({"signing_certificate": [1], "signature": [2]}, "non-empty CBOR array"),
        ([{"signing_certificate": [1]}], "entry 0: expected a map with exactly the keys"),
        (
            [{"signing_certificate": [1], "signature": [2]}, {"signature": [2]}],
            "entry 1: expected a map",
        ),
        ([{"signing_certificate": [256], "signature": [2]}], r"signing_certificate\[0\]"),
        ([{"signing_certificate": b"\x01", "signature": [2]}], "found bytes"),
    ],
)
def test_malformed_sections_are_refused(value, match):
    with pytest.raises(SignatureError, match=match):
        decode_signature_section(cbor2.dumps(value))


def test_not_cbor_is_refused():
    with pytest.raises(SignatureError, match="not CBOR"):
        decode_signature_section(b"\xff\xff")


def test_second_entry_is_kept_and_entry_zero_counts_everywhere(tmp_path):
    """AWS's reader decodes the whole array and uses entry 0; QEMU reads only item 0. So a
    second, well-formed entry changes neither PCR8 nor the signature verdict."""
    signed, cert = _signed(tmp_path)
    first = decode_signature_section(_section_bytes(signed))
    assert len(first) == 1
    two = encode_signature_section([first[0], PcrSignature(b"other", b"entry")])
    out = tmp_path / "two-entries.eif"
    write(attach_signature(read(signed), two), out, layout="original", crc="compute")

    assert len(decode_signature_section(_section_bytes(out))) == 2
    der = load_certificate(cert.read_bytes()).public_bytes(Encoding.DER)
    assert certificate_der_from_section(two) == der
    m = measure_image(read(out))
    assert m.signature_error is None
    assert m.pcr8 is not None and m.pcr8.hex() == naive.pcr(der)
    checks = verify_image(read(out), m, Expectations(require_signature=True))
    assert all(c.ok for c in checks), checks


def test_an_empty_array_gives_no_pcr8_and_fails_verification(tmp_path):
    signed, _ = _signed(tmp_path)
    out = tmp_path / "empty.eif"
    write(attach_signature(read(signed), cbor2.dumps([])), out, layout="original", crc="compute")
    m = measure_image(read(out))
    assert m.pcr8 is None and "non-empty CBOR array" in (m.signature_error or "")
    checks = {c.name: c for c in verify_image(read(out), m, Expectations())}
    assert not checks["signature"].ok
    assert "non-empty CBOR array" in checks["signature"].detail


@pytest.mark.parametrize("depth", [65, 2000, 100_000])
def test_deep_nesting_is_refused_without_recursing(depth):
    # 0.1: RecursionError from cbor2 (issue 11, item 4).
    data = b"\x81" * depth + b"\x01"
    with pytest.raises(SignatureError, match="nested too deeply"):
        decode_signature_section(data)
