"""The short, seeded fuzz run (CI) of issue 11's harness; see ``tests/fuzzing``.

Every reading command (describe in four forms, pcr, verify with and without --json,
check, extract, extract --unpack, diff against the base, sign into a new file) runs
in-process on each case below, and must: not let an exception escape ``main``; exit
0, 1 or 2; on exit 2 print one ``eifkit: error:`` line and no traceback; keep peak
Python memory under 100 MiB; keep ``extract`` inside its folder; leave ``sign``'s input
alone. The cases are fixed ids from ``tests.fuzzing.cases`` (a few of each family),
plus a derandomized hypothesis run over the structural mutations.

Cases that still show a finding already filed in issue 11 are listed in ``EXPECTED``
and marked ``xfail(strict=True, raises=KnownFindings)``: a fix makes them pass, which
strict xfail reports as a failure, so the mark goes with the fix. Any finding that is
not in ``tests.fuzzing.known`` fails the test whatever the mark.

The long run: ``scripts/fuzz --runs N --seed S --out DIR`` (see its --help).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import bombs
from tests.fuzzing.cases import Bases, Case, all_cases, build_bases
from tests.fuzzing.eiffile import METADATA, RAMDISK, replace_section
from tests.fuzzing.known import KnownFindings, unknown
from tests.fuzzing.mutators import BaseShape, mutation_strategy
from tests.fuzzing.runner import (
    COMMANDS,
    Command,
    Finding,
    RunResult,
    Sandbox,
    check_result,
    run_commands,
)

CI_CASES = [
    # header fields at boundary values, with and without the CRC fixed
    "unsigned:header.magic=2e454946",
    "unsigned:header.version=0x0+crc",
    "unsigned:header.flags=0xffff+crc",
    "unsigned:header.default_mem=0xffffffffffffffff+crc",
    "unsigned:header.num_sections=0x0",
    "unsigned:header.num_sections=33+crc",
    "unsigned:header.num_sections=0xffff+crc",
    "unsigned:header.section_offsets[0]=0x8000000000000000+crc",
    "unsigned:header.section_sizes[3]=eof+1+crc",
    "unsigned:header.section_offsets[4]=eof-1+crc",
    # the section table pointing where it should not
    "unsigned:table[1]->header+crc",
    "unsigned:table[2]->data0+crc",
    "unsigned:table[3]->eof-11+crc",
    "unsigned:table.swap-first-last+crc",
    # truncation at structural boundaries
    "unsigned:truncate@header.num_sections+1",
    "unsigned:truncate@section[1].size",
    "unsigned:truncate@section[3].data.middle+crc",
    "signed:truncate@section[4].data.middle",
    # section headers
    "unsigned:section[1].type=0x4+crc",
    "unsigned:section[2].flags=0xffff+crc",
    "unsigned:section[3].size+table=2^64-1+crc",
    # hostile ramdisks
    "ramdisk:dotdot",
    "ramdisk:absolute-file.gz",
    "ramdisk:link-then-dir",
    "ramdisk:link-then-file-through",
    "ramdisk:nul-in-name",
    "ramdisk:namesize-huge",
    "ramdisk:filesize-huge.gz",
    "ramdisk:link-long-target",
    "ramdisk:many-empty.gz",
    "ramdisk:gzip-truncated",
    "ramdisk:gzip-garbage",  # isal raised its own error type (found by a long run)
    "ramdisk:link-dotdot-target",
    "ramdisk:deep-path",
    # CBOR garbage in the signature section
    "signature:random-64",
    "signature:deep-array-2000",
    "signature:huge-array",
    "signature:duplicate-keys",
    "signature:trailing-bytes",
    "signature:cert-unknown-curve",
    "signature:cose-protected-deep",
    # metadata, cmdline, kernel
    "metadata:deep-array-2000",
    "metadata:huge-int-digits",
    "metadata:non-utf8",
    "cmdline:nul-inside",
    "cmdline:over-1mib",
    "kernel:bzimage-0x240",
    "kernel:elf-bad-class",
    "kernel:elf-unknown-machine",
]

# case id -> the issue item that still fails on it (strict xfail). Every finding of
# issue 11 is fixed: a new one goes here only with a known.py entry naming its issue.
EXPECTED: dict[str, str] = {}


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> Bases:
    return build_bases(tmp_path_factory.mktemp("fuzz-bases"))


@pytest.fixture(scope="module")
def catalogue(bases: Bases) -> dict[str, Case]:
    return all_cases(bases)


def _report(findings: list[Finding]) -> str:
    return "\n".join(f"{f.key}: {f.summary}" for f in findings)


def _run(
    case: Case, bases: Bases, work: Path, commands: tuple[Command, ...] = COMMANDS
) -> list[Finding]:
    eif = work / "case.eif"
    eif.write_bytes(case.make(bases, bytes(Sandbox(work / "sandbox").outside)))
    base = bases.signed if case.base == "signed" else bases.unsigned
    results = run_commands(
        eif, base, work, bases.signing, commands=commands, must_not_verify=case.must_not_verify
    )
    return [f for r in results for f in r.findings]


def _judge(case_id: str, findings: list[Finding]) -> None:
    new = unknown(findings)
    assert not new, f"{case_id}: findings not in issue 11:\n{_report(new)}"
    if findings:
        raise KnownFindings(f"{case_id}:\n{_report(findings)}")


@pytest.mark.parametrize(
    "case_id",
    [
        pytest.param(
            c, marks=pytest.mark.xfail(strict=True, raises=KnownFindings, reason=EXPECTED[c])
        )
        if c in EXPECTED
        else c
        for c in CI_CASES
    ],
)
def test_reading_commands_hold_on_a_hostile_eif(
    case_id: str, bases: Bases, catalogue: dict[str, Case], tmp_path: Path
) -> None:
    _judge(case_id, _run(catalogue[case_id], bases, tmp_path))


def test_every_listed_case_exists(catalogue: dict[str, Case]) -> None:
    assert set(CI_CASES) <= set(catalogue), set(CI_CASES) - set(catalogue)
    assert set(EXPECTED) <= set(CI_CASES)


FAST = tuple(c for c in COMMANDS if c.name in ("describe --json", "pcr", "verify", "check"))


@settings(
    derandomize=True,
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_structural_mutations_seeded(
    data: st.DataObject, bases: Bases, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shape = BaseShape.of(bases.data("unsigned"))
    mutation = data.draw(mutation_strategy(shape), label="mutation")
    case = Case(
        f"unsigned:{mutation.name}", "unsigned", lambda b, o: mutation.apply(b.data("unsigned"))
    )
    findings = _run(case, bases, tmp_path_factory.mktemp("hyp"), FAST)
    assert not findings, f"{case.id}:\n{_report(findings)}"


# The harness must be able to fail: each check below is fed a run that breaks it.


def _result(
    code: int | None = 2,
    stdout: str = "",
    stderr: str = "eifkit: error: x\n",
    peak: int = 0,
    error: BaseException | None = None,
) -> RunResult:
    return RunResult("describe", [], code, stdout, stderr, 0.0, peak, error)


@pytest.mark.parametrize(
    ("kw", "kind"),
    [
        ({"error": IndexError("boom"), "code": None}, "exception"),
        ({"code": 3}, "exit-code"),
        ({"stderr": "eifkit: error: a\neifkit: error: b\n"}, "stderr"),
        ({"stderr": "RuntimeWarning: lief\neifkit: error: a\n"}, "stderr"),
        ({"code": 1, "stdout": "Traceback (most recent call last):\n", "stderr": ""}, "stderr"),
        ({"peak": 101 << 20, "code": 0, "stderr": ""}, "memory"),
    ],
)
def test_the_checks_catch_what_they_should(kw: dict[str, Any], kind: str) -> None:
    assert [f.kind for f in check_result(_result(**kw), None)] == [kind]
    assert check_result(_result(), None) == []


def test_containment_sees_a_change_outside_and_a_link_out(tmp_path: Path) -> None:
    from tests.fuzzing.runner import _containment

    sandbox = Sandbox(tmp_path / "sandbox")
    sandbox.make()
    out = sandbox.nest / "out"
    before = sandbox.snapshot(out)
    out.mkdir()
    (out / "ln").symlink_to(sandbox.outside)
    sandbox.outside.chmod(0o777)
    problems = _containment(sandbox, out, before)
    assert any(p.startswith("changed outside the folder: outside") for p in problems), problems
    assert "link leads out of the folder: ln" in problems, problems


# Bombs: a separate, bounded test (each expands to at most 128 MiB).

BOMB_COMMANDS = ("describe", "describe --deep", "extract --unpack", "diff")
# bomb -> (the commands item 3 names for it, the issue item while it still fails)
BOMBS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "ramdisk:zeros-128m.gz": (BOMB_COMMANDS, None),
    "ramdisk:links-8x16m.gz": (("describe", "extract --unpack"), None),
    "metadata:zeros-array-2m": (("describe", "extract"), None),
}


@pytest.mark.parametrize(
    "bomb",
    [
        pytest.param(b, marks=pytest.mark.xfail(strict=True, raises=KnownFindings, reason=r))
        if r
        else b
        for b, (_, r) in BOMBS.items()
    ],
)
def test_bombs_stay_bounded(bomb: str, bases: Bases, tmp_path: Path) -> None:
    kind, name = bomb.split(":")
    if kind == "ramdisk":
        data = replace_section(bases.data("unsigned"), RAMDISK, bombs.RAMDISK_BOMBS[name]())
    else:
        data = replace_section(bases.data("unsigned"), METADATA, bombs.METADATA_BOMBS[name]())
    case = Case(bomb, "unsigned", lambda b, o: data)
    commands = tuple(c for c in COMMANDS if c.name in BOMBS[bomb][0])
    _judge(bomb, _run(case, bases, tmp_path, commands))
