"""A case result as plain tables: the 21 locations, the views, the timings.

The page, the figures, the CSV export and the HTML report all read these frames, so the
numbers a reader sees on screen are the numbers they download.
"""

from __future__ import annotations

import pandas as pd

from core.findings import Finding
from core.models.result import CaseResult
from core.review.figures import location_label
from core.review.palette import Status
from core.schema import LOCATIONS, VIEWS, split_location

__all__ = ["location_status", "location_table", "view_table", "timing_table"]


def location_status(decision: Finding, stage1_positive: bool) -> Status:
    """Which of the four display states a location decision is in."""
    if not decision.sources:
        return "unseen"
    if not stage1_positive:
        return "gated"
    return "flagged" if decision.decision else "clear"


def location_table(result: CaseResult) -> pd.DataFrame:
    """One row per location in ``LOCATIONS`` order (L/R pairs adjacent)."""
    rows = []
    for col in LOCATIONS:
        d = result.locations[col]
        side, base = split_location(col)
        rows.append(
            {
                "location": col,
                "label": location_label(col),
                "side": side or "midline",
                "base": base,
                "probability": d.score,
                "threshold": d.threshold,
                "decision": d.decision,
                "status": location_status(d, result.gate.positive),
                "views": ", ".join(d.sources),
                "reason": d.reason,
            }
        )
    return pd.DataFrame(rows)


def view_table(result: CaseResult) -> pd.DataFrame:
    """One row per view: stage-1 probability and the view's stage-2 probabilities.

    Missing views are rows too (empty numbers), so the table always has eight rows.
    """
    rows = []
    for v in VIEWS:
        r = result.views.get(v)
        row: dict[str, object] = {"view": v, "present": r is not None}
        row["stage1_probability"] = None if r is None else r.stage1_probability
        if r is not None:
            row |= {f"p_{b}": p for b, p in r.stage2_probabilities.items()}
            row["image_type"] = r.record.image_type
        rows.append(row)
    return pd.DataFrame(rows)


def timing_table(result: CaseResult, cam_ms: float = 0.0) -> pd.DataFrame:
    """Milliseconds per step on the result's device.

    ``cam_ms`` adds heatmaps computed after the run (another target or method).
    """
    t = result.timings
    stage1 = "stage 1 (with CAM backward)" if t.fused_stage1_cam else "stage 1"
    steps = [
        ("preprocessing", t.preprocess_ms),
        (stage1, t.stage1_ms),
        ("stage 2", t.stage2_ms),
        ("CAM mapping", t.cam_ms),
        ("extra heatmaps", cam_ms),
    ]
    frame = pd.DataFrame(steps, columns=["step", "ms"])
    frame.loc[len(frame)] = ["total", float(frame["ms"].sum())]
    frame["device"] = t.device
    return frame
