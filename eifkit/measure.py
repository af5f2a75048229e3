"""Sans-I/O measurement engine: CRC32 and PCRs from a stream of section chunks.

The reader (measuring an existing file) and the writer (measuring while it
writes) both feed this one engine, so they cannot disagree. It does no I/O: the
caller hands it the header bytes, then for each section in header-table order the
12 section-header bytes and the data chunks.

- CRC32 (zlib/IEEE, seed 0): header bytes [0:544], then each section's header and
  data in header-table order, as QEMU's loader checks it.
- PCRs: ``extend(x) = H(zeros ‖ x)``; PCR0 = extend(H(kernel ‖ cmdline ‖ ramdisks)),
  PCR1 = extend(H(kernel ‖ cmdline ‖ ramdisk 0)), PCR2 = extend(H(ramdisks 1..)),
  PCR8 = extend(H(signing certificate DER)) when a signature section exists.
  :func:`section_role` and :data:`PCRS_FED_BY` are the one statement of which section
  feeds which PCR; the engine and ``diff`` both use them.

The file walk that feeds this engine is :mod:`eifkit.stream`. This module depends only
on format-level code (format, crc, sigsection).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .crc import crc32_combine
from .format import CRC_OFFSET, HEADER_SIZE, SECTION_HEADER_SIZE, SectionType
from .sigsection import SIGNATURE_DECODE_LIMIT, certificate_der_from_section

ALGORITHMS: tuple[str, ...] = ("sha256", "sha384", "sha512")
DEFAULT_ALGORITHM = "sha384"
# What AWS's tools print as "HashAlgorithm" (Rust's Debug of the sha2 hasher).
ALGORITHM_LABELS = {
    "sha256": "Sha256 { ... }",
    "sha384": "Sha384 { ... }",
    "sha512": "Sha512 { ... }",
}
# Chunks at least this large are hashed on two threads (hashlib releases the GIL).
PARALLEL_MIN = 256 << 10

try:  # ISA-L's SIMD CRC-32: the same values as zlib.crc32, about 4x faster
    from isal.isal_zlib import crc32 as _crc32
except ImportError:  # pragma: no cover - isal is a dependency; this is a safety net
    from zlib import crc32 as _crc32

_Hash = Any  # hashlib's hash objects have no public type


def _update_and_crc(h: _Hash, chunk: bytes | bytearray | memoryview, crc: int) -> int:
    h.update(chunk)
    return _crc32(chunk, crc)


def eif_crc32(header: bytes, sections_crc: int, sections_length: int) -> int:
    """The EIF's CRC-32: of the header's first 544 bytes, then of the section headers
    and data, whose CRC-32 and length are given (computed first, as they stream)."""
    return crc32_combine(_crc32(header[:CRC_OFFSET]), sections_crc, sections_length)


def new_hash(algo: str) -> _Hash:
    if algo not in ALGORITHMS:
        raise ValueError(
            f"unknown hash algorithm {algo!r}; expected one of {', '.join(ALGORITHMS)}"
        )
    return hashlib.new(algo)


def extend(previous: bytes, data: bytes, algo: str = DEFAULT_ALGORITHM) -> bytes:
    """One PCR extend: ``H(previous ‖ data)``."""
    h = new_hash(algo)
    h.update(previous)
    h.update(data)
    return bytes(h.digest())


def extend_from_zero(data: bytes, algo: str = DEFAULT_ALGORITHM) -> bytes:
    """Extend a PCR that starts as all zero bytes with ``data``."""
    return extend(bytes(new_hash(algo).digest_size), data, algo)


def pcr_of_digest(digest: bytes, algo: str = DEFAULT_ALGORITHM) -> bytes:
    """The EIF PCR of content whose hash is ``digest``: ``extend(zeros, digest)``."""
    return extend_from_zero(digest, algo)


def pcr_of_bytes(data: bytes, algo: str = DEFAULT_ALGORITHM) -> bytes:
    """The EIF PCR of a small byte string (``nitro-cli pcr --input``)."""
    h = new_hash(algo)
    h.update(data)
    return pcr_of_digest(h.digest(), algo)


@dataclass(frozen=True)
class Measurements:
    """The result of measuring one image."""

    algo: str
    crc32: int
    pcr0: bytes
    pcr1: bytes
    pcr2: bytes
    pcr8: bytes | None = None
    signature_error: str | None = None

    def as_dict(self) -> dict[str, str]:
        """nitro-cli's ``Measurements`` map: HashAlgorithm, PCR0, PCR1, PCR2 [, PCR8]."""
        out = {
            "HashAlgorithm": ALGORITHM_LABELS[self.algo],
            "PCR0": self.pcr0.hex(),
            "PCR1": self.pcr1.hex(),
            "PCR2": self.pcr2.hex(),
        }
        if self.pcr8 is not None:
            out["PCR8"] = self.pcr8.hex()
        return out


