"""The catalogue of fuzz cases: every case has a stable id and builds one EIF.

Two bases are built with the CLI from ``examples/hello`` (a fixed build time, so the
unsigned base is the same bytes everywhere): ``unsigned`` and ``signed`` (a throwaway
EC P-384 key and self-signed certificate). Case ids:

``unsigned:<mutation>`` / ``signed:<mutation>``  a structural mutation (``mutators``)
``ramdisk:<name>``      ramdisk 0 of ``unsigned`` replaced by a hostile cpio (``cpio``)
``signature:<name>``    the signature section of ``signed`` replaced (``cbor``)
``metadata:<name>``, ``cmdline:<name>``, ``kernel:<name>``  that section replaced
``random:<seed>``       a random hostile section and/or random mutations (long run)
"""

from __future__ import annotations

import contextlib
import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eifkit.cli import main
from tests.certs import make_cert
from tests.fuzzing import cbor, cpio, sections
from tests.fuzzing.eiffile import (
    CMDLINE,
    KERNEL,
    METADATA,
    RAMDISK,
    SIGNATURE,
    replace_section,
    split,
)
from tests.fuzzing.mutators import (
    BaseShape,
    Mutation,
    random_mutation,
    structural_mutations,
    truncations,
)
from tests.fuzzing.runner import Signing

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello"
BUILD_TIME = "2025-01-01T00:00:00Z"


@dataclass(frozen=True)
class Bases:
    """The base EIFs (their bytes and paths) and the signing key the cases use."""

    unsigned: Path
    signed: Path
    signing: Signing

    def data(self, name: str) -> bytes:
        return (self.signed if name == "signed" else self.unsigned).read_bytes()


def build_bases(folder: Path) -> Bases:
    """Build both bases with ``eifkit build`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    key, cert = make_cert(folder, "fuzz", "p384")
    common = ["build", "--kernel", str(HELLO / "bzImage"), "--initrd", str(HELLO / "init.cpio")]
    common += ["--cmdline", "console=ttyS0", "--build-time", BUILD_TIME, "--no-lint"]
    unsigned, signed = folder / "unsigned.eif", folder / "signed.eif"
    key_args = ["--signing-certificate", str(cert), "--private-key", str(key)]
    for out, extra in ((unsigned, []), (signed, key_args)):
        with contextlib.redirect_stdout(io.StringIO()):
            code = main([*common, "-o", str(out), *extra])
        if code != 0:
            raise RuntimeError(f"eifkit build of the fuzz base {out.name} failed: exit {code}")
    return Bases(unsigned, signed, Signing(key, cert))


# A case's maker: (bases, outside folder as bytes) -> the EIF's bytes
Maker = Callable[[Bases, bytes], bytes]


@dataclass(frozen=True)
class Case:
    id: str
    base: str  # "unsigned" or "signed": the other side of `diff`
    make: Maker
    must_not_verify: bool = False  # a signature no loader accepts: `verify` must fail


def _mutated(base: str, m: Mutation) -> Case:
    return Case(f"{base}:{m.name}", base, lambda b, o: m.apply(b.data(base)))


def _section_of(data: bytes, section_type: int) -> bytes:
    parts = split(data)
    return parts.sections[parts.index_of(section_type)].data


def _replacing(
    kind: str, base: str, section_type: int, name: str, new: Maker, must_not_verify: bool = False
) -> Case:
    def make(b: Bases, outside: bytes) -> bytes:
        return replace_section(b.data(base), section_type, new(b, outside))

    return Case(f"{kind}:{name}", base, make, must_not_verify)


def _from_base_section(section_type: int, base: str, change: Callable[[bytes], bytes]) -> Maker:
    return lambda b, o: change(_section_of(b.data(base), section_type))


def _hostile_ramdisk(name: str) -> Maker:
    return lambda b, o: cpio.hostile_ramdisk(name, o)


def _constant(data: bytes) -> Maker:
    return lambda b, o: data


def content_cases() -> list[Case]:
    """Every hostile section content, spliced into a base."""
    out = [
        _replacing("ramdisk", "unsigned", RAMDISK, n, _hostile_ramdisk(n))
        for n in cpio.ramdisk_names()
    ]
    out += [
        _replacing(
            "signature",
            "signed",
            SIGNATURE,
            n,
            _from_base_section(SIGNATURE, "signed", f),
            n not in cbor.LOADERS_MAY_ACCEPT,
        )
        for n, f in cbor.SIGNATURE_SECTIONS.items()
    ]
    out += [
        _replacing("metadata", "unsigned", METADATA, n, _from_base_section(METADATA, "unsigned", f))
        for n, f in sections.METADATA.items()
    ]
    out += [
        _replacing("cmdline", "unsigned", CMDLINE, n, _constant(v))
        for n, v in sections.CMDLINE.items()
    ]
    out += [
        _replacing("kernel", "unsigned", KERNEL, n, _from_base_section(KERNEL, "unsigned", f))
        for n, f in sections.KERNEL.items()
    ]
    return out


def structural_cases(bases: Bases) -> list[Case]:
    """Every structural mutation of the unsigned base (as is and with the CRC fixed),
    and the signed base cut at each boundary of its signature section."""
    shape = BaseShape.of(bases.data("unsigned"))
    out = []
    for m in structural_mutations(shape):
        out += [_mutated("unsigned", m), _mutated("unsigned", m.with_crc())]
    signed = BaseShape.of(bases.data("signed"))
    out += [_mutated("signed", m) for m in truncations(signed) if "section[4]" in m.name]
    return out


def all_cases(bases: Bases) -> dict[str, Case]:
    return {c.id: c for c in content_cases() + structural_cases(bases)}


def random_case(bases: Bases, seed: int, pool: list[Case]) -> Case:
    """A random case: a catalogue case, then (mostly) random structural mutations on top."""
    rng = random.Random(seed)
    first = rng.choice(pool)
    if rng.random() < 0.3:
        return Case(f"random:{seed}:{first.id}", first.base, first.make, first.must_not_verify)

    def make(b: Bases, outside: bytes) -> bytes:
        data = first.make(b, outside)
        try:
            shape = BaseShape.of(data)
        except Exception:  # a mutated table: mutate the base's shape instead
            shape = BaseShape.of(b.data(first.base))
        return random_mutation(shape, random.Random(seed)).apply(data)

    return Case(f"random:{seed}:{first.id}+mutations", first.base, make, first.must_not_verify)
