"""The long fuzz run of eifkit's reading commands (issue 11); CI runs tests/test_fuzz.py.

Started by ``scripts/fuzz`` (which puts the checkout on the import path):

    scripts/fuzz --runs 2000 --seed 1 --out /tmp/fuzz-findings
    nice -n 10 scripts/fuzz --minutes 20 --out /tmp/fuzz-findings

Each run builds one EIF and runs every reading command on it in-process (see
tests/fuzzing/__init__.py for the commands and what is checked). The first runs go
through the whole catalogue of tests/fuzzing/cases.py once (in an order given by the
seed); after that each run takes a random catalogue case and stacks random structural
mutations on it. The same --seed gives the same cases (the signed base's key is new
every time, so its bytes differ).

Into --out it writes, per finding, the input file (at most --keep per distinct finding)
and one line in findings.tsv: key (command | kind | what), case id, file, summary.
A run over --time-limit seconds is a finding of kind "time". At the end it prints the
number of runs and each distinct finding with its count and first file. The process
limits its own address space (--max-memory-gib) so that a bomb fails with MemoryError
(reported as a finding) instead of swapping the machine.
Exit status: 0 if nothing was found, 1 if something was, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from tests.fuzzing.cases import Bases, Case, all_cases, build_bases, random_case
from tests.fuzzing.known import unknown
from tests.fuzzing.runner import Finding, Sandbox, run_commands


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/fuzz",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--runs", type=int, default=1000, help="how many EIFs (default 1000)")
    p.add_argument("--seed", type=int, default=1, help="seed of the run (default 1)")
    p.add_argument("--out", type=Path, required=True, help="folder for the findings")
    p.add_argument("--minutes", type=float, help="stop after this long, whatever --runs says")
    p.add_argument("--time-limit", type=float, default=10.0, help="seconds per command run")
    p.add_argument("--keep", type=int, default=3, help="inputs kept per distinct finding")
    p.add_argument("--max-memory-gib", type=float, default=3.0, help="address space limit")
    return p.parse_args(argv)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=+-]+", "_", text)[:80]


def _cases(catalogue: dict[str, Case], bases: Bases, seed: int) -> Iterator[Case]:
    """The catalogue in a seeded order, then random cases forever."""
    ids = sorted(catalogue)
    random.Random(seed).shuffle(ids)
    yield from (catalogue[i] for i in ids)
    pool = [catalogue[i] for i in sorted(catalogue)]
    n = 0
    while True:
        yield random_case(bases, seed * 1_000_003 + n, pool)
        n += 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limit = int(args.max_memory_gib * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    bases = build_bases(work / "bases")
    catalogue = all_cases(bases)
    log = (out / "findings.tsv").open("a", encoding="utf-8")
    counts: Counter[str] = Counter()
    first: dict[str, tuple[str, str, str]] = {}
    runs = command_runs = 0
    slowest: list[tuple[float, str, str]] = []
    start = time.monotonic()
    for case in _cases(catalogue, bases, args.seed):
        if runs >= args.runs or (args.minutes and time.monotonic() - start > args.minutes * 60):
            break
        runs += 1
        case_dir = work / "case"
        shutil.rmtree(case_dir, ignore_errors=True)
        case_dir.mkdir()
        try:
            data = case.make(bases, bytes(Sandbox(case_dir / "sandbox").outside))
        except Exception as e:  # a bug of the harness, not of eifkit: say so and go on
            print(f"cannot make {case.id}: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        eif = case_dir / "case.eif"
        eif.write_bytes(data)
        base = bases.signed if case.base == "signed" else bases.unsigned
        results = run_commands(
            eif,
            base,
            case_dir,
            bases.signing,
            time_limit=args.time_limit,
            must_not_verify=case.must_not_verify,
        )
        command_runs += len(results)
        for r in results:
            slowest.append((r.seconds, r.command, case.id))
            for f in r.findings:
                _record(f, case, eif, counts, first, out, log, args.keep)
        slowest = sorted(slowest, reverse=True)[:5]
        if runs % 50 == 0:
            elapsed = time.monotonic() - start
            print(f"{runs} runs, {len(counts)} distinct findings, {elapsed:.0f} s", file=sys.stderr)
    log.close()
    shutil.rmtree(work, ignore_errors=True)
    _summary(runs, command_runs, counts, first, slowest, time.monotonic() - start)
    return 1 if counts else 0


def _record(
    f: Finding,
    case: Case,
    eif: Path,
    counts: Counter[str],
    first: dict[str, tuple[str, str, str]],
    out: Path,
    log: TextIO,
    keep: int,
) -> None:
    counts[f.key] += 1
    first.setdefault(f.key, (case.id, "-", f.summary))
    name = "-"
    if counts[f.key] <= keep:
        number = list(first).index(f.key)
        name = f"{number:03d}-{counts[f.key]}-{_slug(f.key)}.eif"
        shutil.copyfile(eif, out / name)
        if f.detail:
            (out / (name + ".txt")).write_text(f"{case.id}\n{f.summary}\n\n{f.detail}\n")
    if counts[f.key] == 1:
        first[f.key] = (case.id, name, f.summary)
    log.write(f"{f.key}\t{case.id}\t{name}\t{f.summary}\n")


def _summary(
    runs: int,
    command_runs: int,
    counts: Counter[str],
    first: dict[str, tuple[str, str, str]],
    slowest: list[tuple[float, str, str]],
    seconds: float,
) -> None:
    print(f"{runs} EIFs, {command_runs} command runs in {seconds:.0f} s")
    print(f"{sum(counts.values())} findings, {len(counts)} distinct")
    new = {f.key for f in unknown([Finding("", "", k, "") for k in counts])}
    for key, n in sorted(counts.items()):
        case_id, name, summary = first[key]
        mark = "NEW " if key in new else ""
        print(f"{n:6d}  {mark}{key}\n        first: {case_id} -> {name}\n        {summary[:160]}")
    print("slowest runs: " + "; ".join(f"{s:.1f} s {c} on {i}" for s, c, i in slowest))


if __name__ == "__main__":
    sys.exit(main())
