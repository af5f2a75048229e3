"""verify refuses signature sections a loader refuses (issue 11, item 7).

0.1's verify passed four files that QEMU's loader or AWS's reader rejects: a DER
certificate, the entry map's keys swapped, bytes after the CBOR item (cbor2.loads
ignores them; serde_cbor::from_slice does not), and alg in both COSE headers (RFC 9052
forbids a label in both buckets). Each is made here from a real signed build, and the
loader-test models (`eifkit check`) are asked too, so the verdicts can be compared.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from eifkit import measure_image, read, write
from eifkit.cli import main
from eifkit.signing.signers import attach_signature
from eifkit.signing.verify import Expectations, verify_image
from eifkit.sigsection import decode_signature_section, load_certificate
from eifkit.sources import read_small
from tests.certs import build_args, make_cert


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("signed")
    key, cert = make_cert(folder, "s")
    out = folder / "signed.eif"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(build_args(out, cert, "--private-key", str(key))) == 0
    return out


def _entry(path: Path) -> tuple[bytes, bytes]:
    section = read(path).signature_section
    assert section is not None
    (entry,) = decode_signature_section(read_small(section.source, 1 << 20, "signature"))
    return entry.signing_certificate, entry.signature


def _with_section(signed: Path, out: Path, section: bytes) -> Path:
    write(attach_signature(read(signed), section), out, layout="original", crc="compute")
    return out


def _checks(path: Path) -> dict[str, tuple[bool, str]]:
    image = read(path)
    checks = verify_image(image, measure_image(image), Expectations(require_signature=True))
    return {c.name: (c.ok, c.detail) for c in checks}


def _uints(data: bytes) -> list[int]:
    return list(data)


def _swapped(cert: bytes, cose: bytes) -> bytes:
    return cbor2.dumps([{"signature": _uints(cose), "signing_certificate": _uints(cert)}])


def _der(cert: bytes, cose: bytes) -> bytes:
    der = load_certificate(cert).public_bytes(Encoding.DER)
    return cbor2.dumps([{"signing_certificate": _uints(der), "signature": _uints(cose)}])


def _trailing(cert: bytes, cose: bytes) -> bytes:
    good = cbor2.dumps([{"signing_certificate": _uints(cert), "signature": _uints(cose)}])
    return good + b"\x00"


def _cose_trailing(cert: bytes, cose: bytes) -> bytes:
    return cbor2.dumps([{"signing_certificate": _uints(cert), "signature": _uints(cose + b"\xf6")}])


def _alg_twice(cert: bytes, cose: bytes) -> bytes:
    protected, _unprotected, payload, signature = cbor2.loads(cose)
    both = cbor2.dumps([protected, {1: -35}, payload, signature])
    return cbor2.dumps([{"signing_certificate": _uints(cert), "signature": _uints(both)}])


def _duplicate_key(cert: bytes, cose: bytes) -> bytes:
    # {"signing_certificate": cert, "signature": sig, "signature": sig}: a 3-pair map
    # whose Python reading has 2 keys.
    k1, k2 = cbor2.dumps("signing_certificate"), cbor2.dumps("signature")
    v1, v2 = cbor2.dumps(_uints(cert)), cbor2.dumps(_uints(cose))
    return b"\x81\xa3" + k1 + v1 + k2 + v2 + k2 + v2


CASES = [
    (_swapped, "QEMU's loader needs 'signing_certificate' first", "qemu"),
    (_der, "the certificate is not PEM", "aws-reader"),
    (_trailing, "1 bytes follow the CBOR item", None),
    (_cose_trailing, "COSE_Sign1 is not CBOR: 1 bytes follow", None),
    (_alg_twice, "in both the protected and the unprotected header", None),
    (_duplicate_key, "the same key twice", None),
]


@pytest.mark.parametrize(
    "make, reason, refusing_loader", CASES, ids=lambda v: getattr(v, "__name__", None)
)
def test_verify_refuses_what_a_loader_refuses(
    signed, tmp_path, capsys, make, reason, refusing_loader
):
    cert, cose = _entry(signed)
    assert _checks(signed)["signature"][0]  # the untouched file verifies
    bad = _with_section(signed, tmp_path / "bad.eif", make(cert, cose))
    ok, detail = _checks(bad)["signature"]
    assert not ok and reason in detail, detail
    assert main(["verify", str(bad)]) == 1
    capsys.readouterr()
    if refusing_loader is not None:  # eifkit's model of that loader agrees
        assert main(["check", "--json", str(bad)]) == 1
        verdicts = json.loads(capsys.readouterr().out)
        assert verdicts[refusing_loader]["verdict"] == "reject"
