"""Pointing game on a cohort: do the cached stage-1 CAM peaks land on the known aneurysms?

Only a synthetic cohort has the answer: its ``truth.json`` records each drawn aneurysm's
centre and radius in original-image pixels, per image. The peaks come from a table built
with CAM on (``has_peaks``). Scoring is :mod:`core.metrics.pointing`; this module only
lines the truth up with the table, per patient and view.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.cohort.table import has_peaks, peak_columns
from core.metrics.pointing import DEFAULT_MARGIN_FRAC, pointing_game, pointing_hits
from core.sacs import read_sacs, sac_array
from core.schema import VIEWS

__all__ = ["Targets", "load_targets", "view_hits", "hits_by_view"]

#: ``(Index, view) -> (k, 3)`` array of aneurysm ``(x, y, radius)`` in original pixels.
Targets = dict[tuple[int, str], np.ndarray]


def load_targets(cohort_dir: str | Path) -> Targets | None:
    """Aneurysm positions from ``truth.json``; ``None`` when the cohort has none (real data)."""
    sacs = read_sacs(cohort_dir)
    return None if sacs is None else {key: sac_array(s) for key, s in sacs.items()}


def _views(table: pd.DataFrame, targets: Targets) -> pd.DataFrame:
    """Every (patient, view) with a CAM peak, its image size and its targets (maybe none)."""
    if not has_peaks(table):
        raise ValueError("the prediction table has no CAM peaks; run the cohort with CAM on")
    rows = []
    for rec in table.to_dict("records"):
        for v in VIEWS:
            px, py, w, h = (rec[c] for c in peak_columns(v))
            if not np.isnan(px):
                tg = targets.get((int(rec["Index"]), v), np.zeros((0, 3)))
                rows.append(
                    {
                        "Index": int(rec["Index"]),
                        "case_id": rec["case_id"],
                        "view": v,
                        "peak_x": px,
                        "peak_y": py,
                        "width": w,
                        "height": h,
                        "aneurysms": len(tg),
                        "targets": tg,
                    }
                )
    return pd.DataFrame(rows, columns=_COLUMNS)


_COLUMNS = [
    "Index",
    "case_id",
    "view",
    "peak_x",
    "peak_y",
    "width",
    "height",
    "aneurysms",
    "targets",
]


def view_hits(
    table: pd.DataFrame, targets: Targets, margin_frac: float = DEFAULT_MARGIN_FRAC
) -> pd.DataFrame:
    """One row per (patient, view) that shows an aneurysm: its peak and whether it hit."""
    frame = _views(table, targets)
    frame = frame[frame["aneurysms"] > 0].reset_index(drop=True)
    margin = margin_frac * frame[["width", "height"]].to_numpy(float).max(axis=1, initial=0)
    peaks = frame[["peak_x", "peak_y"]].to_numpy(float)
    frame["hit"] = pointing_hits(peaks, list(frame["targets"]), margin)
    return frame.drop(columns="targets")


def hits_by_view(
    table: pd.DataFrame, targets: Targets, margin_frac: float = DEFAULT_MARGIN_FRAC
) -> pd.DataFrame:
    """Hit rate per view name and over all views (``core.metrics.pointing.pointing_game``)."""
    frame = _views(table, targets)
    rows = []
    for view in (*VIEWS, "all"):
        sub = frame if view == "all" else frame[frame["view"] == view]
        result = pointing_game(
            sub[["peak_x", "peak_y"]].to_numpy(float),
            list(sub["targets"]),
            sub[["width", "height"]].to_numpy(float),
            margin_frac,
        )
        rows.append({"view": view, **result.to_dict()})
    return pd.DataFrame(rows).drop(columns="rule").set_index("view")
