"""The mutators that make each hostile or edge-case EIF of the loader-test corpus.

A mutator takes an :class:`~eifkit.loadertest.editor.EifEditor` holding a base image,
changes it, and returns it; the editor records every change for the manifest. Cases
(:mod:`eifkit.loadertest.cases`) refer to these by name, or to what the small
factories here (:func:`set_header`, :func:`drop_section` ...) return.

Unless the CRC is the defect, every mutator ends by recomputing the CRC as QEMU checks
it, so that a loader reaches the check the case is about.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from ..format import HEADER_SIZE, SECTION_HEADER, SECTION_HEADER_SIZE, SectionType
from ..signing.signers import LocalKeySigner, sign_pcr0
from ..sigsection import load_certificate
from .bases import fixture_key
from .editor import EifEditor, Part

Mutation = Callable[[EifEditor], EifEditor]

KERNEL = SectionType.KERNEL
CMDLINE = SectionType.CMDLINE
RAMDISK = SectionType.RAMDISK
SIGNATURE = SectionType.SIGNATURE
METADATA = SectionType.METADATA


def unchanged(e: EifEditor) -> EifEditor:
    return e


# ------------------------------------------------------------------ the header


def set_header(name: str, value: int | bytes, index: int | None = None) -> Mutation:
    """Set one header field (an item of a table with ``index``), then fix the CRC."""

    def mutate(e: EifEditor) -> EifEditor:
        return e.set_header(name, value, index).fix_crc()

    return mutate


def zero_default_resources(e: EifEditor) -> EifEditor:
    return e.set_header("default_mem", 0).set_header("default_cpus", 0).fix_crc()


def stray_table_entry(e: EifEditor) -> EifEditor:
    """Table entry 31, beyond num_sections, holds an offset and a size."""
    e.set_header("section_offsets", 12345, 31).set_header("section_sizes", 77, 31)
    return e.fix_crc()


def flip_crc_low_bit(e: EifEditor) -> EifEditor:
    return e.set_header("eif_crc32", e.header().crc32 ^ 1)


def zero_crc(e: EifEditor) -> EifEditor:
    return e.set_header("eif_crc32", 0)


def flip_kernel_byte_100(e: EifEditor) -> EifEditor:
    """Flip byte 100 of the first section's data (the kernel), leaving the CRC stale."""
    at = HEADER_SIZE + SECTION_HEADER_SIZE + 100
    return e.patch(at, bytes([e.buf[at] ^ 0xFF]), "kernel byte 100")


# ------------------------------------------------------------------ the table


def _last(e: EifEditor) -> int:
    return e.header().num_sections - 1


def _table_size(e: EifEditor, index: int) -> int:
    return e.header().section_sizes[index]


def set_last_offset(offset: int) -> Mutation:
    """The last table entry's offset becomes ``offset``."""

    def mutate(e: EifEditor) -> EifEditor:
        return e.set_header("section_offsets", offset, _last(e)).fix_crc()

    return mutate


def last_offset_past_eof(e: EifEditor) -> EifEditor:
    return e.set_header("section_offsets", len(e.buf) + 1000, _last(e)).fix_crc()


def resize_last_section(size: int) -> Mutation:
    """The last section's size becomes ``size`` in the table and in its section header."""

    def mutate(e: EifEditor) -> EifEditor:
        i = _last(e)
        return e.set_header("section_sizes", size, i).set_section(i, "size", size).fix_crc()

    return mutate


def grow_first_ramdisk_in_table(e: EifEditor) -> EifEditor:
    i = e.find_section(RAMDISK)
    return e.set_header("section_sizes", _table_size(e, i) + 1, i).fix_crc()


def grow_first_ramdisk_in_section_header(e: EifEditor) -> EifEditor:
    i = e.find_section(RAMDISK)
    return e.set_section(i, "size", _table_size(e, i) + 1).fix_crc()


def duplicate_last_entry(e: EifEditor) -> EifEditor:
    """One more table entry, repeating the last one's offset and size."""
    n = e.header().num_sections
    e.set_header("section_offsets", e.section_offset(n - 1), n)
    e.set_header("section_sizes", _table_size(e, n - 1), n)
    return e.set_header("num_sections", n + 1).fix_crc()


def overlap_inside_kernel(e: EifEditor) -> EifEditor:
    """One more table entry, 256 bytes into the kernel's data, where 12 kernel bytes are
    made into the header of a 64-byte ramdisk section."""
    n = e.header().num_sections
    inner = HEADER_SIZE + SECTION_HEADER_SIZE + 256
    fake = SECTION_HEADER.pack({"type": RAMDISK, "flags": 0, "size": 64})
    e.patch(inner, fake, "kernel bytes 256..268 (a section header)")
    e.set_header("section_offsets", inner, n).set_header("section_sizes", 64, n)
    return e.set_header("num_sections", n + 1).fix_crc()


