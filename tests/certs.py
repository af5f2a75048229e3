"""Throwaway EC keys and self-signed certificates for signing tests."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CURVES = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}
NOW = datetime.datetime.now(datetime.UTC)


def make_cert(
    folder: Path,
    name: str,
    curve: str = "p384",
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    public_key: ec.EllipticCurvePublicKey | None = None,
) -> tuple[Path, Path]:
    """Write NAME-key.pem and NAME-cert.pem; return (key path, cert path).

    With ``public_key``, the certificate is for that key (issued by a fresh CA key).
    """
    key = ec.generate_private_key(CURVES[curve])
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"eifkit test {name}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "eifkit tests"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key or key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - datetime.timedelta(days=1))
        .not_valid_after(not_after or NOW + datetime.timedelta(days=365))
        .sign(key, hashes.SHA384())
    )
    key_path, cert_path = folder / f"{name}-key.pem", folder / f"{name}-cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def build_args(out: Path, cert: Path, *key_args: str) -> list[str]:
    """`eifkit build` arguments for a small signed image from AWS's vector inputs."""
    from tests.conftest import VECTORS

    inputs = VECTORS / "inputs"
    return [
        "build",
        "--kernel",
        str(inputs / "kernel.bin"),
        "--initrd",
        str(inputs / "ramdisk0.bin"),
        "--cmdline",
        "console=ttyS0",
        "-o",
        str(out),
        "--signing-certificate",
        str(cert),
        *key_args,
    ]
