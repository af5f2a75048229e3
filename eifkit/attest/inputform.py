"""The forms an attestation document travels in, and the COSE bytes inside each.

raw CBOR (an untagged COSE_Sign1 starts with 0x84, a tagged one with 0xd2 0x84); hex;
base64, standard or URL-safe, padded or not; a JSON object with a ``document`` field
holding one of the text forms; an X.509 certificate (PEM or DER) carrying the document
hex-encoded as the first label of its longest DNS subject alternative name (the form
Evervault's enclaves present in their TLS certificates).
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from cryptography import x509

from .chain import CERTIFICATE_FIELD_ERRORS
from .document import AttestationError

INPUT_LIMIT = 1 << 20  # a document is ~5 KB; its hex in a certificate ~10 KB

_HEX = re.compile(rb"(?:[0-9a-fA-F]{2})+")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
_BASE64_URL = re.compile(rb"[A-Za-z0-9_-]+={0,2}")
_WHITESPACE = re.compile(rb"\s+")
# A DER certificate is a SEQUENCE (0x30) of at least 128 bytes, so its length takes
# the long form; base64 of a tagged COSE_Sign1 (d2 84) also starts with "0" (0x30).
_DER_LONG_LENGTHS = (b"\x81", b"\x82", b"\x83")


def looks_like_cose(data: bytes) -> bool:
    return data[:1] == b"\x84" or data[:2] == b"\xd2\x84"


def cose_bytes(data: bytes) -> tuple[bytes, str]:
    """The COSE_Sign1 bytes in ``data`` and the name of the form they were found in;
    AttestationError when ``data`` is none of the forms."""
    if looks_like_cose(data):
        return data, "cbor"
    if data[:1] == b"\x30" and data[1:2] in _DER_LONG_LENGTHS:
        return _from_certificate(_der_certificate(data)), "der-certificate"
    text = data.strip()
    if text.startswith(b"-----BEGIN CERTIFICATE-----"):
        try:
            cert = x509.load_pem_x509_certificate(text)
        except CERTIFICATE_FIELD_ERRORS as e:
            raise AttestationError(f"a PEM certificate that does not parse: {e}") from None
        return _from_certificate(cert), "pem-certificate"
    if text.startswith(b"{"):
        return _from_json(text), "json"
    decoded = _from_text(text)
    if decoded is None:
        raise AttestationError(
            f"not an attestation document: starts with {data[:8].hex() or 'nothing'}; "
            "expected COSE_Sign1 CBOR (84 or d2 84), hex, base64, JSON with a "
            '"document" field, or an X.509 certificate carrying it'
        )
    return decoded


def _from_text(text: bytes) -> tuple[bytes, str] | None:
    compact = _WHITESPACE.sub(b"", text)
    if _HEX.fullmatch(compact):
        decoded = bytes.fromhex(compact.decode())
        if looks_like_cose(decoded):
            return decoded, "hex"
    for name, pattern, altchars in (
        ("base64", _BASE64, None),
        ("base64url", _BASE64_URL, b"-_"),
    ):
        if pattern.fullmatch(compact):
            padded = compact.rstrip(b"=") + b"=" * (-len(compact.rstrip(b"=")) % 4)
            try:
                decoded = base64.b64decode(padded, altchars=altchars, validate=True)
            except binascii.Error:
                continue
            if looks_like_cose(decoded):
                return decoded, name
    return None


def _from_json(text: bytes) -> bytes:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise AttestationError(f"JSON that does not parse: {e}") from None
    document = value.get("document") if isinstance(value, dict) else None
    if not isinstance(document, str):
        raise AttestationError('JSON without a "document" string', field="document")
    decoded = _from_text(document.encode())
    if decoded is None:
        raise AttestationError("neither hex nor base64 of a COSE_Sign1", field="document")
    return decoded[0]


def _der_certificate(data: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(data)
    except CERTIFICATE_FIELD_ERRORS as e:
        raise AttestationError(f"a DER certificate that does not parse: {e}") from None


def _from_certificate(cert: x509.Certificate) -> bytes:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise AttestationError(
            "a certificate without subject alternative names, so no attestation document",
            field="subjectAltName",
        ) from None
    except CERTIFICATE_FIELD_ERRORS as e:
        raise AttestationError(
            f"the certificate's extensions do not parse: {e}", field="subjectAltName"
        ) from None
    names = san.get_values_for_type(x509.DNSName)
    if not names:
        raise AttestationError("a certificate without DNS names", field="subjectAltName")
    label = max(names, key=len).split(".")[0]
    decoded = _from_text(label.encode())
    if decoded is None or decoded[1] != "hex":
        raise AttestationError(
            "the longest DNS name's first label is not the hex of a COSE_Sign1",
            field="subjectAltName",
        )
    return decoded[0]
