"""diff names, for each differing PCR, the differing sections that feed it."""

from __future__ import annotations

from eifkit import measure_image, read
from eifkit.diff import diff_images
from tests import naive
from tests.naive import CMDLINE, KERNEL, METADATA, RAMDISK, RawSection


def _pcr_causes(tmp_path, a_parts, b_parts):
    images = []
    for name, parts in (("a", a_parts), ("b", b_parts)):
        path = tmp_path / f"{name}.eif"
        path.write_bytes(naive.assemble([RawSection(t, d) for t, d in parts]))
        images.append(read(path, strict=False))
    a, b = images
    d = diff_images(a, b, measure_image(a), measure_image(b))
    return {p["PCR"]: p["Because"] for p in d["PCRs"]}


BASE = [(KERNEL, b"k"), (CMDLINE, b"c"), (METADATA, b"{}"), (RAMDISK, b"r0"), (RAMDISK, b"r1")]


def test_kernel_and_cmdline_feed_pcr0_and_pcr1(tmp_path):
    b = [(KERNEL, b"K"), (CMDLINE, b"C"), *BASE[2:]]
    assert _pcr_causes(tmp_path, BASE, b) == {
        "PCR0": ["kernel differs", "cmdline differs"],
        "PCR1": ["kernel differs", "cmdline differs"],
        "PCR2": [],
    }


def test_first_ramdisk_feeds_pcr1_later_ones_pcr2(tmp_path):
    b = [*BASE[:3], (RAMDISK, b"R0"), (RAMDISK, b"R1")]
    assert _pcr_causes(tmp_path, BASE, b) == {
        "PCR0": ["ramdisk 0 differs", "ramdisk 1 differs"],
        "PCR1": ["ramdisk 0 differs"],
        "PCR2": ["ramdisk 1 differs"],
    }


def test_metadata_feeds_no_pcr(tmp_path):
    b = [*BASE[:2], (METADATA, b'{"x":1}'), *BASE[3:]]
    assert _pcr_causes(tmp_path, BASE, b) == {"PCR0": [], "PCR1": [], "PCR2": []}


def test_same_bytes_compares_every_byte_across_chunk_boundaries():
    import os

    from eifkit.diff import BUFFER, _same_bytes
    from eifkit.format import SectionType
    from eifkit.image import Section
    from eifkit.sources import BytesSource

    class OddChunks(BytesSource):
        """The same bytes in 1000-byte chunks, unlike BytesSource's BUFFER-sized ones."""

        def chunks(self, buffer_size=0):
            view = memoryview(self.data)
            for i in range(0, len(view), 1000):
                yield view[i : i + 1000]

    data = os.urandom(2 * BUFFER + 12345)
    section = Section(SectionType.RAMDISK, BytesSource(data))
    assert _same_bytes(section, Section(SectionType.RAMDISK, OddChunks(data)))
    for at in (0, 999, BUFFER, len(data) - 1):
        changed = bytearray(data)
        changed[at] ^= 1
        other = Section(SectionType.RAMDISK, OddChunks(bytes(changed)))
        assert not _same_bytes(section, other), at
    assert not _same_bytes(section, Section(SectionType.RAMDISK, BytesSource(data[:-1])))
