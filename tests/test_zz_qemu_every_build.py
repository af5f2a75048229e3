"""Runs last: every EIF the suite built with an x86_64 bzImage is accepted by QEMU."""

from __future__ import annotations

import pytest

from tests.conftest import BUILT_WITH_X86_KERNEL
from tests.test_qemu import QEMU, qemu_check

pytestmark = pytest.mark.skipif(not QEMU.is_file(), reason=f"no QEMU loader at {QEMU}")


def test_every_eif_built_with_an_x86_kernel_is_accepted_by_qemu():
    existing = [p for p in dict.fromkeys(BUILT_WITH_X86_KERNEL) if p.exists()]
    if not existing:
        pytest.skip("no EIF with an x86 kernel was built in this session (run the whole suite)")
    rejected = []
    for eif in existing:
        rc, out = qemu_check(eif)
        if rc != 0:
            rejected.append(f"{eif}: {out.strip()}")
    assert not rejected, "\n".join(rejected)
    assert len(existing) >= 10
