"""An attestation document's fields for people (rows of a table) and for programs
(JSON): hex for bytes, and text or JSON beside it when the bytes are that."""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

from cryptography import x509

from ..jsonfmt import OrderedObject
from ..timefmt import rfc3339
from .chain import AWS_ROOT_SHA256, CERTIFICATE_FIELD_ERRORS
from .document import AttestationDocument


def certificate_json(der: bytes) -> OrderedObject:
    out = OrderedObject(Size=len(der), Sha256=hashlib.sha256(der).hexdigest())
    if not any(der):
        out["Note"] = f"{len(der)} zero bytes, not a certificate (QEMU's emulated NSM)"
        return out
    try:
        cert = x509.load_der_x509_certificate(der)
    except CERTIFICATE_FIELD_ERRORS as e:
        out["Note"] = f"not a DER certificate: {e}"
        return out
    try:
        fields = OrderedObject(
            Subject=cert.subject.rfc4514_string(),
            Issuer=cert.issuer.rfc4514_string(),
            Serial=format(cert.serial_number, "x"),
            NotBefore=rfc3339(cert.not_valid_before_utc),
            NotAfter=rfc3339(cert.not_valid_after_utc),
        )
    except CERTIFICATE_FIELD_ERRORS as e:
        out["Note"] = f"a certificate whose fields do not parse: {e!r}"
        return out
    out.update(fields)
    if out["Sha256"] == AWS_ROOT_SHA256:
        out["Note"] = "the AWS Nitro Enclaves root G1"
    return out


def _readable(data: bytes) -> OrderedObject:
    out = OrderedObject(Hex=data.hex(), Size=len(data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return out
    if text.isprintable() or all(c.isprintable() or c in "\n\r\t" for c in text):
        out["Text"] = text
        with contextlib.suppress(ValueError, RecursionError):
            out["Json"] = json.loads(text)
    return out


def document_json(doc: AttestationDocument) -> OrderedObject:
    out = OrderedObject(
        ModuleId=doc.module_id,
        Digest=doc.digest,
        Timestamp=rfc3339(doc.timestamp),
        TimestampMs=doc.timestamp_ms,
        DebugMode=doc.debug_mode,
        EmulatedUnsigned=doc.emulated_unsigned,
        Cose=OrderedObject(
            Tagged=doc.tagged,
            Protected=doc.protected.hex(),
            Unprotected={str(k): repr(v) for k, v in doc.unprotected_header.items()},
            PayloadSize=len(doc.payload),
            Signature=doc.signature.hex(),
        ),
        PCRs=OrderedObject((f"PCR{i}", v.hex()) for i, v in doc.pcrs.items()),
        Certificate=certificate_json(doc.certificate),
        CaBundle=[certificate_json(c) for c in doc.cabundle],
    )
    for key, value in (
        ("PublicKey", doc.public_key),
        ("UserData", doc.user_data),
        ("Nonce", doc.nonce),
    ):
        out[key] = None if value is None else _readable(value)
    return out


def _certificate_line(info: OrderedObject) -> str:
    if "Subject" not in info:
        return str(info.get("Note", ""))
    note = f"  [{info['Note']}]" if "Note" in info else ""
    return f"{info['Subject']}  valid {info['NotBefore']} .. {info['NotAfter']}{note}"


def _value_line(value: Any) -> str:
    if value is None:
        return "absent"
    line = f"{value['Hex']} ({value['Size']} bytes)"
    if "Json" in value:
        return f"{line}  JSON: {json.dumps(value['Json'])}"
    if "Text" in value:
        return f"{line}  text: {value['Text']!r}"
    return line


def document_rows(doc: AttestationDocument) -> list[list[str]]:
    j = document_json(doc)
    cose = j["Cose"]
    rows = [
        ["module_id", doc.module_id],
        ["digest", doc.digest],
        ["timestamp", f"{j['Timestamp']} ({doc.timestamp_ms} ms)"],
        ["debug mode", "yes (PCR0-2 all zero)" if doc.debug_mode else "no"],
        [
            "cose",
            f"{'tagged' if doc.tagged else 'untagged'} COSE_Sign1, protected "
            f"{cose['Protected'] or 'empty'}, payload {len(doc.payload)} bytes, "
            f"signature {len(doc.signature)} bytes",
        ],
    ]
    if doc.emulated_unsigned:
        rows.append(["UNSIGNED", "all-zero certificate and signature (QEMU's emulated NSM)"])
    rows += [[name, value] for name, value in j["PCRs"].items()]
    rows.append(["certificate", _certificate_line(j["Certificate"])])
    rows += [[f"cabundle[{i}]", _certificate_line(c)] for i, c in enumerate(j["CaBundle"])]
    rows += [
        ["public_key", _value_line(j["PublicKey"])],
        ["user_data", _value_line(j["UserData"])],
        ["nonce", _value_line(j["Nonce"])],
    ]
    return rows
