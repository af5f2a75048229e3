"""Certificates whose key cannot be loaded are a verdict, not a traceback (issue 11, item 4).

0.1's verify printed no verdict at all for a signing certificate with an unknown key
type, a curve the crypto library lacks, or a point not on its curve (the library
raises UnsupportedAlgorithm or ValueError from public_key()), and describe and check
crashed too. Each certificate is made here from a real one by changing its DER: the
key-type OID, the curve OID (secp384r1 -> secp224k1, same length), a point byte.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from eifkit import read, write
from eifkit.cli import main
from eifkit.signing.signers import attach_signature
from eifkit.sigsection import decode_signature_section
from eifkit.sources import read_small
from tests.certs import build_args, make_cert

EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")  # 1.2.840.10045.2.1
SECP384R1 = bytes.fromhex("06052b81040022")  # 1.3.132.0.34


def _pem(der: bytes) -> bytes:
    b64 = base64.b64encode(der)
    lines = b"\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return b"-----BEGIN CERTIFICATE-----\n" + lines + b"\n-----END CERTIFICATE-----\n"


def _unknown_key_type(der: bytes) -> bytes:
    assert EC_PUBLIC_KEY in der
    return der.replace(EC_PUBLIC_KEY, bytes.fromhex("06072a8648ce3d0209"))


def _missing_curve(der: bytes) -> bytes:
    assert SECP384R1 in der
    return der.replace(SECP384R1, bytes.fromhex("06052b81040020"))  # secp224k1


def _point_off_the_curve(der: bytes) -> bytes:
    at = der.index(bytes.fromhex("03620004"))  # BIT STRING of an uncompressed P-384 point
    bad = bytearray(der)
    bad[at + 10] ^= 0xFF
    return bytes(bad)


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> tuple[Path, bytes, bytes]:
    folder = tmp_path_factory.mktemp("signed")
    key, cert = make_cert(folder, "p384", curve="p384")
    out = folder / "signed.eif"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(build_args(out, cert, "--private-key", str(key))) == 0
    section = read(out).signature_section
    assert section is not None
    (entry,) = decode_signature_section(read_small(section.source, 1 << 20, "signature"))
    der = x509.load_pem_x509_certificate(entry.signing_certificate).public_bytes(Encoding.DER)
    return out, der, entry.signature


@pytest.mark.parametrize("spoil", [_unknown_key_type, _missing_curve, _point_off_the_curve])
def test_verify_describe_and_check_give_verdicts(signed, tmp_path, capsys, spoil):
    eif, der, cose = signed
    section = cbor2.dumps(
        [{"signing_certificate": list(_pem(spoil(der))), "signature": list(cose)}]
    )
    bad = tmp_path / "bad.eif"
    write(attach_signature(read(eif), section), bad, layout="original", crc="compute")

    assert main(["verify", "--json", str(bad)]) == 1
    checks = {c["Name"]: c for c in json.loads(capsys.readouterr().out)["Checks"]}
    assert not checks["signature"]["Ok"]
    assert "public key cannot be used" in checks["signature"]["Detail"]

    assert main(["describe", "--json", str(bad)]) == 0
    assert json.loads(capsys.readouterr().out)["SignatureCheck"] is False

    assert main(["check", "--json", str(bad)]) == 1
    verdicts = json.loads(capsys.readouterr().out)
    assert verdicts["aws-reader"]["verdict"] == "reject"
    assert capsys.readouterr().err == ""
