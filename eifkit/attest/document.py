"""An attestation document: the COSE_Sign1 an NSM returns and the payload it signs.

The payload's fields and limits are those of AWS's ``attestation_process.md``
(aws-nitro-enclaves-nsm-api, section 3.2.2), with two documented choices where that text
contradicts itself or the hardware:

- optional fields: the text says "no field content can be null", yet every document AWS
  hardware issues carries all nine keys and encodes an absent ``public_key``,
  ``user_data`` or ``nonce`` as CBOR ``null``; null is read as absent. A mandatory
  field that is null is refused.
- ``user_data`` and ``nonce``: section 2.2 allows 0..1024 bytes, section 3.2.2.2 allows
  0..512. The larger bound is used: a payload is only trusted once its signature
  verifies, and refusing a document the NSM signed would be a false failure.

Decoding is strict where a lenient decoder hides tampering: exactly one CBOR item and
nothing after it, no duplicate map keys, no unknown payload keys, every type checked,
no CBOR tag but COSE_Sign1's own 18 (AWS's documents have none; cbor2 turns a bignum
into an int of any size and makes a float, a boolean or a bignum key equal to an
integer one), payload keys text and PCR indexes unsigned integers.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from .. import cbor_peek
from ..errors import EifError, SignatureError
from ..signing.cose import COSE_SIGN1_TAG, decode_cose_sign1

PAYLOAD_MAX = 16384  # attestation_process.md 3.1: bstr .size (1..16384)
COSE_MAX = PAYLOAD_MAX + 2048  # that payload, its headers, a signature and the framing
SIGNATURE_SIZES = (32, 48, 64, 96, 132)  # 3.1 lists 32/48/64; ES384's r||s is 96
PCR_SIZES = (32, 48, 64)
PCR_INDEX_LIMIT = 32
CERT_MAX = 1024
PUBLIC_KEY_MAX = 1024
USER_DATA_MAX = 1024  # 2.2; 3.2.2.2 says 512 (see the module docstring)
NONCE_MAX = 1024
TIMESTAMP_LIMIT = 253402300800000  # 10000-01-01T00:00:00Z in ms: a uint64 a date can hold

MANDATORY = ("module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle")
OPTIONAL = ("public_key", "user_data", "nonce")


class AttestationError(EifError):
    """Bytes that are not a well-formed attestation document."""


@dataclass(frozen=True)
class AttestationDocument:
    """A decoded attestation document. ``protected`` and ``payload`` are the exact
    bytes that were signed; everything else is decoded from them."""

    tagged: bool
    protected: bytes
    protected_header: dict[Any, Any]
    unprotected_header: dict[Any, Any]
    payload: bytes
    signature: bytes
    module_id: str
    digest: str
    timestamp_ms: int
    pcrs: dict[int, bytes]
    certificate: bytes
    cabundle: tuple[bytes, ...]
    public_key: bytes | None
    user_data: bytes | None
    nonce: bytes | None

    @property
    def timestamp(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.timestamp_ms / 1000, _dt.UTC)

    @property
    def debug_mode(self) -> bool:
        """PCR0, PCR1 and PCR2 all zero: an enclave started in debug mode, whose PCRs
        prove nothing about what runs in it."""
        return all(i in self.pcrs and not any(self.pcrs[i]) for i in (0, 1, 2))

    @property
    def emulated_unsigned(self) -> bool:
        """The form of QEMU's emulated NSM: certificate, every cabundle entry and the
        signature all zero bytes. No key signed it."""
        return (
            not any(self.certificate)
            and not any(self.signature)
            and all(not any(c) for c in self.cabundle)
        )


def _strict(data: bytes, what: str) -> Any:
    try:
        return cbor_peek.loads_whole(data)
    except (ValueError, cbor2.CBORDecodeError) as e:
        raise AttestationError(f"not well-formed CBOR: {e}", field=what) from None


def _tree(data: bytes) -> cbor_peek.Item | None:
    """The CBOR item tree of ``data``; None when it is not CBOR (the strict decoding
    that follows says what is wrong)."""
    try:
        return cbor_peek.parse(data)[0]
    except cbor_peek.CborError:
        return None


def _refuse_tags(item: cbor_peek.Item, what: str) -> None:
    stack = [item]
    while stack:
        item = stack.pop()
        if item.major == cbor_peek.TAG:
            raise AttestationError(f"CBOR tag {item.value} inside, expected none", field=what)
        stack.extend(item.items)


def _plain_cbor(data: bytes) -> None:
    """No CBOR tag in the COSE_Sign1 or its protected header but an outer 18."""
    if len(data) > COSE_MAX:
        raise AttestationError(
            f"found {len(data)} bytes, expected at most {COSE_MAX}", field="COSE_Sign1"
        )
    outer = _tree(data)
    if outer is None:
        return
    if outer.major == cbor_peek.TAG and outer.value == COSE_SIGN1_TAG:
        outer = outer.items[0]
    _refuse_tags(outer, "COSE_Sign1")
    if outer.major == cbor_peek.ARRAY and outer.items and outer.items[0].major == cbor_peek.BYTES:
        protected = _tree(outer.items[0].value)
        if protected is not None:
            _refuse_tags(protected, "protected")


def _plain_payload(payload: bytes) -> None:
    """No CBOR tag in the payload, text keys, unsigned-integer PCR indexes: no two keys
    cbor2 would merge into one."""
    tree = _tree(payload)
    if tree is None:
        return
    _refuse_tags(tree, "payload")
    if tree.major != cbor_peek.MAP:
        return
    for key, value in zip(tree.items[::2], tree.items[1::2], strict=True):
        if key.major != cbor_peek.TEXT:
            raise AttestationError(
                f"a key of CBOR major type {key.major}, expected text", field="payload"
            )
        if key.value == "pcrs" and value.major == cbor_peek.MAP:
            for index in value.items[::2]:
                if index.major != cbor_peek.UINT:
                    found = (
                        repr(index.value)
                        if index.major in (cbor_peek.BYTES, cbor_peek.TEXT)
                        else f"of CBOR major type {index.major}"
                    )
                    raise AttestationError(
                        f"index {found}, expected an unsigned integer", field="pcrs"
                    )


def decode_cose(data: bytes) -> AttestationDocument:
    """Decode a COSE_Sign1 attestation document (tagged 18 or untagged)."""
    _plain_cbor(data)
    try:
        cose = decode_cose_sign1(data)
        header = cose.protected_map
    except SignatureError as e:
        raise AttestationError(e.message, field=e.field) from None
    payload, signature = cose.payload, cose.signature
    if not 1 <= len(payload) <= PAYLOAD_MAX:
        raise AttestationError(
            f"found {len(payload)} bytes, expected 1..{PAYLOAD_MAX}", field="payload"
        )
    if len(signature) not in SIGNATURE_SIZES:
        raise AttestationError(
            f"found {len(signature)} bytes, expected {'/'.join(map(str, SIGNATURE_SIZES))}",
            field="signature",
        )
    fields = decode_payload(payload)
    return AttestationDocument(
        tagged=cose.tagged,
        protected=cose.protected,
        protected_header=header,
        unprotected_header=cose.unprotected,
        payload=payload,
        signature=signature,
        **fields,
    )


def decode_payload(payload: bytes) -> dict[str, Any]:
    """The payload's fields, checked against attestation_process.md 3.2.2."""
    value = _strict(payload, "payload")
    _plain_payload(payload)
    if not isinstance(value, Mapping):
        raise AttestationError(f"found {_kind(value)}, expected a map", field="payload")
    unknown = [k for k in value if k not in MANDATORY + OPTIONAL]
    if unknown:
        raise AttestationError(f"unknown key {unknown[0]!r}", field="payload")
    for key in MANDATORY:
        if value.get(key) is None:
            raise AttestationError("missing (or null)", field=key)
    module_id = value["module_id"]
    if not isinstance(module_id, str) or not module_id:
        raise AttestationError(
            f"found {_sized(module_id)}, expected non-empty text", field="module_id"
        )
    if value["digest"] != "SHA384":
        raise AttestationError(f"found {value['digest']!r}, expected 'SHA384'", field="digest")
    timestamp = value["timestamp"]
    if type(timestamp) is not int or not 0 < timestamp < TIMESTAMP_LIMIT:
        raise AttestationError(
            f"found {timestamp!r}, expected milliseconds since 1970 before the year 10000",
            field="timestamp",
        )
    return {
        "module_id": module_id,
        "digest": value["digest"],
        "timestamp_ms": timestamp,
        "pcrs": _pcrs(value["pcrs"]),
        "certificate": _bytes(value["certificate"], "certificate", 1, CERT_MAX),
        "cabundle": _cabundle(value["cabundle"]),
        "public_key": _optional(value.get("public_key"), "public_key", 1, PUBLIC_KEY_MAX),
        "user_data": _optional(value.get("user_data"), "user_data", 0, USER_DATA_MAX),
        "nonce": _optional(value.get("nonce"), "nonce", 0, NONCE_MAX),
    }


