"""The reviewed boxes of one film as a COCO detection file, with the reviewer's verdicts.

Categories are the study's (:func:`core.studies.chest.coco.categories`, id = class id).
Each flagged model box becomes an annotation whose ``attributes`` say what the reviewer
did: ``accepted`` (agreed), ``relabelled`` (category is the new class, ``original_label``
the model's), ``rejected`` (kept with the model's class and ``rejected: true``, so a
trainer can drop it), or ``unreviewed``. Boxes the reviewer drew are ``added``. Verdicts
are matched to boxes by class and corners (to 0.01 px); a later verdict wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from core.findings import Finding
from core.studies.chest.classes import CLASS_IDS
from core.studies.chest.coco import categories

__all__ = ["VerdictLike", "review_status", "reviewed_coco"]

Box = tuple[float, float, float, float]


class VerdictLike(Protocol):
    """What is read of a verdict (:class:`core.verdicts.VerdictIn` or a stored one)."""

    finding: str
    box: Box | None
    agree: bool
    model_decision: int
    corrected_label: int | None
    reviewer: str


def _same(a: Box | None, b: Box | None) -> bool:
    return a is not None and b is not None and all(abs(x - y) < 0.01 for x, y in zip(a, b))


def review_status(finding: Finding, verdicts: Sequence[VerdictLike]) -> dict[str, Any]:
    """The attributes of one model box under ``verdicts`` (in time order). A relabel (a
    verdict for another class on this box) wins over the disagree that comes with it,
    unless the reviewer agreed with the box later."""
    own: tuple[int, VerdictLike] | None = None
    new: tuple[int, VerdictLike] | None = None
    for i, v in enumerate(verdicts):
        if not _same(v.box, finding.box):
            continue
        if v.finding == finding.label and v.model_decision == finding.decision:
            own = (i, v)
        elif v.finding != finding.label and v.corrected_label == 1:
            new = (i, v)
    if new is not None and (own is None or not own[1].agree or own[0] < new[0]):
        return {"verdict": "relabelled", "rejected": False, "reviewer": new[1].reviewer,
                "original_label": finding.label, "label": new[1].finding}  # fmt: skip
    if own is None:
        return {"verdict": "unreviewed", "rejected": False}
    agree = own[1].agree
    return {"verdict": "accepted" if agree else "rejected", "rejected": not agree,
            "reviewer": own[1].reviewer}  # fmt: skip


def _ann(n: int, label: str, box: Box, score: float | None, attrs: dict[str, Any]) -> dict:
    x0, y0, x1, y1 = box
    return {
        "id": n, "image_id": 1, "category_id": CLASS_IDS[label],
        "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0,
        "score": score, "attributes": attrs,
    }  # fmt: skip


def reviewed_coco(
    findings: Iterable[Finding],
    verdicts: Sequence[VerdictLike],
    file_name: str,
    size: tuple[int, int],
) -> dict[str, Any]:
    """A COCO dict of one film (``size = (width, height)``, original pixels): the flagged
    model boxes with their review status, then the boxes the reviewer added."""
    boxed = [f for f in findings if f.box is not None]
    anns: list[dict] = []
    for f in boxed:
        if f.decision != 1:
            continue
        attrs = review_status(f, verdicts)
        label = attrs.get("label", f.label)
        anns.append(_ann(len(anns) + 1, label, f.box, round(f.score, 6), attrs))  # type: ignore[arg-type]
    model_boxes = [f.box for f in boxed]
    seen: set[tuple] = set()
    for v in verdicts:
        drawn = v.model_decision == 0 and v.corrected_label == 1 and v.box is not None
        if not drawn or any(_same(v.box, b) for b in model_boxes) or (v.finding, v.box) in seen:
            continue
        seen.add((v.finding, v.box))
        attrs = {"verdict": "added", "rejected": False, "reviewer": v.reviewer}
        anns.append(_ann(len(anns) + 1, v.finding, v.box, None, attrs))  # type: ignore[arg-type]
    width, height = size
    return {
        "info": {
            "description": "Chest film reviewed in the app; original pixels",
            "category_ids": "class_id 0-13",
        },  # fmt: skip
        "images": [{"id": 1, "file_name": file_name, "width": int(width), "height": int(height)}],
        "annotations": anns,
        "categories": categories(),
    }
