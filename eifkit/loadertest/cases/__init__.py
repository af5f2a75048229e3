"""The cases of the loader-test corpus, in the order ``eifkit fixtures`` writes them.

Each is declared as keyword data (:class:`~eifkit.loadertest.case.Case`): an id, a
description, the mutator that makes it, and the verdicts declared for QEMU, AWS's
reader and the specification.
"""

from __future__ import annotations

from ..case import Case
from .header import HEADER_CASES
from .sections import SECTION_CASES

CASES: tuple[Case, ...] = HEADER_CASES + SECTION_CASES

__all__ = ["CASES", "Case"]
