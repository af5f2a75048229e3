"""Findings that are already known: each names the issue 11 item that will fix it.

``KNOWN`` matches a ``Finding.key`` (``command | kind | what``) by regular expression.
The CI test raises ``KnownFindings`` only when every finding of a case matches one of
these, and marks exactly those cases ``xfail(strict=True, raises=KnownFindings)``; any
other finding fails the test outright. When a fix lands, the case passes, strict xfail
turns that into a failure, and the mark (and the entry here) must go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.fuzzing.runner import Finding


@dataclass(frozen=True)
class Known:
    pattern: str
    reason: str

    def matches(self, finding: Finding) -> bool:
        return re.search(self.pattern, finding.key) is not None


ITEM1 = "issue 11 item 1: extract --unpack changes a directory outside its folder"
ITEM3 = "issue 11 item 3: decompression bombs / sizes from the file allocate memory"
ITEM4_CERT = "issue 11 item 4: a certificate whose key cannot be loaded is a traceback"
ITEM4_NUL = "issue 11 item 4: NUL in a cpio name or symlink target is a traceback"
ITEM4_BIG = "issue 11 item 4: cmdline > 1 MiB in extract is a traceback"
ITEM7 = "issue 11 item 7: verify accepts what the loaders refuse"
ITEM8 = "issue 11 item 8: an error line prints a whole long symlink target"
ITEM8_LIEF = "issue 11 item 8: lief's RuntimeWarning lines on stderr for unknown ELF machines"
NEW_DEEP = (
    "NEW (not in issue 11 as such; item 4 lists RecursionError for 2,000-level nesting): "
    "a cpio member path of 2,100 components is a RecursionError in extract --unpack"
)
NEW_LINKS = (
    "NEW (not in issue 11): extract --unpack leaves symlinks that lead out of its folder "
    "(absolute or '..' targets are created as stored)"
)

KNOWN: tuple[Known, ...] = (
    Known(r"\| escape \| changed outside the folder", ITEM1),
    Known(r"\| memory \|", ITEM3),
    Known(r"\| exception \| MemoryError @", ITEM3),
    Known(
        r"\| exception \| (UnsupportedAlgorithm|ValueError) @ "
        r"eifkit/(signing/verify|loadertest/profiles)\.py",
        ITEM4_CERT,
    ),
    Known(r"^extract --unpack \| exception \| ValueError @ eifkit/extract\.py", ITEM4_NUL),
    Known(r"^extract.* \| exception \| ValueError @ eifkit/sources\.py:read_small", ITEM4_BIG),
    Known(r"^verify.* \| accepted \|", ITEM7),
    Known(r"^extract --unpack \| stderr \| line too long", ITEM8),
    Known(r"\| stderr \| stray line: .*RuntimeWarning", ITEM8_LIEF),
    Known(r"^extract --unpack \| exception \| RecursionError @ eifkit/extract\.py", NEW_DEEP),
    Known(r"^extract --unpack \| escape \| link leads out of the folder", NEW_LINKS),
)


def unknown(findings: list[Finding]) -> list[Finding]:
    """The findings no ``KNOWN`` entry explains."""
    return [f for f in findings if not any(k.matches(f) for k in KNOWN)]


class KnownFindings(Exception):
    """Raised by the CI test when a case still shows only known findings."""
