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
