"""Sign an EIF that exists (``eifkit sign``): refuse a damaged file, make the signature
section with a key or from a signature made elsewhere, and attach it.

:func:`sign_while_writing` does it in the one pass that writes the signed file: PCR0
and the stored CRC's check come from the bytes on their way to the output, and the
signature section is made when the writer reaches it (the way a signed build signs).
:func:`sign_image` needs the image's measurements first (a second pass); it is the
fallback when the signature section cannot be made last.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from .errors import EifError, InputError
from .format import SectionHeader, SectionType
from .image import EifImage
from .inputs import SIGNATURE_FILE_LIMIT, read_input_file
from .layout import plan
from .measure import Measurements, eif_crc32
from .signing.signers import (
    Signer,
    attach_signature,
    cose_from_detached,
    make_signature_section,
    read_certificate_file,
)
from .sigsection import PcrSignature, encode_signature_section
from .sources import DeferredSource, Source


def _refuse_damaged(stored: int | None, computed: int, path: str | None) -> None:
    if stored != computed:
        raise InputError(
            f"refusing to sign: stored CRC32 {stored or 0:#010x} does not match the "
            f"computed {computed:#010x} (the file is damaged)",
            path=path,
            field="eif_crc32",
        )


def _signature_maker(
    certificate: str, signer: Signer | None, detached_signature: str | None
) -> Callable[[bytes], bytes]:
    """PCR0 -> the signature section's bytes (a detached signature is checked against
    the certificate and that PCR0)."""
    cert_pem, cert = read_certificate_file(certificate)
    if detached_signature is not None:
        data = read_input_file(detached_signature, "signature", SIGNATURE_FILE_LIMIT)

        def from_detached(pcr0: bytes) -> bytes:
            try:
                cose = cose_from_detached(data, cert, pcr0)
            except EifError as e:
                raise e.with_path(detached_signature) from None
            return encode_signature_section([PcrSignature(cert_pem, cose)])

        return from_detached
    if signer is not None:
        key_signer = signer
        return lambda pcr0: make_signature_section(pcr0, cert_pem, key_signer)
    raise InputError("signing needs a private key, a KMS key or a signature file")


def _attach(image: EifImage, section: bytes | Source, path: str | None) -> EifImage:
    try:
        return attach_signature(image, section)
    except EifError as e:
        raise e.with_path(path) if path else e from None


def sign_image(
    image: EifImage,
    measurements: Measurements,
    certificate: str,
    *,
    signer: Signer | None = None,
    detached_signature: str | None = None,
    path: str | None = None,
) -> EifImage:
    """``image`` with its signature added or replaced: signed by ``signer``, or with the
    signature in the file ``detached_signature`` (checked against ``certificate`` and
    the image's PCR0 first). ``measurements`` are the image's; ``path`` names it in
    errors. A stored CRC32 that does not match is refused (the file is damaged)."""
    _refuse_damaged(image.stored_crc, measurements.crc32, path)
    make = _signature_maker(certificate, signer, detached_signature)
    return _attach(image, make(measurements.pcr0), path)


def sign_while_writing(
    image: EifImage,
    certificate: str,
    *,
    signer: Signer | None = None,
    detached_signature: str | None = None,
    path: str | None = None,
) -> EifImage | None:
    """``image`` with a signature section that the writer makes when it gets there, so
    that signing reads the file once; the writer fails (and writes nothing) if the
    stored CRC32 does not match what it read. None when that cannot be done: an
    existing signature section that is not the last header-table entry."""
    signatures = [i for i, s in enumerate(image.sections) if s.type == SectionType.SIGNATURE]
    if signatures and signatures[0] != len(image.sections) - 1:
        return None
    make = _signature_maker(certificate, signer, detached_signature)
    header, _placed, _end = plan(image, "original")
    stored_header = header.pack()
    old = image.sections[signatures[0]] if signatures else None

    def check_stored_crc(crc: int, length: int) -> None:
        if old is not None:  # the section being replaced was part of the file's CRC
            section_header = SectionHeader(old.type, old.flags, old.size).pack()
            crc, length = zlib.crc32(section_header, crc), length + len(section_header)
            for chunk in old.source.chunks():
                crc, length = zlib.crc32(chunk, crc), length + len(chunk)
        _refuse_damaged(image.stored_crc, eif_crc32(stored_header, crc, length), path)

    deferred = DeferredSource(make, check_prefix=check_stored_crc)
    return _attach(image, deferred, path)
