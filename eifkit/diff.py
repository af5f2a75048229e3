"""Compare two EIFs: header, section table, PCRs and what feeds them, metadata key by
key, cmdline, and for cpio ramdisks which files were added, removed or changed.

Answers "why did my PCR change?": each differing PCR lists the sections that feed it
and differ, and each differing ramdisk lists its differing files.
"""

from __future__ import annotations

from typing import Any

from .errors import EifError
from .format import SectionType
from .image import EifImage, Section
from .jsonfmt import OrderedObject
from .limits import DIFF_LIMITS, ExpansionLimits
from .measure import PCRS_FED_BY, Measurements, Role, section_role
from .ramdiskdiff import compare_ramdisks
from .report import read_cmdline, read_metadata

BUFFER = 1 << 20


def _same_bytes(a: Section, b: Section) -> bool:
    """Whether two sections hold the same bytes: compared chunk by chunk, stopping at
    the first difference (a comparison costs a tenth of a hash of the same bytes)."""
    if a.size != b.size:
        return False
    chunks_b = b.source.chunks(BUFFER)
    pending = memoryview(b"")
    for chunk in a.source.chunks(BUFFER):
        view = memoryview(chunk)
        while view:
            if not pending:
                pending = memoryview(next(chunks_b, b""))
                if not pending:
                    return False
            n = min(len(view), len(pending))
            # bytes compare with memcmp; memoryviews item by item (+0.3 s per GiB)
            if view[:n].tobytes() != pending[:n].tobytes():
                return False
            view, pending = view[n:], pending[n:]
    return not pending and next(chunks_b, None) is None


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; empty objects and other values stay leaves."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else k))
        return out
    return {prefix: value}


def _metadata(image: EifImage) -> dict[str, Any] | None:
    """The metadata flattened to dotted keys; None if there is none or it is unusable."""
    try:
        meta = read_metadata(image)
    except EifError:
        return None
    return None if meta is None else _flatten(meta.to_json_value())


def _parts(image: EifImage) -> dict[str, tuple[Section, Role]]:
    """Each section by the name of the part it is (kernel, cmdline, ramdisk N ...) with
    what it feeds."""
    out: dict[str, tuple[Section, Role]] = {}
    ramdisks = 0
    for s in image.sections:
        role = section_role(s.type, ramdisks)
        if s.type == SectionType.RAMDISK:
            out[f"ramdisk {ramdisks}"] = (s, role)
            ramdisks += 1
        else:
            out[s.type_name] = (s, role)
    return out


