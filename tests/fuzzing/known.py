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


# Every finding of issue 11 and the two the harness found beyond it (links leading out
# of the unpack folder, a 2,100-component path) are fixed; an entry here names the issue
# that will fix a finding still open, e.g.
#     Known(r"^extract --unpack \| escape \|", "issue N: ..."),
KNOWN: tuple[Known, ...] = ()


def unknown(findings: list[Finding]) -> list[Finding]:
    """The findings no ``KNOWN`` entry explains."""
    return [f for f in findings if not any(k.matches(f) for k in KNOWN)]


class KnownFindings(Exception):
    """Raised by the CI test when a case still shows only known findings."""
