"""A reviewer's answers on a case page, turned into verdict records for the store.

The page asks about the study's case-level finding (the aneurysm study's ``Aneurysm``)
and every finding the model flagged (agree or disagree), and lets the reviewer name
findings the model missed. Each verdict carries the score, threshold and decision the
reviewer saw, so agreement can be analysed later against exactly what was on screen.

Everything here reads ``result.findings`` and the study registry, never a study's schema,
so every study's page records verdicts the same way.
"""

from __future__ import annotations

import uuid
from typing import Mapping, Sequence

from core.findings import Finding
from core.review.reviewed import ReviewedCase
from core.studies import get_study
from core.studies.study import StudyResult
from core.verdicts import VerdictIn

__all__ = [
    "case_label",
    "finding_key",
    "seen",
    "review_findings",
    "missable_findings",
    "build_verdicts",
]


def case_label(result: StudyResult) -> str | None:
    """The label of the study's case-level finding (``"Aneurysm"``), or ``None``."""
    return get_study(result.study).schema.case_label


def finding_key(finding: Finding) -> str:
    """How the form names a finding: its label, and its box when it has one, so that two
    boxes of one class stay two questions (and two idempotency keys)."""
    if finding.box is None:
        return finding.label
    return f"{finding.label} @ " + ",".join(f"{c:g}" for c in finding.box)


def _finding(result: StudyResult, key: str) -> Finding:
    for f in result.findings:
        if finding_key(f) == key:
            return f
    raise ValueError(f"{key!r} is not a finding of case {result.case_id!r}")


def seen(result: StudyResult, key: str) -> tuple[float, float, int]:
    """``(score, threshold, model decision)`` of a finding as the page shows it."""
    f = _finding(result, key)
    return float(f.score), float(f.threshold), int(f.decision)


def review_findings(result: StudyResult) -> list[str]:
    """What the reviewer is asked about: the case-level finding, then each flagged one."""
    label = case_label(result)
    case_level = [finding_key(f) for f in result.findings if f.label == label]
    return case_level + [
        finding_key(f) for f in result.findings if f.label != label and f.decision == 1
    ]


def missable_findings(result: StudyResult) -> list[str]:
    """What the reviewer may say the model missed: every other finding it did not flag."""
    label = case_label(result)
    return [finding_key(f) for f in result.findings if f.label != label and f.decision == 0]


def build_verdicts(
    reviewed: ReviewedCase,
    reviewer: str,
    answers: Mapping[str, bool],
    missed: Sequence[str] = (),
    comment: str = "",
    form_id: uuid.UUID | None = None,
) -> list[VerdictIn]:
    """Verdicts for the answered findings (``True`` = agree) and the missed ones.

    ``answers`` and ``missed`` name findings by :func:`finding_key`; a "missed" finding the
    model did flag is ignored. Keys are derived from ``form_id`` and the finding, so
    resubmitting the same form (a retry after a lost answer) can never store a verdict
    twice. Raises ``ValueError`` with a user-facing message for an unknown finding or an
    invalid field (empty reviewer, overlong comment, ...).
    """
    result, case = reviewed.result, reviewed.case
    form = form_id or uuid.uuid4()
    case_hash = case.content_hash()
    items = [(key, agree, None) for key, agree in answers.items()]
    items += [(key, False, 1) for key in missed if _finding(result, key).decision == 0]
    verdicts = []
    for key, agree, corrected in items:
        f = _finding(result, key)
        if not agree and corrected is None:
            corrected = 1 - f.decision
        verdicts.append(
            VerdictIn(
                case_hash=case_hash,
                case_id=case.case_id,
                bundle_name=result.bundle,
                bundle_hash=result.bundle_sha256,
                study=result.study,
                finding=f.label,
                probability=float(f.score),
                threshold=float(f.threshold),
                model_decision=int(f.decision),
                agree=agree,
                reviewer=reviewer,
                idempotency_key=str(uuid.uuid5(form, key)),
                corrected_label=corrected,
                comment=comment,
                box=f.box,
            )
        )
    return verdicts
