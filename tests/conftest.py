from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EIFKIT_SHARED", ROOT.parent / "shared"))
VECTORS = SHARED / "vectors"


def load_manifest() -> dict[str, dict]:
    path = VECTORS / "manifest.json"
    if not path.is_file():
        raise RuntimeError(
            f"AWS test vectors not found at {VECTORS}; set EIFKIT_SHARED to the shared/ folder"
        )
    return json.loads(path.read_text())


def expected_pcrs(case: dict) -> dict[str, str]:
    """The PCR JSON that eif_build printed (after its 'Output file:' line)."""
    return json.loads(case["stdout"].split("\n", 1)[1])


@pytest.fixture(scope="session")
def manifest() -> dict[str, dict]:
    return load_manifest()


@pytest.fixture(scope="session")
def vectors() -> Path:
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
