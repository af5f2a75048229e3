"""The PCRs nitro-cli 1.5.0 would measure for an image, without writing an EIF.

nitro-cli builds from its blobs folder: the kernel ``bzImage`` (1.5.0 always takes
that name), the kernel command line (the ``cmdline`` file, trimmed of white space at
both ends as Rust's ``str::trim`` trims it), the bootstrap ramdisk and the customer
ramdisk. PCR0 = H(kernel ‖ cmdline ‖ bootstrap ‖ customer), PCR1 = H(kernel ‖
cmdline ‖ bootstrap), PCR2 = H(customer), each extended from zeros; the metadata
section is measured by none of them. The ramdisks stream straight into the hashers.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import InputError
from ..inputs import CMDLINE_FILE_LIMIT, read_input_file
from ..measure import pcr_of_digest
from ..sources import FileSource
from .bootstrap import Blobs, pack_bootstrap_ramdisk
from .image import ContainerImage
from .nitro import CustomerRamdisk, pack_customer_ramdisk

# Unicode's White_Space property: what Rust's str::trim removes (Python's str.strip()
# also removes U+001C..U+001F, which are not White_Space).
RUST_WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def nitro_cli_cmdline(blobs: Blobs) -> str:
    """The kernel command line nitro-cli takes from ``blobs``: the ``cmdline`` file,
    UTF-8, trimmed as Rust trims."""
    if blobs.cmdline is None:
        raise InputError("the blobs folder has no cmdline file", path=blobs.folder)
    data = read_input_file(blobs.cmdline, "cmdline", CMDLINE_FILE_LIMIT)
    try:
        return data.decode("utf-8").strip(RUST_WHITE_SPACE)
    except UnicodeDecodeError as e:
        raise InputError(
            f"not UTF-8 at byte {e.start} (nitro-cli reads it as a string)", path=blobs.cmdline
        ) from None


class _BackgroundHasher:
    """A sink that feeds every byte written to ``hasher`` on a worker thread, so that
    PCR0's stream runs beside the customer ramdisk's own PCR2 stream (two cores, one
    pass). Large writes are copied into one of two buffers first: the writer may
    reuse its own buffer as soon as ``write`` returns."""

    PARALLEL_MIN = 1 << 16

    def __init__(self, hasher: hashlib._Hash) -> None:
        self.hasher = hasher
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="eifkit-pcr0")
        self._job: Future[None] | None = None
        self._buffers = [bytearray(), bytearray()]
        self._turn = 0

    def drain(self) -> None:
        """Wait until every byte written so far is in the hasher."""
        if self._job is not None:
            job, self._job = self._job, None
            job.result()

    def write(self, data: bytes, /) -> int:
        self.drain()
        n = len(data)
        if n < self.PARALLEL_MIN:
            self.hasher.update(data)
            return n
        buffer = self._buffers[self._turn]
        self._turn ^= 1
        if len(buffer) < n:
            buffer.extend(bytes(n - len(buffer)))
        view = memoryview(buffer)[:n]
        view[:] = data
        self._job = self._pool.submit(self.hasher.update, view)
        return n

    def close(self) -> None:
        """Wait for the last bytes (raising what the worker raised) and stop it."""
        try:
            self.drain()
        finally:
            self._pool.shutdown()


@dataclass(frozen=True)
class NitroCliPcrs:
    pcr0: bytes
    pcr1: bytes
    pcr2: bytes
    customer: CustomerRamdisk

    def as_dict(self) -> dict[str, str]:
        return {"PCR0": self.pcr0.hex(), "PCR1": self.pcr1.hex(), "PCR2": self.pcr2.hex()}


def nitro_cli_pcrs(
    image: ContainerImage, blobs: Blobs, *, implicit_dir_mtime: int = 0
) -> NitroCliPcrs:
    """PCR0, PCR1 and PCR2 of the EIF nitro-cli 1.5.0 would build from ``image`` with
    ``blobs``, reading every input once."""
    if blobs.kernel is None or not blobs.kernel.endswith("bzImage"):
        raise InputError(
            "the blobs folder has no bzImage (nitro-cli 1.5.0's kernel)", path=blobs.folder
        )
    cmdline = nitro_cli_cmdline(blobs).encode("utf-8")
    boot = hashlib.sha384()
    for chunk in FileSource.open(blobs.kernel, "kernel").chunks():
        boot.update(chunk)
    boot.update(cmdline)
    sink = _BackgroundHasher(boot)
    try:
        pack_bootstrap_ramdisk(blobs, sink)
        sink.drain()
        pcr1 = pcr_of_digest(boot.copy().digest())
        customer = pack_customer_ramdisk(image, sink, implicit_dir_mtime=implicit_dir_mtime)
    finally:
        sink.close()
    return NitroCliPcrs(
        pcr0=pcr_of_digest(boot.digest()),
        pcr1=pcr1,
        pcr2=pcr_of_digest(customer.sha384),
        customer=customer,
    )