def diff_images(
    a: EifImage,
    b: EifImage,
    ma: Measurements,
    mb: Measurements,
    *,
    limits: ExpansionLimits = DIFF_LIMITS,
) -> OrderedObject:
    """What differs between ``a`` and ``b`` and which PCRs it changes. Ramdisks that
    differ are compared file by file within ``limits`` (LimitError past them)."""
    out = OrderedObject()
    header = []
    for field, va, vb in (
        ("version", a.version, b.version),
        ("arch", a.arch.value, b.arch.value),
        ("flags", a.flags, b.flags),
        ("default_mem", a.default_mem, b.default_mem),
        ("default_cpus", a.default_cpus, b.default_cpus),
        ("reserved", a.header.reserved, b.header.reserved),
        ("unused", a.header.unused, b.header.unused),
        ("num_sections", len(a.sections), len(b.sections)),
        ("file_size", a.file_size, b.file_size),
    ):
        if va != vb:
            header.append(OrderedObject(Field=field, A=va, B=vb))
    out["Header"] = header
    out["Sections"] = [
        OrderedObject(Index=i, A=_row(a, i), B=_row(b, i))
        for i in range(max(len(a.sections), len(b.sections)))
        if _row(a, i) != _row(b, i)
    ]
    # which logical parts differ (kernel, cmdline, ramdisk N, signature ...)
    parts_a, parts_b = _parts(a), _parts(b)
    differing = {}
    for name in list(parts_a) + [n for n in parts_b if n not in parts_a]:
        sa, sb = parts_a.get(name), parts_b.get(name)
        if sa is None or sb is None:
            differing[name] = "only in A" if sb is None else "only in B"
        elif not _same_bytes(sa[0], sb[0]):
            differing[name] = "differs"
    roles = {name: part[1] for name, part in {**parts_b, **parts_a}.items()}
    pa, pb = ma.as_dict(), mb.as_dict()
    pcrs = []
    for pcr in sorted({p for fed in PCRS_FED_BY.values() for p in fed}, key=lambda p: int(p[3:])):
        va, vb = pa.get(pcr), pb.get(pcr)
        if va is None and vb is None:
            continue
        causes = [f"{n} {d}" for n, d in differing.items() if pcr in PCRS_FED_BY[roles[n]]]
        pcrs.append(
            OrderedObject(PCR=pcr, Same=va == vb, A=va, B=vb, Because=causes if va != vb else [])
        )
    out["PCRs"] = pcrs
    out["Parts"] = [OrderedObject(Part=n, Status=d) for n, d in differing.items()]
    meta_a, meta_b = _metadata(a), _metadata(b)
    meta = []
    if meta_a is not None and meta_b is not None:
        for key in list(meta_a) + [k for k in meta_b if k not in meta_a]:
            if meta_a.get(key, ...) != meta_b.get(key, ...):
                meta.append(OrderedObject(Key=key, A=meta_a.get(key), B=meta_b.get(key)))
    elif (meta_a is None) != (meta_b is None):
        meta.append(
            OrderedObject(Key="(metadata section)", A=meta_a is not None, B=meta_b is not None)
        )
    out["Metadata"] = meta
    ca, cb = read_cmdline(a), read_cmdline(b)
    out["Cmdline"] = None if ca == cb else OrderedObject(A=ca, B=cb)
    ramdisks = []
    for name in differing:
        if name.startswith("ramdisk") and differing[name] == "differs":
            ramdisks.append(
                OrderedObject(
                    Ramdisk=int(name.split()[1]),
                    **compare_ramdisks(parts_a[name][0].source, parts_b[name][0].source, limits),
                )
            )
    out["Ramdisks"] = ramdisks
    out["Identical"] = not (header or out["Sections"] or differing or meta or out["Cmdline"])
    return out


def _row(image: EifImage, i: int) -> Any:
    if i >= len(image.sections):
        return None
    s = image.sections[i]
    return OrderedObject(Type=s.type_name, Flags=s.flags, Offset=s.offset, Size=s.size)


def diff_text(d: dict[str, Any], a_name: str, b_name: str) -> str:
    if d["Identical"]:
        return f"{a_name} and {b_name}: no differences in content"
    lines = [f"A = {a_name}", f"B = {b_name}", ""]
    for p in d["PCRs"]:
        if p["Same"]:
            lines.append(f"{p['PCR']}  same")
        else:
            why = ", ".join(p["Because"]) or "section order or layout"
            lines.append(f"{p['PCR']}  DIFFERS  because: {why}")
    for h in d["Header"]:
        lines.append(f"header {h['Field']}: {h['A']} -> {h['B']}")
    for s in d["Sections"]:
        lines.append(f"section {s['Index']}: {_fmt_row(s['A'])} -> {_fmt_row(s['B'])}")
    if d["Cmdline"]:
        lines += ["cmdline:", f"  A: {d['Cmdline']['A']}", f"  B: {d['Cmdline']['B']}"]
    for m in d["Metadata"]:
        lines.append(f"metadata {m['Key']}: {m['A']!r} -> {m['B']!r}")
    for r in d["Ramdisks"]:
        head = f"ramdisk {r['Ramdisk']}:"
        if not r["Comparable"]:
            lines.append(f"{head} {r['Reason']}")
            continue
        lines.append(
            f"{head} {len(r['Added'])} added, {len(r['Removed'])} removed, "
            f"{len(r['Changed'])} changed"
        )
        lines += [f"  + {n}" for n in r["Added"]]
        lines += [f"  - {n}" for n in r["Removed"]]
        lines += [f"  ~ {c['Path']}: {', '.join(c['Changes'])}" for c in r["Changed"]]
        lines += [f"  encoding: {note}" for note in r["Encoding"]]
    return "\n".join(lines)


def _fmt_row(row: Any) -> str:
    if row is None:
        return "(none)"
    return f"{row['Type']} flags {row['Flags']} at {row['Offset']}, {row['Size']} bytes"
