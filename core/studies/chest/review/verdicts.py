"""A reviewer's answers on the film page as verdict records: agree, disagree or relabel
each flagged box, and boxes the model missed, drawn by the reviewer.

Agree and disagree go through the common builder (:func:`core.review.verdicts.build_verdicts`,
keys ``uuid5(form, finding_key)``). The chest-only parts are built here, on the same
study-agnostic columns (``finding`` = class, ``box``):

* **relabel** = disagree with the box as predicted (corrected label 0) plus a verdict for
  the new class on the same box: model decision 0, corrected label 1, probability 0.0,
  threshold the new class's, a comment naming the relabel;
* **a drawn box** = model decision 0, corrected label 1, probability 0.0, threshold that
  class's.

Keys of these derive from the same form UUID, so a retried submission stores nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from core.review.reviewed import ReviewedCase
from core.review.verdicts import build_verdicts, finding_key
from core.verdicts import MAX_COMMENT_CHARS, VerdictIn

__all__ = [
    "ACTIONS",
    "BoxAnswer",
    "DrawnFinding",
    "build_chest_verdicts",
    "drawn_finding",
    "relabel_comment",
]

Action = Literal["agree", "disagree", "relabel"]
ACTIONS: tuple[Action, ...] = ("agree", "disagree", "relabel")
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class BoxAnswer:
    """The answer on one finding (named by :func:`finding_key`); ``new_label`` for relabel."""

    key: str
    action: Action
    new_label: str | None = None


@dataclass(frozen=True)
class DrawnFinding:
    """A finding the model missed: its class and the box the reviewer drew (original px)."""

    label: str
    box: Box


def relabel_comment(old: str, new: str, comment: str) -> str:
    """The comment of a relabel's new-class verdict: the relabel first, then the reviewer's."""
    head = f"relabelled from {old}"
    text = f"{head}; {comment}" if comment.strip() else head
    return text[:MAX_COMMENT_CHARS]


def _new(reviewed: ReviewedCase, reviewer: str, label: str, box: Box, key: uuid.UUID,
         comment: str) -> VerdictIn:  # fmt: skip
    result, case = reviewed.result, reviewed.case
    return VerdictIn(
        case_hash=case.content_hash(), case_id=case.case_id, bundle_name=result.bundle,
        bundle_hash=result.bundle_sha256, study=result.study, finding=label, probability=0.0,
        threshold=float(result.thresholds.labels[label]),  # type: ignore[attr-defined]
        model_decision=0, agree=False, reviewer=reviewer, idempotency_key=str(key),
        corrected_label=1, comment=comment, box=box,
    )  # fmt: skip


def build_chest_verdicts(
    reviewed: ReviewedCase,
    reviewer: str,
    answers: Sequence[BoxAnswer],
    drawn: Sequence[DrawnFinding] = (),
    comment: str = "",
    form_id: uuid.UUID | None = None,
) -> list[VerdictIn]:
    """Verdicts for ``answers`` and ``drawn`` boxes; ``ValueError`` (user-facing) for an
    unknown finding, a relabel without a new class or to the same class, or a bad field."""
    form = form_id or uuid.uuid4()
    by_key = {finding_key(f): f for f in reviewed.result.findings}
    plain: dict[str, bool] = {}
    extra: list[VerdictIn] = []
    for a in answers:
        if a.key not in by_key:
            raise ValueError(f"{a.key!r} is not a finding of this film")
        plain[a.key] = a.action == "agree"
        if a.action != "relabel":
            continue
        f = by_key[a.key]
        if f.box is None or not a.new_label or a.new_label == f.label:
            raise ValueError(f"{a.key}: choose another class to relabel this box as")
        note = relabel_comment(f.label, a.new_label, comment)
        key = uuid.uuid5(form, f"relabel {a.key} -> {a.new_label}")
        extra.append(_new(reviewed, reviewer, a.new_label, f.box, key, note))
    for d in drawn:
        key = uuid.uuid5(form, f"drawn {d.label} @ " + ",".join(f"{c:g}" for c in d.box))
        extra.append(_new(reviewed, reviewer, d.label, d.box, key, comment))
    return build_verdicts(reviewed, reviewer, plain, (), comment, form) + extra


def drawn_finding(
    label: str | None, coords: Sequence[float | None], size: tuple[int, int]
) -> DrawnFinding | None:
    """The drawn box of the form: None when nothing was entered; ``ValueError`` (user-facing)
    when it is half filled, outside the film or empty."""
    if label is None and all(c is None for c in coords):
        return None
    if label is None or any(c is None for c in coords):
        raise ValueError("a missed finding needs its class and all of x0, y0, x1, y1")
    x0, y0, x1, y1 = (float(c) for c in coords)  # type: ignore[arg-type]
    w, h = size
    if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
        raise ValueError(
            f"the drawn box must lie on the film (0..{w} x 0..{h}) with x0 < x1 and y0 < y1"
        )
    return DrawnFinding(label, (x0, y0, x1, y1))
