"""Signing through AWS KMS, against a real moto_server on 127.0.0.1 started here."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3", reason="the eifkit[kms] extra (boto3) is not installed")

from cryptography.hazmat.primitives import serialization  # noqa: E402

from eifkit.cli import main  # noqa: E402
from tests.certs import build_args, make_cert  # noqa: E402
from tests.conftest import VECTORS  # noqa: E402

INPUTS = VECTORS / "inputs"
REGION = "eu-west-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def kms_endpoint():
    exe = shutil.which("moto_server")
    cmd = [exe] if exe else [sys.executable, "-m", "moto.server"]
    port = _free_port()
    proc = subprocess.Popen(
        [*cmd, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            break
        if proc.poll() is not None:
            pytest.fail("moto_server exited at start")
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("moto_server did not start within 30 s")
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL_KMS",
        )
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL_KMS=url,
    )
    try:
        yield url
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        proc.wait(10)


def _kms_key(endpoint: str, spec: str) -> tuple[str, str, object]:
    kms = boto3.client("kms", region_name=REGION, endpoint_url=endpoint)
    meta = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    pub = serialization.load_der_public_key(kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"])
    return meta["KeyId"], meta["Arn"], pub


def _build(tmp_path: Path, cert: Path, *key_args: str) -> tuple[int, str, str]:
    out = tmp_path / "kms.eif"
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(build_args(out, cert, *key_args))
    return code, str(out), err.getvalue()


@pytest.mark.parametrize(
    "spec, curve", [("ECC_NIST_P384", "p384"), ("ECC_NIST_P256", "p256"), ("ECC_NIST_P521", "p521")]
)
def test_build_signed_with_kms_key_id_verifies(tmp_path, kms_endpoint, spec, curve, capsys):
    key_id, _arn, pub = _kms_key(kms_endpoint, spec)
    _, cert = make_cert(tmp_path, "kms", curve, public_key=pub)
    code, out, err = _build(tmp_path, cert, "--kms-key-id", key_id)
    assert code == 0, err
    capsys.readouterr()
    assert main(["verify", out, "--signing-certificate", str(cert), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    alg = {"p256": "ES256", "p384": "ES384", "p521": "ES512"}[curve]
    sig = {c["Name"]: c for c in result["Checks"]}["signature"]
    assert sig["Ok"] and sig["Detail"].startswith(alg)


def test_private_key_given_as_kms_arn(tmp_path, kms_endpoint, capsys):
    _key_id, arn, pub = _kms_key(kms_endpoint, "ECC_NIST_P384")
    assert arn.startswith(f"arn:aws:kms:{REGION}:")
    _, cert = make_cert(tmp_path, "kms", "p384", public_key=pub)
    code, out, err = _build(tmp_path, cert, "--private-key", arn)
    assert code == 0, err
    assert main(["verify", out, "--signing-certificate", str(cert)]) == 0


def test_kms_failure_writes_nothing(tmp_path, kms_endpoint):
    _, cert = make_cert(tmp_path, "kms", "p384")
    code, out, err = _build(tmp_path, cert, "--kms-key-id", "00000000-0000-0000-0000-000000000000")
    assert code == 2
    assert "KMS GetPublicKey for key 00000000-0000-0000-0000-000000000000 failed" in err
    assert not Path(out).exists()


def test_kms_key_not_matching_certificate(tmp_path, kms_endpoint):
    key_id, _arn, _pub = _kms_key(kms_endpoint, "ECC_NIST_P384")
    _, cert = make_cert(tmp_path, "other", "p384")
    code, out, err = _build(tmp_path, cert, "--kms-key-id", key_id)
    assert code == 2 and "does not belong to this certificate" in err
    assert not Path(out).exists()


def test_kms_sign_existing_image(tmp_path, kms_endpoint, capsys):
    key_id, _arn, pub = _kms_key(kms_endpoint, "ECC_NIST_P384")
    _, cert = make_cert(tmp_path, "kms", "p384", public_key=pub)
    out = tmp_path / "signed.eif"
    assert (
        main(
            [
                "sign",
                str(VECTORS / "three-ramdisks.eif"),
                "--signing-certificate",
                str(cert),
                "--kms-key-id",
                key_id,
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert main(["verify", str(out), "--signing-certificate", str(cert)]) == 0
