"""Run every reading command on one EIF, in-process, and collect what went wrong.

Only ``eifkit.cli.main(argv) -> int`` is called. Per run it records the exit code,
stdout, stderr (Python's and the process's file descriptor 2, where C libraries write),
wall time and the peak of Python allocations (``tracemalloc``), then checks them
against what eifkit promises on untrusted input (see ``tests/fuzzing/__init__.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TextIO

from eifkit.cli import main
from eifkit.unpack import remove_tree

MEMORY_LIMIT = 100 << 20
LONG_LINE = 4096
EIFKIT_DIR = str(Path(sys.modules["eifkit"].__file__ or "").parent)
VICTIM_MTIME = 1_000_000_000


@dataclass(frozen=True)
class Finding:
    """One broken promise. ``key`` groups findings that are the same bug."""

    kind: str  # exception, exit-code, stderr, memory, time, escape, sign-output
    command: str
    key: str
    summary: str
    detail: str = ""


@dataclass
class RunResult:
    command: str
    argv: list[str]
    code: int | None
    stdout: str
    stderr: str
    seconds: float
    peak: int
    error: BaseException | None = None
    findings: list[Finding] = field(default_factory=list)


class Signing(NamedTuple):
    """The throwaway key and certificate ``sign`` uses."""

    key: Path
    cert: Path


@dataclass(frozen=True)
class Sandbox:
    """A folder holding the extraction folders and ``outside``, a victim they must not touch.

    The extraction folders sit eight levels below the sandbox, so that the hostile
    ``..`` members and link targets the harness makes still land inside it (and are seen).
    """

    root: Path

    @property
    def outside(self) -> Path:
        return self.root / "outside"

    @property
    def nest(self) -> Path:
        return self.root / "a" / "b" / "c" / "d" / "e" / "f"

    def make(self) -> None:
        self.nest.mkdir(parents=True, exist_ok=True)
        self.outside.mkdir(exist_ok=True)
        victim = self.outside / "victim-file"
        victim.write_bytes(b"victim\n")
        for p in (victim, self.outside):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
            os.utime(p, (VICTIM_MTIME, VICTIM_MTIME))

    def snapshot(self, skip: Path) -> dict[str, tuple[int, int, int]]:
        """relative path -> (mode, size, mtime) of everything in the sandbox but ``skip``."""
        out: dict[str, tuple[int, int, int]] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                p = Path(dirpath, name)
                if p == skip:
                    continue
                st = p.lstat()
                if p in skip.parents:  # making the folder changes its parent: only the mode
                    out[str(p.relative_to(self.root))] = (st.st_mode, 0, 0)
                else:
                    out[str(p.relative_to(self.root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
            dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        return out


@dataclass(frozen=True)
class Command:
    """A reading command: its name and how its argv is made for one input."""

    name: str
    argv: Callable[[Path, Path, Path, Signing], list[str]]  # (eif, base, work, signing)


COMMANDS: tuple[Command, ...] = (
    Command("describe", lambda e, b, w, s: ["describe", "-q", str(e)]),
    Command("describe --json", lambda e, b, w, s: ["describe", "-q", "--json", str(e)]),
    Command("describe --deep", lambda e, b, w, s: ["describe", "-q", "--deep", str(e)]),
    Command("describe --lenient", lambda e, b, w, s: ["describe", "-q", "--lenient", str(e)]),
    Command("pcr", lambda e, b, w, s: ["pcr", "-q", str(e)]),
    Command("verify", lambda e, b, w, s: ["verify", "-q", str(e)]),
    Command("verify --json", lambda e, b, w, s: ["verify", "-q", "--json", str(e)]),
    Command("check", lambda e, b, w, s: ["check", str(e)]),
    Command("extract", lambda e, b, w, s: ["extract", str(e), "-o", str(_out(w))]),
    Command(
        "extract --unpack",
        lambda e, b, w, s: ["extract", "--unpack", str(e), "-o", str(_out(w))],
    ),
    Command("diff", lambda e, b, w, s: ["diff", "-q", str(b), str(e)]),
    Command(
        "sign",
        lambda e, b, w, s: [
            "sign",
            "-q",
            str(w / "sign-input.eif"),
            "-o",
            str(w / "signed.eif"),
            "--signing-certificate",
            str(s.cert),
            "--private-key",
            str(s.key),
        ],
    ),
)


def _out(work: Path) -> Path:
    return Sandbox(work / "sandbox").nest / "out"


@contextlib.contextmanager
def _captured_fd2() -> Iterator[io.StringIO]:
    """What C code writes to file descriptor 2 meanwhile (read when the block ends)."""
    text = io.StringIO()
    with tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text.write(tmp.read(1 << 16).decode("utf-8", "replace"))


def _print_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def call_main(argv: list[str]) -> tuple[int | None, str, str, BaseException | None, int, float]:
    """Run ``main(argv)``: (exit code, stdout, stderr, escaped exception, peak bytes, seconds)."""
    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    escaped: BaseException | None = None
    started_tracing = not tracemalloc.is_tracing()
    if started_tracing:
        tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    start = time.perf_counter()
    with (
        _captured_fd2() as fd2,
        warnings.catch_warnings(),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        warnings.simplefilter("default")
        warnings.showwarning = _print_warning  # as a user sees them, even under pytest
        try:
            code = main(argv)
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # anything else escaping main is what we look for
            escaped = e
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] - base
    if started_tracing:  # tracing slows every later test of the session 5-10 times
        tracemalloc.stop()
    return code, out.getvalue(), err.getvalue() + fd2.getvalue(), escaped, peak, seconds


def where(e: BaseException) -> tuple[str, str]:
    """(``module.py:function``, ``module.py:line``) of the innermost eifkit frame."""
    frames = traceback.extract_tb(e.__traceback__)
    inside = [f for f in frames if f.filename.startswith(EIFKIT_DIR)] or frames
    if not inside:
        return "?", "?"
    f = inside[-1]
    rel = os.path.relpath(f.filename, os.path.dirname(EIFKIT_DIR))
    return f"{rel}:{f.name}", f"{rel}:{f.lineno}"


def _norm(line: str) -> str:
    """A stderr line with paths, numbers and quoted text blurred, to group like lines."""
    line = re.sub(r"/\S+", "PATH", line)
    line = re.sub(r"'[^']*'|\"[^\"]*\"", "Q", line)
    return re.sub(r"0x[0-9a-fA-F]+|\d+", "N", line)[:80]


def check_result(r: RunResult, time_limit: float | None) -> list[Finding]:
    """The promises one run broke."""
    found: list[Finding] = []

    def add(kind: str, key: str, summary: str, detail: str = "") -> None:
        found.append(Finding(kind, r.command, f"{r.command} | {kind} | {key}", summary, detail))

    if r.error is not None:
        func, line = where(r.error)
        name = type(r.error).__name__
        tb = "".join(traceback.format_exception(r.error))
        add("exception", f"{name} @ {func}", f"{name} at {line}: {str(r.error)[:200]}", tb)
    elif r.code not in (0, 1, 2):
        add("exit-code", f"exit {r.code}", f"exit code {r.code}", r.stderr[-2000:])
    lines = r.stderr.splitlines()
    if "Traceback" in r.stderr or "Traceback" in r.stdout:
        add("stderr", "Traceback", "a Traceback was printed", r.stderr[-2000:])
    if any(len(line) > LONG_LINE for line in lines):
        longest = max(len(line) for line in lines)
        add("stderr", "line too long", f"a stderr line of {longest} characters")
    stray = [ln for ln in lines if not ln.startswith(("eifkit: error:", "eifkit: warning:"))]
    if stray:
        add("stderr", f"stray line: {_norm(stray[0])}", f"stderr has {stray[0][:200]!r}")
    if r.code == 2 and not stray:
        errors = [i for i, line in enumerate(lines) if line.startswith("eifkit: error:")]
        if len(errors) != 1 or errors[0] != len(lines) - 1:
            add("stderr", f"{len(errors)} error lines", "stderr is not one final error line")
    elif r.code in (0, 1) and any(ln.startswith("eifkit: error:") for ln in lines):
        add("exit-code", f"error line with exit {r.code}", f"an error line but exit {r.code}")
    if r.peak > MEMORY_LIMIT:
        add("memory", "over 100 MiB", f"peak Python memory {r.peak >> 20} MiB")
    if time_limit is not None and r.seconds > time_limit:
        add("time", f"over {time_limit:g} s", f"took {r.seconds:.1f} s")
    return found


def _containment(sandbox: Sandbox, out: Path, before: dict[str, tuple[int, int, int]]) -> list[str]:
    """What an extraction did outside ``out``, and links in ``out`` that lead out of it."""
    problems = []
    after = sandbox.snapshot(out)
    for rel in sorted(set(before) | set(after)):
        if before.get(rel) != after.get(rel):
            what = "created" if rel not in before else "removed" if rel not in after else "changed"
            problems.append(f"{what} outside the folder: {rel}")
    real_out = os.path.realpath(out)
    for dirpath, dirnames, filenames in os.walk(out):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                target = os.path.realpath(p)
                if os.path.commonpath([real_out, target]) != real_out:
                    problems.append(f"link leads out of the folder: {os.path.relpath(p, out)}")
    return problems


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "-"


def run_commands(
    eif: Path,
    base: Path,
    work: Path,
    signing: Signing,
    *,
    commands: tuple[Command, ...] = COMMANDS,
    time_limit: float | None = None,
    must_not_verify: bool = False,
) -> list[RunResult]:
    """Run ``commands`` on ``eif`` (``base`` is the other side of ``diff``).

    ``must_not_verify``: the file's signature section was changed in a way no loader
    accepts, so ``verify`` exiting 0 is a finding too.
    """
    sandbox = Sandbox(work / "sandbox")
    results = []
    for cmd in commands:
        argv = cmd.argv(eif, base, work, signing)
        out = _out(work)
        sandbox.make()
        before = sandbox.snapshot(out)
        if cmd.name == "sign":
            shutil.copyfile(eif, work / "sign-input.eif")
        sign_input = _digest(work / "sign-input.eif")
        code, stdout, stderr, error, peak, seconds = call_main(argv)
        r = RunResult(cmd.name, argv, code, stdout, stderr, seconds, peak, error)
        r.findings = check_result(r, time_limit)
        if cmd.name.startswith("extract"):
            for problem in _containment(sandbox, out, before):
                key = re.sub(r": .*", "", problem)
                r.findings.append(
                    Finding("escape", cmd.name, f"{cmd.name} | escape | {key}", problem)
                )
        if must_not_verify and cmd.name.startswith("verify") and code == 0:
            r.findings.append(
                Finding(
                    "accepted",
                    cmd.name,
                    f"{cmd.name} | accepted | a signature section loaders refuse",
                    "exit 0 (verified)",
                )
            )
        if cmd.name == "sign":
            signed = work / "signed.eif"
            if _digest(work / "sign-input.eif") != sign_input:
                r.findings.append(
                    Finding("sign-output", cmd.name, "sign | changed its input", "input changed")
                )
            if code != 0 and signed.exists():
                r.findings.append(
                    Finding(
                        "sign-output",
                        cmd.name,
                        f"sign | output left after exit {code}",
                        f"exit {code} but {signed.name} exists",
                    )
                )
        _clean(sandbox, work)
        results.append(r)
    return results


def _clean(sandbox: Sandbox, work: Path) -> None:
    """Remove what a run wrote (unpacked trees can be 2,000 folders deep, past what the
    recursive os.walk and shutil.rmtree of Python 3.11 handle)."""
    for p in (sandbox.root, work / "signed.eif", work / "sign-input.eif"):
        if p.is_dir() and not p.is_symlink():
            remove_tree(str(p))
        elif p.exists() or p.is_symlink():
            p.unlink()
