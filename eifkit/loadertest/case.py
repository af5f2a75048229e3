"""One case of the loader-test corpus: a named defect and what each loader says of it.

A :class:`Case` is keyword data: which mutator makes the file from a base image, and
the verdict declared by hand for each loader profile (QEMU's message, or a prefix of
it; accept or reject for AWS's reader and for the specification).
:func:`check_declaration` compares a declaration with the models' verdicts, so that the
declarations, the models (:mod:`eifkit.loadertest.profiles`) and, in the tests, the real
loaders are checked against each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .mutators import Mutation
from .profiles import Verdict

ACCEPT: Literal["accept"] = "accept"
REJECT: Literal["reject"] = "reject"
Outcome = Literal["accept", "reject"]


@dataclass(frozen=True, kw_only=True)
class Case:
    """A named single-defect EIF, and the verdicts declared for it."""

    id: str
    description: str
    mutate: Mutation
    qemu: str  # QEMU's message, or a prefix of it; ACCEPT if it loads
    aws_reader: Outcome  # does nitro-cli describe-eif get through it?
    nitro_spec: Outcome  # does it meet the specification's rules?
    signed: bool = False  # mutate the signed copy of the base


class DeclarationMismatch(AssertionError):
    """A model's verdict is not the one a case declares."""


def check_declaration(case: Case, verdicts: Mapping[str, Verdict]) -> None:
    """Raise :class:`DeclarationMismatch` unless ``verdicts`` (profile name -> verdict)
    are those ``case`` declares."""
    q, a, s = verdicts["qemu"], verdicts["aws-reader"], verdicts["nitro-spec"]
    problems = []
    if case.qemu == ACCEPT:
        if not q.accepted:
            problems.append(f"qemu model rejects ({q.message}), declared accepted")
    elif q.accepted or not q.message.startswith(case.qemu):
        problems.append(f"qemu model says {q.message!r}, declared {case.qemu!r}")
    if a.accepted != (case.aws_reader == ACCEPT):
        problems.append(f"aws-reader model says {a.message!r}, declared {case.aws_reader}")
    if s.accepted != (case.nitro_spec == ACCEPT):
        problems.append(f"nitro-spec model says {s.message!r}, declared {case.nitro_spec}")
    if problems:
        raise DeclarationMismatch(f"{case.id}: " + "; ".join(problems))
