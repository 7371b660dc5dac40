"""A reviewer's answers on the case page, turned into verdict records for the store.

The page asks about the patient-level finding and every flagged location (agree or
disagree), and lets the reviewer name locations the model missed. Each verdict carries the
probability, threshold and decision the reviewer saw, so agreement can be analysed later
against exactly what was on screen.
"""

from __future__ import annotations

import uuid
from typing import Mapping, Sequence

from core.case import Case
from core.models.result import CaseResult
from core.verdicts import VerdictIn

__all__ = ["ANEURYSM", "seen", "review_findings", "build_verdicts"]

ANEURYSM = "Aneurysm"


def seen(result: CaseResult, finding: str) -> tuple[float, float, int]:
    """``(probability, threshold, model decision)`` of a finding as the page shows it."""
    if finding == ANEURYSM:
        g = result.gate
        return float(g.patient_score or 0.0), float(g.threshold), int(g.positive)
    d = result.locations[finding]
    return float(d.probability), float(d.threshold), int(d.decision)


def review_findings(result: CaseResult) -> list[str]:
    """What the reviewer is asked about: the patient finding, then each flagged location."""
    return [ANEURYSM, *(c for c, d in result.locations.items() if d.decision)]


def build_verdicts(
    result: CaseResult,
    case: Case,
    reviewer: str,
    answers: Mapping[str, bool],
    missed: Sequence[str] = (),
    comment: str = "",
    form_id: uuid.UUID | None = None,
) -> list[VerdictIn]:
    """Verdicts for the answered findings (``True`` = agree) and the missed locations.

    Keys are derived from ``form_id`` and the finding, so resubmitting the same form (a
    retry after a lost answer) can never store a verdict twice. Raises ``ValueError`` with
    a user-facing message for an invalid field (empty reviewer, overlong comment, ...).
    """
    form = form_id or uuid.uuid4()
    verdicts = []
    items = [(f, agree, None) for f, agree in answers.items()]
    items += [(col, False, 1) for col in missed if seen(result, col)[2] == 0]
    for finding, agree, corrected in items:
        probability, threshold, decision = seen(result, finding)
        if not agree and corrected is None:
            corrected = 1 - decision
        verdicts.append(
            VerdictIn(
                case_hash=case.content_hash(),
                case_id=case.case_id,
                bundle_name=result.bundle,
                bundle_hash=result.bundle_sha256,
                finding=finding,
                probability=probability,
                threshold=threshold,
                model_decision=decision,
                agree=agree,
                reviewer=reviewer,
                idempotency_key=str(uuid.uuid5(form, finding)),
                corrected_label=corrected,
                comment=comment,
            )
        )
    return verdicts
