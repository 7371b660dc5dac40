"""The findings table of one film: class, score, threshold, decision and box, with the
box's size in mm when the film says its pixel spacing (rows x columns)."""

from __future__ import annotations

import pandas as pd

from core.findings import Finding
from core.review.verdicts import finding_key

__all__ = ["FINDING_COLUMNS", "findings_table", "box_mm"]

FINDING_COLUMNS = (
    "finding", "class", "score", "threshold", "decision", "x0", "y0", "x1", "y1",
    "width_mm", "height_mm",
)  # fmt: skip


def box_mm(
    box: tuple[float, float, float, float], spacing: tuple[float, float] | None
) -> tuple[float | None, float | None]:
    """``(width, height)`` of a box in mm; ``(None, None)`` without a pixel spacing.
    ``spacing`` is DICOM's ``(row, column)``: rows are the height, columns the width."""
    if spacing is None:
        return None, None
    x0, y0, x1, y1 = box
    return round((x1 - x0) * spacing[1], 1), round((y1 - y0) * spacing[0], 1)


def findings_table(
    findings: tuple[Finding, ...], spacing: tuple[float, float] | None
) -> pd.DataFrame:
    """One row per finding (boxes first, "No finding" last, with empty box cells)."""
    rows = []
    for f in findings:
        box = f.box or (None,) * 4
        w, h = box_mm(f.box, spacing) if f.box else (None, None)
        rows.append((finding_key(f), f.label, round(f.score, 4), round(f.threshold, 4),
                     "positive" if f.decision else "below threshold", *box, w, h))  # fmt: skip
    return pd.DataFrame(rows, columns=list(FINDING_COLUMNS))