# ------------------------------------------------------------------ section headers


def set_section_field(index: int, name: str, value: int) -> Mutation:
    """Set a field of the section header at table index ``index``, then fix the CRC."""

    def mutate(e: EifEditor) -> EifEditor:
        return e.set_section(index, name, value).fix_crc()

    return mutate


def retype(section_type: int, new_type: int) -> Mutation:
    """The first section of ``section_type`` gets type ``new_type``."""

    def mutate(e: EifEditor) -> EifEditor:
        return e.set_section(e.find_section(section_type), "type", new_type).fix_crc()

    return mutate


# ------------------------------------------------------------------ layout


def _relayout(e: EifEditor, parts: list[Part], what: str, **options: Any) -> EifEditor:
    return e.relayout(parts, description=what, **options).fix_crc()


def append_section(part: Part, what: str) -> Mutation:
    def mutate(e: EifEditor) -> EifEditor:
        return _relayout(e, [*e.parts(), part], what)

    return mutate


def duplicate_section(section_type: int, what: str) -> Mutation:
    """A copy of the first section of ``section_type``, appended."""

    def mutate(e: EifEditor) -> EifEditor:
        parts = e.parts()
        return _relayout(e, [*parts, parts[e.find_section(section_type)]], what)

    return mutate


def drop_section(section_type: int, what: str) -> Mutation:
    """Every section of ``section_type`` removed."""

    def mutate(e: EifEditor) -> EifEditor:
        return _relayout(e, [p for p in e.parts() if p.type != section_type], what)

    return mutate


def _replace_data(e: EifEditor, section_type: int, data: bytes, what: str) -> EifEditor:
    parts = [Part(p.type, data if p.type == section_type else p.data, p.flags) for p in e.parts()]
    return _relayout(e, parts, what)


def replace_data(section_type: int, data: bytes, what: str) -> Mutation:
    """Every section of ``section_type`` holds ``data`` instead."""

    def mutate(e: EifEditor) -> EifEditor:
        return _replace_data(e, section_type, data, what)

    return mutate


def _insert_gap(e: EifEditor, index: int, gap: bytes, what: str) -> EifEditor:
    parts = e.parts()
    p = parts[index]
    parts[index] = Part(p.type, p.data, p.flags, gap_before=gap)
    return _relayout(e, parts, what)


def gap_after_header(gap: bytes, what: str) -> Mutation:
    """``gap`` between the header and the first section."""

    def mutate(e: EifEditor) -> EifEditor:
        return _insert_gap(e, 0, gap, what)

    return mutate


def gap_before_section(section_type: int, gap: bytes, what: str) -> Mutation:
    """``gap`` in front of the first section of ``section_type``."""

    def mutate(e: EifEditor) -> EifEditor:
        return _insert_gap(e, e.find_section(section_type), gap, what)

    return mutate


def append_bytes(data: bytes) -> Mutation:
    """``data`` after the last section."""

    def mutate(e: EifEditor) -> EifEditor:
        return e.append(data).fix_crc()

    return mutate


def swap_ramdisks_in_table(e: EifEditor) -> EifEditor:
    """The table lists the first two ramdisks the other way round; the file is unchanged."""
    parts = e.parts()
    r = [i for i, p in enumerate(parts) if p.type == RAMDISK]
    order = list(range(len(parts)))
    order[r[0]], order[r[1]] = order[r[1]], order[r[0]]
    return _relayout(e, parts, "ramdisks swapped in the table", table_order=order)


def _reorder(e: EifEditor, order: list[int], what: str) -> EifEditor:
    parts = e.parts()
    return _relayout(e, [parts[i] for i in order], what)


def _move(e: EifEditor, section_type: int, *, first: bool, what: str) -> EifEditor:
    n = e.header().num_sections
    i = next(i for i, p in enumerate(e.parts()) if p.type == section_type)
    rest = [j for j in range(n) if j != i]
    return _reorder(e, [i, *rest] if first else [*rest, i], what)


def first_ramdisk_first(e: EifEditor) -> EifEditor:
    return _move(e, RAMDISK, first=True, what="first ramdisk moved first")


def metadata_last(e: EifEditor) -> EifEditor:
    return _move(e, METADATA, first=False, what="metadata moved last")


def reverse_sections(e: EifEditor) -> EifEditor:
    return _reorder(e, list(range(e.header().num_sections))[::-1], "sections reversed")


# ------------------------------------------------------------------ truncation


def truncate_to(length: int) -> Mutation:
    def mutate(e: EifEditor) -> EifEditor:
        return e.truncate(length)

    return mutate


def cut_last_10_bytes(e: EifEditor) -> EifEditor:
    return e.truncate(len(e.buf) - 10)


def end_inside_last_section_header(e: EifEditor) -> EifEditor:
    """The file ends 5 bytes into the last table entry's section header."""
    return e.truncate(e.section_offset(_last(e)) + 5)


