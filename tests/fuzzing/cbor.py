"""Hostile signature sections: CBOR garbage and crafted certificates.

Each builder takes the signature section of a correctly signed base (AWS's layout:
``[{"signing_certificate": [uints], "signature": [uints of a COSE_Sign1]}]``) and
returns new section bytes. Raw CBOR heads are written by hand where cbor2 would refuse
to encode them (huge declared lengths, duplicate keys, 2,000-level nesting).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any, cast

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

SIGNING_CERTIFICATE, SIGNATURE = "signing_certificate", "signature"
P384_OID = bytes.fromhex("06052b81040022")  # secp384r1 as a DER OBJECT IDENTIFIER
UNKNOWN_CURVE_OID = bytes.fromhex("06052b8104007f")
HUGE = b"\xff" * 8


def _uints(b: bytes) -> list[int]:
    return list(b)


def _parts(sig: bytes) -> tuple[bytes, list[Any]]:
    """(certificate PEM, COSE_Sign1 as a list) of a base signature section."""
    entry = cbor2.loads(sig)[0]
    return bytes(entry[SIGNING_CERTIFICATE]), cbor2.loads(bytes(entry[SIGNATURE]))


def _section(cert: bytes, cose: list[Any] | bytes) -> bytes:
    cose_bytes = cose if isinstance(cose, bytes) else cbor2.dumps(cose)
    return cbor2.dumps([{SIGNING_CERTIFICATE: _uints(cert), SIGNATURE: _uints(cose_bytes)}])


def _with_cose(sig: bytes, change: Callable[[list[Any]], list[Any] | bytes]) -> bytes:
    cert, cose = _parts(sig)
    return _section(cert, change(list(cose)))


def _with_cert(sig: bytes, change: Callable[[bytes], bytes]) -> bytes:
    cert, cose = _parts(sig)
    return _section(change(cert), cose)


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


def _pem(der: bytes) -> bytes:
    import base64
    import textwrap

    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode()


def _unknown_curve(pem: bytes) -> bytes:
    return _pem(_der(pem).replace(P384_OID, UNKNOWN_CURVE_OID, 1))


def _point_off_curve(pem: bytes) -> bytes:
    der = bytearray(_der(pem))
    at = der.index(b"\x03\x62\x00\x04") + 4 + 48  # inside the uncompressed point's y
    der[at] ^= 0x55
    return _pem(bytes(der))


@functools.cache
def _other_key_cert(kind: str) -> bytes:
    """A PEM certificate for an Ed25519 or RSA key (not an EC key), from tests.certs."""
    import tempfile
    from pathlib import Path

    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    from tests.certs import make_cert

    key = (
        ed25519.Ed25519PrivateKey.generate()
        if kind == "ed25519"
        else rsa.generate_private_key(65537, 2048)
    )
    # make_cert is typed for EC keys but puts any public key into the certificate
    public = cast(ec.EllipticCurvePublicKey, key.public_key())
    with tempfile.TemporaryDirectory() as folder:
        _key, cert = make_cert(Path(folder), kind, public_key=public)
        return cert.read_bytes()


def _dup_keys(sig: bytes) -> bytes:
    cert, cose = _parts(sig)
    good = cbor2.dumps(SIGNING_CERTIFICATE) + cbor2.dumps(_uints(cert))
    bad = cbor2.dumps(SIGNING_CERTIFICATE) + cbor2.dumps([1, 2, 3])
    return (
        b"\x81\xa3" + good + bad + cbor2.dumps(SIGNATURE) + cbor2.dumps(_uints(cbor2.dumps(cose)))
    )


def _swapped_keys(sig: bytes) -> bytes:
    cert, cose = _parts(sig)
    entry = {SIGNATURE: _uints(cbor2.dumps(cose)), SIGNING_CERTIFICATE: _uints(cert)}
    return cbor2.dumps([entry])


def _protected(value: bytes) -> Callable[[list[Any]], list[Any]]:
    return lambda c: [value, *c[1:]]


def _rand(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


# Changes some loader accepts (or that are not clearly refused): `verify` may pass them.
# Every other change of the signature section must make `verify` fail.
LOADERS_MAY_ACCEPT = frozenset({"cose-tagged", "two-entries", "cert-two-pems"})

SigBuilder = Callable[[bytes], bytes]

SIGNATURE_SECTIONS: dict[str, SigBuilder] = {
    "empty": lambda s: b"",
    "random-64": lambda s: _rand(64, 64),
    "random-4k": lambda s: _rand(4096, 4096),
    "over-32k": lambda s: _rand(40000, 40000),
    "trailing-bytes": lambda s: s + b"\x00",
    "trailing-item": lambda s: s + cbor2.dumps([1]),
    "truncated": lambda s: s[: len(s) // 2],
    "deep-array-2000": lambda s: b"\x81" * 2000 + b"\x00",
    "deep-map-2000": lambda s: b"\xa1\x00" * 2000 + b"\x00",
    "deep-tag-2000": lambda s: b"\xc6" * 2000 + b"\x00",
    "deep-indefinite-2000": lambda s: b"\x9f" * 2000 + b"\xff" * 2000,
    "huge-bstr": lambda s: b"\x5b" + HUGE,
    "huge-text": lambda s: b"\x7b" + HUGE,
    "huge-array": lambda s: b"\x9b" + HUGE,
    "huge-map": lambda s: b"\xbb" + HUGE,
    "huge-array-4g": lambda s: b"\x9a\xff\xff\xff\xff" + b"\x00" * 16,
    "huge-inner-array": lambda s: b"\x81\xa2" + cbor2.dumps(SIGNING_CERTIFICATE) + b"\x9b" + HUGE,
    "huge-bignum": lambda s: b"\xc2\x5a\x00\x00\x10\x00" + b"\xff" * 4096,
    "bad-utf8-key": lambda s: b"\x81\xa1\x62\xff\xfe\x00",
    "not-a-list": lambda s: cbor2.dumps({}),
    "an-int": lambda s: cbor2.dumps(5),
    "empty-list": lambda s: cbor2.dumps([]),
    "list-of-int": lambda s: cbor2.dumps([1]),
    "two-entries": lambda s: cbor2.dumps(cbor2.loads(s) * 2),
    "cert-as-text": lambda s: cbor2.dumps([{SIGNING_CERTIFICATE: "pem", SIGNATURE: [1]}]),
    "cert-as-bytes": lambda s: cbor2.dumps([{SIGNING_CERTIFICATE: b"pem", SIGNATURE: b"x"}]),
    "uints-out-of-range": lambda s: cbor2.dumps(
        [{SIGNING_CERTIFICATE: [256, -1, 1 << 70], SIGNATURE: [0.5, None, "x"]}]
    ),
    "missing-signature": lambda s: cbor2.dumps([{SIGNING_CERTIFICATE: [1]}]),
    "duplicate-keys": _dup_keys,
    "keys-swapped": _swapped_keys,
    "cert-der": lambda s: _with_cert(s, _der),
    "cert-garbage-pem": lambda s: _with_cert(
        s, lambda c: b"-----BEGIN CERTIFICATE-----\nZZZZ\n-----END CERTIFICATE-----\n"
    ),
    "cert-random": lambda s: _with_cert(s, lambda c: _rand(7, 700)),
    "cert-unknown-curve": lambda s: _with_cert(s, _unknown_curve),
    "cert-point-off-curve": lambda s: _with_cert(s, _point_off_curve),
    "cert-two-pems": lambda s: _with_cert(s, lambda c: c + c),
    "cert-ed25519": lambda s: _with_cert(s, lambda c: _other_key_cert("ed25519")),
    "cert-rsa": lambda s: _with_cert(s, lambda c: _other_key_cert("rsa")),
    "cose-random": lambda s: _with_cose(s, lambda c: _rand(9, 200)),
    "cose-empty": lambda s: _with_cose(s, lambda c: b""),
    "cose-tagged": lambda s: _with_cose(s, lambda c: cbor2.dumps(cbor2.CBORTag(18, c))),
    "cose-wrong-tag": lambda s: _with_cose(s, lambda c: cbor2.dumps(cbor2.CBORTag(98, c))),
    "cose-three-items": lambda s: _with_cose(s, lambda c: c[:3]),
    "cose-five-items": lambda s: _with_cose(s, lambda c: [*c, b""]),
    "cose-trailing": lambda s: _with_cose(s, lambda c: cbor2.dumps(c) + b"\x00"),
    "cose-items-wrong-types": lambda s: _with_cose(s, lambda c: [1, [], "x", {}]),
    "cose-protected-garbage": lambda s: _with_cose(s, _protected(b"\xff\xfe")),
    "cose-protected-deep": lambda s: _with_cose(s, _protected(b"\x81" * 2000 + b"\x00")),
    "cose-protected-not-map": lambda s: _with_cose(s, _protected(cbor2.dumps([1, -35]))),
    "cose-alg-unknown": lambda s: _with_cose(s, _protected(cbor2.dumps({1: -999}))),
    "cose-alg-text": lambda s: _with_cose(s, _protected(cbor2.dumps({1: "ES384"}))),
    "cose-alg-both-headers": lambda s: _with_cose(s, lambda c: [c[0], {1: -35}, *c[2:]]),
    "cose-unprotected-garbage": lambda s: _with_cose(s, lambda c: [c[0], [1], *c[2:]]),
    "cose-payload-random": lambda s: _with_cose(s, lambda c: [*c[:2], _rand(3, 90), c[3]]),
    "cose-payload-deep": lambda s: _with_cose(
        s, lambda c: [*c[:2], b"\x81" * 2000 + b"\x00", c[3]]
    ),
    "cose-payload-wrong-pcr": lambda s: _with_cose(
        s,
        lambda c: [
            *c[:2],
            cbor2.dumps({"register_index": 0, "register_value": [7] * 48}),
            c[3],
        ],
    ),
    "cose-signature-short": lambda s: _with_cose(s, lambda c: [*c[:3], c[3][:10]]),
    "cose-signature-zeros": lambda s: _with_cose(s, lambda c: [*c[:3], bytes(len(c[3]))]),
}
