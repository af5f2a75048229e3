"""Regenerate the golden EIFs and their describe JSON with eifkit itself.

    python golden/make.py [OUTDIR]      (default: the golden/ folder)

The inputs are deterministic byte streams made here, so the same eifkit gives the
same files on any machine. tests/test_golden.py regenerates into a temporary folder
and compares, checks every golden file against an independent computation
(tests/naive.py), and, where QEMU's loader is available, asks it too.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from eifkit import BuildInputs, make_image, measure_image, read, write
from eifkit.format import Arch, SectionType
from eifkit.image import EifImage, Filler, Section
from eifkit.jsonfmt import dumps
from eifkit.loadertest.bases import deterministic_bytes
from eifkit.report import describe, describe_json
from eifkit.sources import BytesSource

BUILD_TIME = "2025-01-01T00:00:00+00:00"


def golden_json(path: Path, lenient: bool = False) -> str:
    image = read(path, strict=not lenient)
    d = describe(image, measure_image(image), strict=not lenient)
    out = describe_json(d)
    out["File"] = path.name  # a stable name instead of the path it was made at
    return dumps(out, indent=2) + "\n"


def make(outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    made = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        kernel, rd0, rd1 = t / "bzImage", t / "bootstrap.cpio", t / "app.cpio"
        kernel.write_bytes(deterministic_bytes("kernel", 6000))
        rd0.write_bytes(deterministic_bytes("bootstrap", 1500))
        rd1.write_bytes(deterministic_bytes("app", 3000))

        p = outdir / "minimal-x86_64.eif"
        write(
            make_image(
                BuildInputs(
                    kernel=str(kernel),
                    ramdisks=[str(rd0), str(rd1)],
                    cmdline="console=ttyS0 reboot=k",
                    name="golden",
                    version="1.0",
                    build_time=BUILD_TIME,
                    build_tool="eifkit",
                    build_tool_version="golden",
                )
            ),
            p,
        )
        made.append(p)

        p = outdir / "aarch64-custom-metadata.eif"
        write(
            make_image(
                BuildInputs(
                    kernel=str(kernel),
                    ramdisks=[str(rd0)],
                    cmdline="console=ttyAMA0",
                    arch=Arch.AARCH64,
                    name="arm",
                    version="2.0",
                    build_time=BUILD_TIME,
                    build_tool="eifkit",
                    build_tool_version="golden",
                    custom_metadata={
                        "team": "enclaves",
                        "ratio": 1e-7,
                        "big": 1e16,
                        "list": [1, -0.0],
                    },
                )
            ),
            p,
        )
        made.append(p)

        # An odd but loader-acceptable layout: a gap before the kernel, the table
        # listing cmdline first, an unknown type-7 section, 16 trailing bytes.
        k = deterministic_bytes("kernel", 6000)
        secs = [
            (SectionType.CMDLINE, b"console=ttyS0", 6700),
            (SectionType.KERNEL, k, 600),
            (7, b"vendor extension", 6725),
            (SectionType.RAMDISK, deterministic_bytes("bootstrap", 1500), 6753),
        ]
        sections = tuple(Section(ty, BytesSource(data), 0, off) for ty, data, off in secs)
        end = 6753 + 12 + 1500
        image = EifImage(
            sections=sections,
            fillers=(
                Filler(548, BytesSource(b"\xee" * 52)),
                Filler(6612, BytesSource(b"\0" * 88)),
                Filler(end, BytesSource(b"TRAILING-BYTES!!")),
            ),
        )
        p = outdir / "odd-layout.eif"
        write(image, p, layout="original", crc="compute")
        made.append(p)
    for eif in made:
        lenient = eif.name == "odd-layout.eif"
        eif.with_suffix(".describe.json").write_text(golden_json(eif, lenient))
    return made


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(os.path.dirname(__file__))
    for f in make(target):
        print(f)
