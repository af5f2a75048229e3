from __future__ import annotations

import json
import os
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EIFKIT_SHARED", ROOT.parent / "shared"))
VECTORS = SHARED / "vectors"


NO_VECTORS = f"no AWS test vectors at {VECTORS} (set EIFKIT_SHARED to the shared/ folder)"


def load_manifest() -> dict[str, dict]:
    """The AWS vectors' manifest, or {} when shared/ is not there (their tests then skip)."""
    path = VECTORS / "manifest.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def expected_pcrs(case: dict) -> dict[str, str]:
    """The PCR JSON that eif_build printed (after its 'Output file:' line)."""
    return json.loads(case["stdout"].split("\n", 1)[1])


@pytest.fixture(scope="session")
def manifest() -> dict[str, dict]:
    found = load_manifest()
    if not found:
        pytest.skip(NO_VECTORS)
    return found


@pytest.fixture(scope="session")
def vectors() -> Path:
    if not VECTORS.is_dir():
        pytest.skip(NO_VECTORS)
    return VECTORS


# Every EIF the suite writes whose kernel is an x86_64 bzImage is recorded here, and
# when the session ends (pytest_sessionfinish below, whatever order the tests ran in)
# QEMU's loader is asked about each of them; a rejection fails the session.
BUILT_WITH_X86_KERNEL: list[Path] = []


@pytest.fixture(autouse=True, scope="session")
def _record_x86_builds():
    import eifkit
    import eifkit.writer
    from eifkit.format import SectionType
    from eifkit.sources import DeferredSource

    real = eifkit.writer.write

    def recording_write(image, path, *args, **kwargs):
        result = real(image, path, *args, **kwargs)
        kernel = image.kernel
        if kernel is not None and not isinstance(kernel.source, DeferredSource):
            head = b"".join(bytes(c) for c in _first_chunk(kernel.source))
            is_x86 = len(head) > 0x236 and head[0x202:0x206] == b"HdrS"
            odd = (
                image.arch.value != "x86_64"
                or len(image.of_type(SectionType.KERNEL)) != 1
                or not image.ramdisks
                or not image.cmdline_section
            )
            if is_x86 and not odd:
                BUILT_WITH_X86_KERNEL.append(Path(result.path))
        return result

    eifkit.writer.write = recording_write  # the CLI calls writer.write through the module
    eifkit.write = recording_write
    yield
    eifkit.writer.write = real
    eifkit.write = real


def _first_chunk(source):
    for chunk in source.chunks(4096):
        yield chunk[:4096]
        return


# Without shared/ (a checkout on its own), the tests that read AWS's vectors skip with a
# reason and the rest run. Which tests read them is found from the code: a test needs
# the vectors when it, a fixture it uses, or a helper either of them calls (followed
# through the test's module and the modules it names) refers to one of these names or
# to a module-level path inside shared/.
_SHARED_NAMES = frozenset({"VECTORS", "INPUTS", "SHARED", "load_manifest", "MANIFEST"})


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _reads_shared(func: object, seen: set[object]) -> bool:
    code = getattr(func, "__code__", None)
    if code is None or func in seen:
        return False
    seen.add(func)
    names = _code_names(code)
    if names & _SHARED_NAMES:
        return True
    scope = getattr(func, "__globals__", {})
    for name in names:
        value = scope.get(name)
        if isinstance(value, types.ModuleType) and value.__name__.startswith("tests."):
            if any(_reads_shared(getattr(value, n, None), seen) for n in names):
                return True
        elif isinstance(value, str | Path):
            if str(value).startswith(str(SHARED)):
                return True
        elif isinstance(value, types.FunctionType) and _reads_shared(value, seen):
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if VECTORS.is_dir():
        return
    skip = pytest.mark.skip(reason=NO_VECTORS)
    for item in items:
        funcs: list[object] = [getattr(item, "function", None)]
        info = getattr(item, "_fixtureinfo", None)
        for defs in info.name2fixturedefs.values() if info else []:
            funcs.extend(d.func for d in defs if d.func.__module__.startswith("tests."))
        seen: set[object] = set()
        if any(_reads_shared(f, seen) for f in funcs):
            item.add_marker(skip)


def qemu_rejections(eifs: list[Path]) -> list[str]:
    """QEMU's message for each of ``eifs`` its nitro-enclave loader rejects."""
    from tests.test_qemu import qemu_check

    rejected = []
    for eif in eifs:
        rc, out = qemu_check(eif)
        if rc != 0:
            rejected.append(f"{eif}: {out.strip()}")
    return rejected


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """QEMU must accept every EIF the session built with an x86_64 kernel."""
    from tests.test_qemu import CHECK, QEMU

    existing = [p for p in dict.fromkeys(BUILT_WITH_X86_KERNEL) if p.exists()]
    if not (existing and QEMU.is_file() and CHECK.is_file()):
        return
    rejected = qemu_rejections(existing)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        verdict = f"{len(rejected)} REJECTED" if rejected else "all accepted"
        reporter.write_line(
            f"QEMU on the {len(existing)} EIFs built with an x86_64 kernel: {verdict}"
        )
        for line in rejected:
            reporter.write_line(f"  {line}", red=True)
    if rejected:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
