"""The deterministic base images the loader-test corpus mutates.

The default base (kernel, cmdline, metadata and two ramdisks of stand-in bytes, AWS
layout) and its signed copy are the same bytes on every run and machine: the data is
derived from fixed seeds, the build time is fixed, and the signing key and its
certificate are derived from constants (ECDSA signatures deterministic, RFC 6979).
"""

from __future__ import annotations

import datetime
import hashlib
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..build import BuildInputs, make_image
from ..reader import read
from ..signing.signers import LocalKeySigner, attach_signature, make_signature_section
from ..stream import measure_image
from ..writer import write

BUILD_TIME = "2025-01-01T00:00:00+00:00"


def deterministic_bytes(seed: str, size: int) -> bytes:
    """``size`` bytes of sha256(seed:0) ‖ sha256(seed:1) ‖ ...: stand-in data, same everywhere."""
    out = bytearray()
    n = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{n}".encode()).digest()
        n += 1
    return bytes(out[:size])


def fixture_key() -> ec.EllipticCurvePrivateKey:
    """A fixed P-384 key (derived from a constant), so signed cases are reproducible."""
    secret = int.from_bytes(hashlib.sha384(b"eifkit fixture signing key").digest(), "big")
    # below 2^383, hence below the P-384 group order, and not zero
    return ec.derive_private_key(secret % (1 << 383) + 1, ec.SECP384R1())


def fixture_certificate(key: ec.EllipticCurvePrivateKey) -> bytes:
    """PEM of a self-signed certificate for ``key``, deterministic bytes."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eifkit fixtures")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2125, 1, 1, tzinfo=datetime.UTC))
        .sign(key, hashes.SHA384(), ecdsa_deterministic=True)
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def default_base() -> bytes:
    """kernel 2048 B, cmdline, metadata, ramdisk 600 B, ramdisk 300 B (AWS layout)."""
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "bzImage").write_bytes(deterministic_bytes("fixture-kernel", 2048))
        (t / "r0").write_bytes(deterministic_bytes("fixture-ramdisk0", 600))
        (t / "r1").write_bytes(deterministic_bytes("fixture-ramdisk1", 300))
        image = make_image(
            BuildInputs(
                kernel=str(t / "bzImage"),
                ramdisks=[str(t / "r0"), str(t / "r1")],
                cmdline="console=ttyS0 reboot=k",
                name="fixture",
                version="1.0",
                build_time=BUILD_TIME,
                build_tool_version="fixtures",
            )
        )
        write(image, t / "base.eif")
        return (t / "base.eif").read_bytes()


def signed_version(base: bytes) -> bytes:
    """``base`` signed with :func:`fixture_key` (replacing any signature)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.eif"
        src.write_bytes(base)
        image = read(src, strict=False)
        pcr0 = measure_image(image).pcr0
        key = fixture_key()
        section = make_signature_section(pcr0, fixture_certificate(key), LocalKeySigner(key))
        write(
            attach_signature(image, section),
            Path(tmp) / "out.eif",
            layout="original",
            crc="compute",
        )
        return (Path(tmp) / "out.eif").read_bytes()
