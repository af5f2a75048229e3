"""Deterministic mutations of an EIF's structure.

Every mutation has a name that says exactly what it did (``header.num_sections=0x21``,
``truncate@560``, ``section[1].size=0xffffffffffffffff``), so a finding can be
reproduced from its name alone. The enumerations cover, for a given base file:

* every header field at boundary values (u16/u32/u64 minima, maxima, 2^63, and for the
  section table the file size around EOF), ``num_sections`` 0, 1, 32, 33, 0xFFFF;
* the section table pointing past EOF, into the header, into another section,
  overlapping, swapped;
* truncation at every structural boundary: inside and at the end of each header field,
  at each section header, inside it, at its data, inside the data, one byte short;
* each section header's type, flags and size (alone, or with the table kept in step);

and ``random_mutation`` draws from all of them (plus byte flips), seeded. Each mutation
comes in two flavours: as is, and with the CRC32 recomputed (``+crc``), so that checks
behind the CRC are reached too. ``mutation_strategy`` offers the same as a hypothesis
strategy.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import strategies as st

from eifkit.format import HEADER, SECTION_HEADER
from tests.fuzzing.eiffile import put_field, put_section_field, split, with_crc_fixed

MAX_SECTIONS = HEADER.by_name["section_offsets"].count
U64 = (1 << 64) - 1


@dataclass(frozen=True)
class Mutation:
    """One named change to an EIF's bytes."""

    name: str
    apply: Callable[[bytes], bytes]

    def with_crc(self) -> Mutation:
        """The same change followed by recomputing the CRC32."""
        return Mutation(self.name + "+crc", lambda data: with_crc_fixed(self.apply(data)))


@dataclass(frozen=True)
class BaseShape:
    """Where things are in the base file the mutations are made for."""

    size: int
    offsets: tuple[int, ...]
    sizes: tuple[int, ...]

    @classmethod
    def of(cls, data: bytes) -> BaseShape:
        parts = split(data)
        return cls(len(data), parts.offsets, tuple(len(s.data) for s in parts.sections))

    @property
    def count(self) -> int:
        return len(self.offsets)


def boundary_values(code: str) -> list[tuple[str, int]]:
    """Boundary values for an unsigned field of ``struct`` code ``code``, named."""
    bits = {"H": 16, "I": 32, "Q": 64}[code]
    top = (1 << bits) - 1
    values = [0, 1, top - 1, top]
    if bits == 64:
        values += [1 << 63, (1 << 63) - 1, 1 << 32]
    return [(f"{v:#x}", v) for v in values]


def _field(name: str, label: str, value: int | bytes, index: int = 0) -> Mutation:
    where = f"{name}[{index}]" if HEADER.by_name[name].count > 1 else name
    return Mutation(f"header.{where}={label}", lambda d: put_field(d, name, value, index))


def header_mutations(shape: BaseShape) -> list[Mutation]:
    """Every header field at its boundary values (and the section table around EOF)."""
    magics = (b"\0\0\0\0", b".EIF", b".ei\0")
    out: list[Mutation] = [_field("magic", m.hex(), m) for m in magics]
    for f in HEADER.fields:
        if f.name == "magic":
            continue
        values = boundary_values(f.code[-1])
        if f.name == "num_sections":
            n = shape.count
            values += [("count-1", n - 1), ("count+1", n + 1)]
            values += [(str(MAX_SECTIONS), MAX_SECTIONS), (str(MAX_SECTIONS + 1), MAX_SECTIONS + 1)]
        if f.name == "version":
            values += [("2", 2), ("3", 3), ("5", 5)]
        if f.count == 1:
            out += [_field(f.name, label, v) for label, v in values]
            continue
        values += [("eof-1", shape.size - 1), ("eof", shape.size), ("eof+1", shape.size + 1)]
        for index in sorted({0, shape.count - 1, shape.count, f.count - 1}):
            out += [_field(f.name, label, v, index) for label, v in values]
    return out


def table_mutations(shape: BaseShape) -> list[Mutation]:
    """The section table pointing into the header, into other sections, past EOF."""
    out: list[Mutation] = []
    first = HEADER.offset("section_offsets")
    for i in range(shape.count):
        targets = {
            "header": 0,
            "header+1": 1,
            "table": first,
            "crc": HEADER.offset("eif_crc32"),
            "eof": shape.size,
            "eof-1": shape.size - 1,
            "eof-11": shape.size - SECTION_HEADER.size + 1,
        }
        for j in range(shape.count):
            if j != i:
                targets[f"section{j}"] = shape.offsets[j]
                targets[f"section{j}+1"] = shape.offsets[j] + 1
                targets[f"data{j}"] = shape.offsets[j] + SECTION_HEADER.size
        for label, value in targets.items():
            mut = _field("section_offsets", label, value, i)
            out.append(Mutation(f"table[{i}]->{label}", mut.apply))
        grow = _field("section_sizes", "eof", shape.size, i)
        out.append(Mutation(f"table[{i}].size=filesize", grow.apply))
    if shape.count >= 2:
        a, b = shape.offsets[0], shape.offsets[-1]

        def swap(d: bytes) -> bytes:
            d = put_field(d, "section_offsets", b, 0)
            return put_field(d, "section_offsets", a, shape.count - 1)

        out.append(Mutation("table.swap-first-last", swap))
    return out


