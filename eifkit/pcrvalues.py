"""PCR values outside an EIF: of any file and of a signing certificate (PCR8);
expected values from a JSON file (what ``build --json``, ``pcr --json``, ``describe
--json`` or nitro-cli print) or given one by one; a KMS key-policy condition."""

from __future__ import annotations

import re
from collections.abc import Mapping

from . import jsonfmt
from .errors import EifError, InputError
from .inputs import PCRS_FILE_LIMIT, read_input_file
from .measure import DEFAULT_ALGORITHM, new_hash, pcr_of_bytes, pcr_of_digest
from .sources import FileSource

_PCR_NAME = re.compile(r"PCR\d+")
_PCR_HEX = re.compile(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128}")


def pcr_of_file(path: str, algo: str = DEFAULT_ALGORITHM) -> bytes:
    """extend(zeros, H(file)): the PCR of any file's bytes (``nitro-cli pcr --input``),
    read in chunks."""
    h = new_hash(algo)
    for chunk in FileSource.open(path, "input").chunks():
        h.update(chunk)
    return pcr_of_digest(h.digest(), algo)


def pcr_of_certificate_file(path: str, algo: str = DEFAULT_ALGORITHM) -> bytes:
    """PCR8 for a signing certificate (PEM or DER file): the PCR of its DER bytes."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from .signing.signers import read_certificate_file

    _pem, cert = read_certificate_file(path)
    return pcr_of_bytes(cert.public_bytes(Encoding.DER), algo)


def load_pcrs_file(path: str) -> dict[str, str]:
    """The PCRn values of a JSON file: a "Measurements" object or a flat {"PCR0": ...}."""
    try:
        value = jsonfmt.loads(read_input_file(path, "PCR values", PCRS_FILE_LIMIT))
    except EifError as e:
        raise e.with_path(path) from None
    if isinstance(value, dict) and isinstance(value.get("Measurements"), dict):
        value = value["Measurements"]
    if not isinstance(value, dict):
        raise InputError("expected a JSON object of PCR values", path=path)
    pcrs = {k: v for k, v in value.items() if _PCR_NAME.fullmatch(k)}
    for k, v in pcrs.items():
        if not isinstance(v, str):  # dropping it would drop a check the file asks for
            raise InputError(
                f"found {jsonfmt.dumps(v)[:40]}, expected hex text", path=path, field=k
            )
    if not pcrs:
        raise InputError("no PCR0..PCR8 values found", path=path)
    return pcrs


def expected_pcrs(pcrs_file: str | None, given: Mapping[str, str | None]) -> dict[str, str]:
    """Expected PCRs: those of ``pcrs_file``, then ``given`` ({"PCR0": hex or None}) on
    top; each must be a SHA-256/384/512 value in hex."""
    pcrs = load_pcrs_file(pcrs_file) if pcrs_file else {}
    pcrs.update({k: v for k, v in given.items() if v is not None})
    for k, v in pcrs.items():
        if not _PCR_HEX.fullmatch(v):
            raise InputError(f"{k} {v!r} is not a hex SHA-256/384/512 value", field=k)
    return pcrs


def kms_policy(values: Mapping[str, str], algo: str) -> jsonfmt.OrderedObject:
    """A KMS key-policy Condition block: kms:RecipientAttestation:PCRn for every PCRn
    in ``values`` (in PCR order), under StringEqualsIgnoreCase."""
    if algo != "sha384":
        raise InputError("KMS attestation conditions take SHA-384 PCRs; drop --algo")
    pcrs = {k: v for k, v in values.items() if _PCR_NAME.fullmatch(k)}
    if not pcrs:
        raise InputError("--format kms-policy needs PCR values (an IMAGE, --role-arn ...)")
    keys = sorted(pcrs, key=lambda k: int(k[3:]))
    cond = jsonfmt.OrderedObject((f"kms:RecipientAttestation:{k}", pcrs[k]) for k in keys)
    return jsonfmt.OrderedObject(Condition=jsonfmt.OrderedObject(StringEqualsIgnoreCase=cond))
