"""What differs between two cpio ramdisks: their files, and how they are encoded.

Two ramdisks can hold the same files, byte for byte, and still differ (and so give
different PCRs): other inode or device numbers, hex digits in another case, another
entry order, a name stored twice, other padding after the trailer, gzip or not. The
file-level comparison keeps an index of both (about 200 bytes a file); the encoding
comparison walks both archives side by side and keeps nothing per file.
"""

from __future__ import annotations

import itertools
import stat
import struct

from .errors import FormatError, LimitError
from .inspect.initramfs import TRAILER, Member, is_gzip, iter_members
from .jsonfmt import OrderedObject
from .limits import ExpansionLimits
from .sources import Source, file_kind, open_source

# One ramdisk member as the file comparison keeps it: mode, uid, gid, mtime, size, rdev
# major/minor (newc fields are 32-bit), then the SHA-256 of the data: 60 bytes, so the
# index of a ramdisk costs about 200 bytes a file with its name and dict slot.
_RECORD = struct.Struct(">7I32s")
# newc header fields after the 6-byte magic, 8 hex digits each, in order.
HEADER_FIELDS = (
    "ino", "mode", "uid", "gid", "nlink", "mtime", "filesize",
    "devmajor", "devminor", "rdevmajor", "rdevminor", "namesize", "check",
)  # fmt: skip
# Fields the file comparison does not report (it reports mode, uid, gid, mtime, size).
_ENCODING_FIELDS = ("ino", "nlink", "devmajor", "devminor", "namesize", "check")
MOST_ENCODING_NOTES = 20


def _record(m: Member) -> bytes:
    e = m.entry
    digest = bytes.fromhex(m.sha256) if m.sha256 else bytes(32)
    return _RECORD.pack(e.mode, e.uid, e.gid, e.mtime, e.size, e.rdevmajor, e.rdevminor, digest)


class _Index:
    """Every name of one ramdisk with its record, and the names stored more than once."""

    def __init__(self, source: Source, limits: ExpansionLimits) -> None:
        self.files: dict[str, bytes] = {}
        self.repeated: dict[str, int] = {}
        with open_source(source) as f:
            for m in iter_members(f, digest=True, limits=limits):
                name = m.entry.name
                if name in self.files:
                    self.repeated[name] = self.repeated.get(name, 1) + 1
                self.files[name] = _record(m)


def _file_changes(a: bytes, b: bytes) -> list[str]:
    (ma, ua, ga, ta, sa, *da, ha) = _RECORD.unpack(a)
    (mb, ub, gb, tb, sb, *db, hb) = _RECORD.unpack(b)
    what = []
    if file_kind(ma) != file_kind(mb):
        what.append(f"type {file_kind(ma)} -> {file_kind(mb)}")
    if ha != hb or sa != sb or da != db:
        what.append("content")
    if stat.S_IMODE(ma) != stat.S_IMODE(mb):
        what.append(f"mode {stat.S_IMODE(ma):o} -> {stat.S_IMODE(mb):o}")
    for label, va, vb in (("uid", ua, ub), ("gid", ga, gb), ("mtime", ta, tb)):
        if va != vb:
            what.append(f"{label} {va} -> {vb}")
    return what


def compare_ramdisks(a: Source, b: Source, limits: ExpansionLimits) -> OrderedObject:
    """Files added, removed and changed from ``a`` to ``b``, and ``Encoding``: how the
    archives differ beyond their files. ``Comparable`` is false (with a ``Reason``)
    when either is not a readable cpio; a limit reached raises LimitError."""
    try:
        ia, ib = _Index(a, limits), _Index(b, limits)
    except LimitError:
        raise
    except FormatError as e:
        return OrderedObject(Comparable=False, Reason=f"not a readable cpio: {e.message}")
    added = sorted(set(ib.files) - set(ia.files))
    removed = sorted(set(ia.files) - set(ib.files))
    changed = []
    for name in sorted(set(ia.files) & set(ib.files)):
        if ia.files[name] != ib.files[name]:
            changed.append(
                OrderedObject(Path=name, Changes=_file_changes(ia.files[name], ib.files[name]))
            )
    encoding = []
    for name in sorted(set(ia.repeated) | set(ib.repeated)):
        times = (ia.repeated.get(name, 1), ib.repeated.get(name, 1))
        if times[0] != times[1]:
            encoding.append(f"{name!r} is stored {times[0]} time(s) in A, {times[1]} in B")
    encoding += encoding_differences(a, b, limits)
    return OrderedObject(
        Comparable=True, Added=added, Removed=removed, Changed=changed, Encoding=encoding
    )


def _fields(header: bytes) -> list[bytes]:
    return [header[6 + 8 * i : 14 + 8 * i] for i in range(len(HEADER_FIELDS))]


def encoding_differences(
    a: Source, b: Source, limits: ExpansionLimits, *, most: int = MOST_ENCODING_NOTES
) -> list[str]:
    """How two archives' encodings differ, entry by entry in stored order (at most
    ``most`` notes, then a count): compression, entry order, header fields the file
    comparison does not show (inode and device numbers, nlink, check) and the case of
    hex digits, the number of entries, and the bytes after the last trailer."""
    notes: list[str] = []
    with open_source(a) as fa, open_source(b) as fb:
        ga, gb = is_gzip(fa), is_gzip(fb)
        if ga != gb:
            notes.append(f"compression: {'gzip' if ga else 'none'} -> {'gzip' if gb else 'none'}")
        elif ga and fa.read(10)[3:] != fb.read(10)[3:]:
            notes.append("gzip header (flags, mtime, extra flags or OS) differs")
        fa.seek(0)
        fb.seek(0)
        pairs = itertools.zip_longest(
            iter_members(fa, trailers=True, limits=limits),
            iter_members(fb, trailers=True, limits=limits),
        )
        in_order = True
        counts = [0, 0]
        ends = [0, 0]
        for i, (ma, mb) in enumerate(pairs):
            for side, m in enumerate((ma, mb)):
                if m is not None:
                    counts[side] += 1
                    if m.entry.name == TRAILER:
                        ends[side] = m.entry.data_offset or 0  # the trailer's end
            if ma is None or mb is None or not in_order:
                continue
            if ma.entry.name != mb.entry.name:
                notes.append(
                    f"entry {i}: the order differs from here ({ma.entry.name!r} in A, "
                    f"{mb.entry.name!r} in B)"
                )
                in_order = False
                continue
            fields = zip(HEADER_FIELDS, _fields(ma.header), _fields(mb.header), strict=True)
            for field, ra, rb in fields:
                if ra == rb:
                    continue
                va, vb = int(ra, 16), int(rb, 16)
                if va == vb:
                    notes.append(
                        f"entry {i} ({ma.entry.name}): {field} written {ra.decode()} in A, "
                        f"{rb.decode()} in B (the same number, other hex digits)"
                    )
                elif field in _ENCODING_FIELDS:
                    notes.append(f"entry {i} ({ma.entry.name}): {field} {va} -> {vb}")
        if counts[0] != counts[1]:
            notes.append(f"{counts[0]} entries (trailers included) in A, {counts[1]} in B")
        if not (ga or gb):
            after = (a.size - ends[0], b.size - ends[1])
            if after[0] != after[1]:
                notes.append(f"{after[0]} bytes after the last trailer in A, {after[1]} in B")
    if len(notes) > most:
        notes = [*notes[:most], f"and {len(notes) - most} more"]
    return notes