def truncation_points(shape: BaseShape) -> dict[str, int]:
    """Every structural boundary of the file by name, and a byte either side where it matters."""
    points: dict[str, int] = {"0": 0, "1": 1}
    for f in HEADER.fields:
        points |= {
            f"header.{f.name}": f.offset,
            f"header.{f.name}+1": f.offset + 1,
            f"header.{f.name}.end-1": f.offset + f.size - 1,
        }
    points["header.end-1"] = HEADER.size - 1
    size_at = SECTION_HEADER.offset("size")
    for i, (off, size) in enumerate(zip(shape.offsets, shape.sizes, strict=True)):
        data = off + SECTION_HEADER.size
        s = f"section[{i}]"
        points |= {s: off, f"{s}+1": off + 1, f"{s}.size": off + size_at}
        points |= {f"{s}.data-1": data - 1, f"{s}.data": data, f"{s}.data+1": data + 1}
        points |= {f"{s}.data.middle": data + size // 2, f"{s}.data.end-1": data + size - 1}
    return {k: v for k, v in points.items() if 0 <= v < shape.size}


def _cut(at: int) -> Callable[[bytes], bytes]:
    return lambda d: d[:at]


def truncations(shape: BaseShape) -> list[Mutation]:
    return [Mutation(f"truncate@{label}", _cut(p)) for label, p in truncation_points(shape).items()]


def section_header_mutations(shape: BaseShape) -> list[Mutation]:
    """Each section header's type, flags and size; sizes also with the table in step."""
    out: list[Mutation] = []
    for i, (off, size) in enumerate(zip(shape.offsets, shape.sizes, strict=True)):

        def put(name: str, value: int, off: int = off) -> Callable[[bytes], bytes]:
            return lambda d: put_section_field(d, off, name, value)

        for t in (0, 1, 2, 3, 4, 5, 6, 0xFFFF):
            out.append(Mutation(f"section[{i}].type={t:#x}", put("type", t)))
        for fl in (1, 0x8000, 0xFFFF):
            out.append(Mutation(f"section[{i}].flags={fl:#x}", put("flags", fl)))
        sizes = [("0", 0), ("1", 1), ("size-1", size - 1), ("size+1", size + 1)]
        sizes += [("eof", shape.size), ("2^63", 1 << 63), ("2^64-1", U64)]
        for label, v in sizes:
            out.append(Mutation(f"section[{i}].size={label}", put("size", v)))
            both = compose([Mutation("", put("size", v)), _field("section_sizes", label, v, i)])
            out.append(Mutation(f"section[{i}].size+table={label}", both.apply))
    return out


def byte_flips(seed: int, count: int) -> Mutation:
    """``count`` random bytes set to random values, anywhere in the file."""

    def apply(data: bytes) -> bytes:
        rng = random.Random(seed)
        buf = bytearray(data)
        for _ in range(count):
            if buf:
                buf[rng.randrange(len(buf))] = rng.randrange(256)
        return bytes(buf)

    return Mutation(f"flip{count}@seed{seed}", apply)


def header_flips(seed: int, count: int) -> Mutation:
    """``count`` random bytes of the header and the first section headers changed."""

    def apply(data: bytes) -> bytes:
        rng = random.Random(seed)
        buf = bytearray(data)
        for _ in range(count):
            i = rng.randrange(min(len(buf), HEADER.size + SECTION_HEADER.size)) if buf else 0
            if buf:
                buf[i] = rng.randrange(256)
        return bytes(buf)

    return Mutation(f"headerflip{count}@seed{seed}", apply)


def structural_mutations(shape: BaseShape) -> list[Mutation]:
    """All the enumerated mutations of a base of this shape (without the ``+crc`` ones)."""
    return (
        header_mutations(shape)
        + table_mutations(shape)
        + truncations(shape)
        + section_header_mutations(shape)
    )


def random_mutation(shape: BaseShape, rng: random.Random) -> Mutation:
    """One to three mutations drawn from everything above, maybe with the CRC fixed."""
    pool = structural_mutations(shape)
    steps: list[Mutation] = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        if rng.random() < 0.2:
            steps.append(byte_flips(rng.randrange(1 << 30), rng.choice((1, 4, 32))))
        elif rng.random() < 0.2:
            steps.append(header_flips(rng.randrange(1 << 30), rng.choice((1, 2, 8))))
        else:
            steps.append(rng.choice(pool))
    mutation = compose(steps)
    return mutation.with_crc() if rng.random() < 0.5 else mutation


def compose(steps: list[Mutation]) -> Mutation:
    if len(steps) == 1:
        return steps[0]

    def apply(data: bytes) -> bytes:
        for s in steps:
            data = s.apply(data)
        return data

    return Mutation(" ; ".join(s.name for s in steps), apply)


def mutation_strategy(shape: BaseShape) -> st.SearchStrategy[Mutation]:
    """Hypothesis: an enumerated mutation or byte flips, then maybe the CRC fixed."""
    pool = structural_mutations(shape)
    flips = st.builds(byte_flips, st.integers(0, 1 << 30), st.sampled_from([1, 4, 32]))
    single = st.one_of(st.sampled_from(pool), flips)
    return st.builds(
        lambda m, crc: m.with_crc() if crc else m,
        st.lists(single, min_size=1, max_size=3).map(compose),
        st.booleans(),
    )
