"""extract on sections too large to read whole: every section is still written, and the
build arguments say in one line why the image cannot be rebuilt."""

from __future__ import annotations

import pytest

from eifkit.cli import main
from eifkit.metadata import METADATA_PARSE_LIMIT
from eifkit.report import CMDLINE_READ_LIMIT
from tests import naive
from tests.naive import CMDLINE, KERNEL, METADATA, RAMDISK, RawSection

BIG_CMDLINE = b"a" * (CMDLINE_READ_LIMIT + 1)
BIG_METADATA = b" " * (METADATA_PARSE_LIMIT + 1)


@pytest.mark.parametrize(
    "cmdline, metadata, note",
    [
        (
            BIG_CMDLINE,
            b"{}",
            f"its cmdline cannot be given as an argument: cmdline section is {len(BIG_CMDLINE)} "
            f"bytes, more than the {CMDLINE_READ_LIMIT}-byte limit",
        ),
        (
            b"console=ttyS0",
            BIG_METADATA,
            f"its metadata cannot be parsed: metadata section is {len(BIG_METADATA)} bytes, "
            f"more than the {METADATA_PARSE_LIMIT}-byte limit",
        ),
    ],
    ids=["cmdline-over-1MiB", "metadata-over-16MiB"],
)
def test_section_over_the_read_limit(tmp_path, capsys, cmdline, metadata, note):
    eif = tmp_path / "big.eif"
    sections = [(KERNEL, b"K" * 64), (CMDLINE, cmdline), (METADATA, metadata), (RAMDISK, b"R")]
    eif.write_bytes(naive.assemble([RawSection(t, d) for t, d in sections]))
    out = tmp_path / "out"
    code = main(["extract", str(eif), "-o", str(out)])
    stdout, stderr = capsys.readouterr()
    assert (code, stderr) == (0, "")
    assert (out / "cmdline.txt").read_bytes() == cmdline
    assert (out / "metadata.json").stat().st_size == len(metadata)
    [line] = [s for s in stdout.splitlines() if s.startswith("Not reproducible")]
    assert note in line