# ------------------------------------------------------------------ the signature section


def _signature_entry(e: EifEditor) -> dict[str, Any]:
    """The first entry of the signature section, decoded."""
    i = e.find_section(SIGNATURE)
    start = e.section_offset(i) + SECTION_HEADER_SIZE
    entries = cbor2.loads(bytes(e.buf[start : start + e.section_field(i, "size")]))
    entry: dict[str, Any] = entries[0]
    return entry


def _certificate(e: EifEditor) -> bytes:
    return bytes(_signature_entry(e)["signing_certificate"])


def _cose(e: EifEditor) -> bytes:
    return bytes(_signature_entry(e)["signature"])


def replace_signature(section: bytes, what: str) -> Mutation:
    """The signature section holds ``section`` instead."""
    return replace_data(SIGNATURE, section, what)


def _signature_map(
    cert: list[int] | bytes, cose: list[int], *, swap: bool = False, extra: bool = False
) -> bytes:
    """A one-entry signature section; ``swap`` puts the keys the other way round,
    ``extra`` adds a third key."""
    m: dict[str, object] = {"signing_certificate": cert, "signature": cose}
    if swap:
        m = {"signature": cose, "signing_certificate": cert}
    if extra:
        m["extra"] = 1
    return cbor2.dumps([m])


def _rewrite_entry(
    e: EifEditor,
    what: str,
    *,
    cert: list[int] | bytes | None = None,
    cose: bytes | None = None,
    swap: bool = False,
    extra: bool = False,
) -> EifEditor:
    """The signature section re-encoded, with the given certificate or COSE bytes."""
    cert_field = list(_certificate(e)) if cert is None else cert
    cose_field = list(_cose(e) if cose is None else cose)
    section = _signature_map(cert_field, cose_field, swap=swap, extra=extra)
    return _replace_data(e, SIGNATURE, section, what)


def signature_keys_swapped(e: EifEditor) -> EifEditor:
    return _rewrite_entry(e, "map keys swapped", swap=True)


def signature_extra_key(e: EifEditor) -> EifEditor:
    return _rewrite_entry(e, "third map key", extra=True)


def certificate_as_byte_string(e: EifEditor) -> EifEditor:
    return _rewrite_entry(e, "certificate as byte string", cert=_certificate(e))


def certificate_as_der(e: EifEditor) -> EifEditor:
    der = load_certificate(_certificate(e)).public_bytes(Encoding.DER)
    return _rewrite_entry(e, "certificate as DER", cert=list(der))


def cose_garbage(e: EifEditor) -> EifEditor:
    return _rewrite_entry(e, "COSE garbage", cose=bytes([1, 2, 3]))


def _wide_uint_array(data: bytes) -> bytes:
    """A CBOR array whose items are uint16-encoded (0x19 00 XX): valid CBOR, wider ints."""
    n = len(data)
    head = bytes([0x99]) + n.to_bytes(2, "big") if n < 65536 else b""
    return head + b"".join(b"\x19\x00" + bytes([b]) for b in data)


def certificate_as_uint16s(e: EifEditor) -> EifEditor:
    body = (
        b"\x81\xa2"
        + cbor2.dumps("signing_certificate")
        + _wide_uint_array(_certificate(e))
        + cbor2.dumps("signature")
        + cbor2.dumps(list(_cose(e)))
    )
    return _replace_data(e, SIGNATURE, body, "certificate bytes encoded as uint16 CBOR integers")


def signed_by_another_key(e: EifEditor) -> EifEditor:
    other = ec.derive_private_key(12345, ec.SECP384R1())
    payload = cbor2.loads(bytes(cbor2.loads(_cose(e))[2]))
    cose = sign_pcr0(bytes(payload["register_value"]), LocalKeySigner(other)).encode()
    return _rewrite_entry(e, "COSE signed by a key other than the certificate's", cose=cose)


def signed_other_pcr0(e: EifEditor) -> EifEditor:
    cose = sign_pcr0(b"\x00" * 48, LocalKeySigner(fixture_key())).encode()
    return _rewrite_entry(e, "validly signed payload of another PCR0", cose=cose)


def cose_tagged(e: EifEditor) -> EifEditor:
    tagged = cbor2.dumps(cbor2.CBORTag(18, list(cbor2.loads(_cose(e)))))
    return _rewrite_entry(e, "COSE_Sign1 with CBOR tag 18", cose=tagged)


def signature_over_32768(e: EifEditor) -> EifEditor:
    entry = _signature_entry(e)
    big = {"signing_certificate": [0x41] * 20000, "signature": [0x42] * 200}
    first = {
        "signing_certificate": list(entry["signing_certificate"]),
        "signature": list(entry["signature"]),
    }
    what = "a second entry makes the section larger than 32768 bytes"
    return _replace_data(e, SIGNATURE, cbor2.dumps([first, big]), what)
