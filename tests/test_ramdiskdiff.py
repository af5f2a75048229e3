"""diff explains ramdisks that hold the same files but are encoded differently (issue 12,
item 8): 0.1 said "ramdisk 0 differs ... 0 added, 0 removed, 0 changed".

The second encoder is GNU cpio (real inode and device numbers, 512-byte padding after
the trailer), so the differences found are those of two real writers; the hand-made
variants change one thing each, so each note can be checked exactly.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest

from eifkit.inspect.initramfs import Entry, header_bytes, tree_entries, write_archive
from eifkit.limits import DIFF_LIMITS
from eifkit.ramdiskdiff import compare_ramdisks
from eifkit.sources import BytesSource, FileSource


def member(name: str, mode: int, data: bytes = b"", ino: int = 0) -> bytes:
    head = header_bytes(Entry(name, mode, len(data), ino=ino))
    return head + data + b"\0" * ((4 - len(data) % 4) % 4)


TRAILER = member("TRAILER!!!", 0)
A = member("a", stat.S_IFREG | 0o644, b"x", ino=1) + member("b", stat.S_IFDIR | 0o755, ino=2)


def compare(a: bytes, b: bytes) -> dict:
    return compare_ramdisks(BytesSource(a), BytesSource(b), DIFF_LIMITS)


def test_the_same_bytes_have_no_notes():
    r = compare(A + TRAILER, A + TRAILER)
    assert (r["Added"], r["Removed"], r["Changed"], r["Encoding"]) == ([], [], [], [])


@pytest.mark.parametrize(
    "b, note",
    [
        (
            member("a", stat.S_IFREG | 0o644, b"x", ino=7)
            + member("b", stat.S_IFDIR | 0o755, ino=2)
            + TRAILER,
            "entry 0 (a): ino 1 -> 7",
        ),
        (
            member("b", stat.S_IFDIR | 0o755, ino=2)
            + member("a", stat.S_IFREG | 0o644, b"x", ino=1)
            + TRAILER,
            "entry 0: the order differs from here ('a' in A, 'b' in B)",
        ),
        (A + TRAILER + bytes(512), "0 bytes after the last trailer in A, 512 in B"),
        (
            A + member("a", stat.S_IFREG | 0o644, b"x", ino=1) + TRAILER,
            "'a' is stored 1 time(s) in A, 2 in B",
        ),
    ],
    ids=["inode", "order", "padding", "duplicate"],
)
def test_one_encoding_change_gives_one_note(b, note):
    r = compare(A + TRAILER, b)
    assert (r["Added"], r["Removed"], r["Changed"]) == ([], [], [])
    assert any(note in n for n in r["Encoding"]), r["Encoding"]


def test_hex_case_is_named_as_the_same_number():
    lower = bytearray(A + TRAILER)
    lower[6 : 6 + 8 * 13] = lower[6 : 6 + 8 * 13].lower()
    lower[14:22] = b"000081a4"  # mode of "a", lower case a
    r = compare(A + TRAILER, bytes(lower))
    assert "entry 0 (a): mode written 000081A4 in A, 000081a4 in B (the same number" in (
        " ".join(r["Encoding"])
    )


@pytest.mark.skipif(not shutil.which("cpio"), reason="needs GNU cpio")
def test_eifkit_and_gnu_cpio_packing_the_same_tree(tmp_path):
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "config").write_text("x=1\n")
    (tree / "init").write_bytes(b"#!/bin/sh\n")
    os.chmod(tree / "init", 0o755)
    for p in [tree / "etc" / "config", tree / "init", tree / "etc"]:
        os.utime(p, (0, 0))
    ours = tmp_path / "eifkit.cpio"
    write_archive(tree_entries(tree, mtime=0), ours)
    theirs = tmp_path / "gnu.cpio"
    names = "\n".join(e.name for e in tree_entries(tree)) + "\n"
    with open(theirs, "wb") as out:
        subprocess.run(
            ["cpio", "-o", "-H", "newc", "--quiet", "--owner=0:0"],
            input=names.encode(), stdout=out, cwd=tree, check=True,
        )  # fmt: skip
    r = compare_ramdisks(FileSource.open(ours, "a"), FileSource.open(theirs, "b"), DIFF_LIMITS)
    assert (r["Added"], r["Removed"], r["Changed"]) == ([], [], []), r
    notes = " | ".join(r["Encoding"])
    assert "ino" in notes and "bytes after the last trailer" in notes, notes