class Role(enum.Enum):
    """What a section's data feeds."""

    BOOT = "boot"  # kernel, cmdline, first ramdisk: PCR0 and PCR1
    APP = "app"  # further ramdisks: PCR0 and PCR2
    SIGNATURE = "signature"  # its certificate: PCR8
    CRC_ONLY = "crc only"  # metadata, unknown types: only the CRC


PCRS_FED_BY: dict[Role, tuple[str, ...]] = {
    Role.BOOT: ("PCR0", "PCR1"),
    Role.APP: ("PCR0", "PCR2"),
    Role.SIGNATURE: ("PCR8",),
    Role.CRC_ONLY: (),
}


def section_role(section_type: int, ramdisks_before: int) -> Role:
    """The role of a section of ``section_type`` that comes after ``ramdisks_before``
    ramdisks in header-table order."""
    if section_type in (SectionType.KERNEL, SectionType.CMDLINE):
        return Role.BOOT
    if section_type == SectionType.RAMDISK:
        return Role.BOOT if ramdisks_before == 0 else Role.APP
    if section_type == SectionType.SIGNATURE:
        return Role.SIGNATURE
    return Role.CRC_ONLY


class MeasureEngine:
    """Consume an EIF as header bytes then per-section (header, chunks); emit Measurements.

    ``certificate_der`` turns a signature section's bytes into the signing
    certificate's DER (default :func:`eifkit.sigsection.certificate_der_from_section`);
    it may raise any ``Exception``, which is recorded as ``signature_error``.
    """

    def __init__(
        self,
        algo: str = DEFAULT_ALGORITHM,
        certificate_der: Callable[[bytes], bytes] = certificate_der_from_section,
        *,
        parallel: bool = True,
    ) -> None:
        self.algo = algo
        self._parallel = parallel
        self._pool: ThreadPoolExecutor | None = None
        self._header: bytes | None = None
        self._crc = 0  # of the section headers and data fed so far
        self._length = 0
        self._h0 = new_hash(algo)
        # PCR0 and PCR1 take the same bytes until the first app ramdisk arrives:
        # one hasher serves both until then, and PCR1 forks off as a copy.
        self._h1: _Hash | None = None
        self._h2 = new_hash(algo)
        self._cert_hash: _Hash | None = None
        self._certificate_der = certificate_der
        self._ramdisks_seen = 0
        self._role = Role.CRC_ONLY
        self._in_section = False
        self._sig_buf: bytearray | None = None
        self._sig_too_big = False
        self._signature_error: str | None = None
        self._signature_seen = False

    def header(self, header: bytes) -> None:
        """The 548 header bytes; may come at any time before finish(), and again to
        replace them (a writer knows the final size table only at the end)."""
        if len(header) != HEADER_SIZE:
            raise ValueError(f"header must be {HEADER_SIZE} bytes")
        self._header = bytes(header)

    def start_section(self, section_header: bytes, section_type: int) -> None:
        if self._in_section:
            raise RuntimeError("end_section() missing")
        if len(section_header) != SECTION_HEADER_SIZE:
            raise ValueError(f"section header must be {SECTION_HEADER_SIZE} bytes")
        self._crc = _crc32(section_header, self._crc)
        self._length += len(section_header)
        self._in_section = True
        self._role = section_role(section_type, self._ramdisks_seen)
        if section_type == SectionType.RAMDISK:
            self._ramdisks_seen += 1
        if self._role is Role.APP and self._h1 is None:
            self._h1 = self._h0.copy()
        elif self._role is Role.SIGNATURE:
            self._sig_buf = bytearray()
            self._sig_too_big = False

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        if not self._in_section:
            raise RuntimeError("start_section() missing")
        self._length += len(chunk)
        role = self._role
        if role is Role.BOOT or role is Role.APP:
            second = self._h2 if role is Role.APP else self._h1
            if len(chunk) >= PARALLEL_MIN and self._parallel:
                # The second stream (or, before PCR1 forks off, the only one) runs on
                # the worker while this thread hashes and CRCs: two cores, one pass.
                # The CRC goes with it when this thread has PCR0 too: the reading
                # thread also copies each chunk in, so the two threads come out even.
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(1, thread_name_prefix="eifkit-hash")
                if second is not None:
                    job = self._pool.submit(_update_and_crc, second, chunk, self._crc)
                    self._h0.update(chunk)
                    self._crc = job.result()
                else:
                    job = self._pool.submit(self._h0.update, chunk)
                    self._crc = _crc32(chunk, self._crc)
                    job.result()
                return
            self._h0.update(chunk)
            if second is not None:
                second.update(chunk)
        self._crc = _crc32(chunk, self._crc)
        if role is Role.SIGNATURE and self._sig_buf is not None:
            if len(self._sig_buf) + len(chunk) > SIGNATURE_DECODE_LIMIT:
                self._sig_too_big = True
                self._sig_buf = None
            else:
                self._sig_buf += chunk

    def end_section(self) -> None:
        if not self._in_section:
            raise RuntimeError("start_section() missing")
        self._in_section = False
        if self._role is not Role.SIGNATURE:
            return
        # Like QEMU, the last signature section decides PCR8.
        self._cert_hash = None
        self._signature_error = None
        if self._sig_too_big:
            self._signature_error = (
                f"signature section larger than {SIGNATURE_DECODE_LIMIT} bytes was not decoded"
            )
        else:
            try:
                der = self._certificate_der(bytes(self._sig_buf or b""))
            except Exception as e:
                self._signature_error = str(e)
            else:
                h = new_hash(self.algo)
                h.update(der)
                self._cert_hash = h
        self._sig_buf = None
        self._role = Role.CRC_ONLY
        self._signature_seen = True

    def close(self) -> None:
        """Stop the worker thread (finish() does this too)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    @property
    def crc32(self) -> int:
        """CRC-32 of header[0:544] followed by every section header and data so far."""
        if self._header is None:
            raise RuntimeError("header() missing")
        return eif_crc32(self._header, self._crc, self._length)

    def sections_crc_so_far(self) -> tuple[int, int]:
        """CRC-32 and length of the section headers and data fed until now."""
        return self._crc, self._length

    def pcr0_so_far(self) -> bytes:
        """PCR0 of what was fed until now (what a signature section signs)."""
        return pcr_of_digest(self._h0.copy().digest(), self.algo)

    def finish(self) -> Measurements:
        if self._in_section:
            raise RuntimeError("end_section() missing")
        self.close()
        crc = self.crc32
        h1 = self._h1 if self._h1 is not None else self._h0.copy()
        signed = self._signature_seen
        pcr8 = None
        if signed and self._cert_hash is not None:
            pcr8 = pcr_of_digest(self._cert_hash.digest(), self.algo)
        return Measurements(
            algo=self.algo,
            crc32=crc,
            pcr0=pcr_of_digest(self._h0.digest(), self.algo),
            pcr1=pcr_of_digest(h1.digest(), self.algo),
            pcr2=pcr_of_digest(self._h2.digest(), self.algo),
            pcr8=pcr8,
            signature_error=self._signature_error if signed else None,
        )
