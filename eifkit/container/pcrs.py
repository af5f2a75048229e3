"""The PCRs nitro-cli 1.5.0 would measure for an image, without writing an EIF.

nitro-cli builds from its blobs folder: the kernel ``bzImage`` (1.5.0 always takes
that name), the kernel command line (the ``cmdline`` file, trimmed of white space at
both ends as Rust's ``str::trim`` trims it), the bootstrap ramdisk and the customer
ramdisk. PCR0 = H(kernel ‖ cmdline ‖ bootstrap ‖ customer), PCR1 = H(kernel ‖
cmdline ‖ bootstrap), PCR2 = H(customer), each extended from zeros; the metadata
section is measured by none of them. The ramdisks are made as the measuring walk reads
them, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..format import EifHeader, SectionType
from ..image import EifImage, Section
from ..inputs import CMDLINE_FILE_LIMIT, read_input_file
from ..sources import BytesSource, FileSource
from ..stream import measure_image
from .bootstrap import Blobs
from .image import ContainerImage
from .ramdisks import CustomerSource, bootstrap_source, customer_source

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


@dataclass(frozen=True)
class NitroCliPcrs:
    pcr0: bytes
    pcr1: bytes
    pcr2: bytes
    customer: CustomerSource

    def as_dict(self) -> dict[str, str]:
        return {"PCR0": self.pcr0.hex(), "PCR1": self.pcr1.hex(), "PCR2": self.pcr2.hex()}


def nitro_cli_pcrs(
    image: ContainerImage, blobs: Blobs, *, implicit_dir_mtime: int = 0
) -> NitroCliPcrs:
    """PCR0, PCR1 and PCR2 of the EIF nitro-cli 1.5.0 would build from ``image`` with
    ``blobs``: the sections that feed them, measured by the one measuring walk (its
    two hash streams on two cores) without writing anything; the customer ramdisk is
    made as it is read, as when it is written."""
    if blobs.kernel is None or not blobs.kernel.endswith("bzImage"):
        raise InputError(
            "the blobs folder has no bzImage (nitro-cli 1.5.0's kernel)", path=blobs.folder
        )
    cmdline = nitro_cli_cmdline(blobs).encode("utf-8")
    customer = customer_source(image, implicit_dir_mtime=implicit_dir_mtime)
    sections = (
        Section(SectionType.KERNEL, FileSource.open(blobs.kernel, "kernel")),
        Section(SectionType.CMDLINE, BytesSource(cmdline)),
        Section(SectionType.RAMDISK, bootstrap_source(blobs)),
        Section(SectionType.RAMDISK, customer.source),
    )
    m = measure_image(EifImage(sections=sections, header=EifHeader()))
    return NitroCliPcrs(pcr0=m.pcr0, pcr1=m.pcr1, pcr2=m.pcr2, customer=customer)