def _pcrs(value: Any) -> dict[int, bytes]:
    if not isinstance(value, Mapping) or not 1 <= len(value) <= PCR_INDEX_LIMIT:
        raise AttestationError(
            f"found {_sized(value)}, expected a map of 1..{PCR_INDEX_LIMIT} PCRs", field="pcrs"
        )
    pcrs: dict[int, bytes] = {}
    for index, pcr in value.items():
        if type(index) is not int or not 0 <= index < PCR_INDEX_LIMIT:
            raise AttestationError(f"index {index!r}, expected 0..31", field="pcrs")
        if not isinstance(pcr, bytes) or len(pcr) not in PCR_SIZES:
            raise AttestationError(
                f"found {_sized(pcr)}, expected 32, 48 or 64 bytes", field=f"pcrs[{index}]"
            )
        pcrs[index] = pcr
    return dict(sorted(pcrs.items()))


def _cabundle(value: Any) -> tuple[bytes, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise AttestationError(
            f"found {_sized(value)}, expected a non-empty array", field="cabundle"
        )
    return tuple(_bytes(c, f"cabundle[{i}]", 1, CERT_MAX) for i, c in enumerate(value))


def _bytes(value: Any, field: str, low: int, high: int) -> bytes:
    if not isinstance(value, bytes) or not low <= len(value) <= high:
        raise AttestationError(f"found {_sized(value)}, expected {low}..{high} bytes", field=field)
    return value


def _optional(value: Any, field: str, low: int, high: int) -> bytes | None:
    return None if value is None else _bytes(value, field, low, high)


def _kind(value: Any) -> str:
    if isinstance(value, cbor2.CBORTag):
        return f"CBOR tag {value.tag}"
    if value is None:
        return "null"
    for kind, name in _KINDS:
        if isinstance(value, kind):
            return name
    return type(value).__name__


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (bytes, "bytes"),
    (str, "text"),
    ((list, tuple), "an array"),
    (Mapping, "a map"),
    (float, "a float"),
)


def _sized(value: Any) -> str:
    if isinstance(value, bytes | str | list | tuple | dict):
        unit = (
            "bytes"
            if isinstance(value, bytes)
            else "characters"
            if isinstance(value, str)
            else "items"
        )
        return f"{_kind(value)} of {len(value)} {unit}"
    return _kind(value)
