"""Sign an EIF that exists (``eifkit sign``): refuse a damaged file, make the signature
section with a key or from a signature made elsewhere, and attach it."""

from __future__ import annotations

from .errors import EifError, InputError
from .image import EifImage
from .inputs import SIGNATURE_FILE_LIMIT, read_input_file
from .measure import Measurements
from .signing.signers import (
    Signer,
    attach_signature,
    cose_from_detached,
    make_signature_section,
    read_certificate_file,
)
from .sigsection import PcrSignature, encode_signature_section


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
    if image.stored_crc != measurements.crc32:
        raise InputError(
            f"refusing to sign: stored CRC32 {image.stored_crc:#010x} does not match the "
            f"computed {measurements.crc32:#010x} (the file is damaged)",
            path=path,
            field="eif_crc32",
        )
    cert_pem, cert = read_certificate_file(certificate)
    if detached_signature is not None:
        data = read_input_file(detached_signature, "signature", SIGNATURE_FILE_LIMIT)
        try:
            cose = cose_from_detached(data, cert, measurements.pcr0)
        except EifError as e:
            raise e.with_path(detached_signature) from None
        section = encode_signature_section([PcrSignature(cert_pem, cose)])
    elif signer is not None:
        section = make_signature_section(measurements.pcr0, cert_pem, signer)
    else:
        raise InputError("signing needs a private key, a KMS key or a signature file")
    try:
        signed: EifImage = attach_signature(image, section)
    except EifError as e:
        raise e.with_path(path) if path else e from None
    return signed
