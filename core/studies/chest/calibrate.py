"""Per-class score thresholds for showing chest boxes and deciding on them.

mAP is threshold-free: it scores the whole ranking. A reader of the UI, or a decision,
needs a cut: which boxes to draw. Each class gets its own, because the detector's scores
are not comparable across classes (a 0.3 "Cardiomegaly" is surer than a 0.3 "Nodule").
The threshold of a class is the score that maximises its F1 at the competition's IoU
(> 0.4), matched exactly as the metric matches (:func:`~core.studies.chest.metric.match_all`),
so "a hit" means the same thing in the report and on screen. Boxes with
``score >= threshold`` are shown; among equally good cuts the highest threshold wins
(fewer boxes to read). "No finding" (``0 0 1 1``) is calibrated like any class.

Fit on a VALIDATION split, never on the held-out films a report is about. A class with
nothing to learn from gets :data:`FALLBACK_THRESHOLD` (0.5: a box the detector calls more
likely than not): no truth on the split (``no_support``), no prediction of it
(``no_predictions``), or no prediction that hits (``no_hits``). The table says which.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.studies.chest.classes import ALL_LABELS
from core.studies.chest.metric import COMPETITION_IOU, ClassMatch, match_all

__all__ = [
    "FALLBACK_THRESHOLD",
    "TABLE_COLUMNS",
    "Calibration",
    "CalibrationError",
    "calibrate",
    "calibrate_thresholds",
]

log = logging.getLogger(__name__)

FALLBACK_THRESHOLD = 0.5
TABLE_COLUMNS: tuple[str, ...] = (
    "class", "class_id", "threshold", "precision", "recall", "f1", "support", "n_predictions",
    "source",
)  # fmt: skip


class CalibrationError(ValueError):
    """Inputs thresholds cannot be calibrated on (no images, a bad fallback)."""


@dataclass(frozen=True)
class Calibration:
    """``thresholds`` by class name (all 15 labels) and the :data:`TABLE_COLUMNS` table of
    precision/recall/F1 at each threshold on the calibration split."""

    thresholds: dict[str, float]
    table: pd.DataFrame


def _best_cut(m: ClassMatch) -> tuple[float | None, str]:
    """The F1-best threshold of a class, or ``None`` and why there is none."""
    if not m.n_truth:
        return None, "no_support"
    if not len(m.scores):
        return None, "no_predictions"
    tps = np.cumsum(m.tp)
    if not tps[-1]:
        return None, "no_hits"
    cut = np.flatnonzero(np.r_[m.scores[1:] != m.scores[:-1], True])  # last of each tie
    k = int(cut[np.argmax(2 * tps[cut] / (cut + 1 + m.n_truth))])  # first max: highest score
    return float(m.scores[k]), "f1_best"


def _row(class_id: int, m: ClassMatch, threshold: float, source: str) -> dict[str, object]:
    """Precision, recall and F1 of ``score >= threshold`` (NaN where undefined)."""
    k = int((m.scores >= threshold).sum())  # scores are ranked: the top k pass
    tp = int(m.tp[:k].sum())
    nan = math.nan
    return {
        "class": ALL_LABELS[class_id], "class_id": class_id, "threshold": threshold,
        "precision": tp / k if k else nan,
        "recall": tp / m.n_truth if m.n_truth else nan,
        "f1": 2 * tp / (k + m.n_truth) if k + m.n_truth else nan,
        "support": m.n_truth, "n_predictions": len(m.scores), "source": source,
    }  # fmt: skip


def calibrate(
    pred: pd.DataFrame,
    truth: pd.DataFrame,
    image_ids: Sequence[str],
    *,
    iou_thr: float = COMPETITION_IOU,
    fallback: float = FALLBACK_THRESHOLD,
) -> Calibration:
    """Thresholds and their table over ``image_ids`` (a validation split). ``pred`` has the
    :data:`~core.studies.chest.submission.PREDICTION_COLUMNS`, ``truth`` the same without
    ``score`` (fused readers or :func:`~core.studies.chest.metric.lesion_truth`)."""
    ids = [str(i) for i in image_ids]
    if not ids:
        raise CalibrationError("no images to calibrate on")
    if isinstance(fallback, bool) or not (
        isinstance(fallback, (int, float)) and 0.0 <= fallback <= 1.0
    ):
        raise CalibrationError(f"fallback {fallback!r} is not a score in [0, 1]")
    matches = match_all(pred, truth, ids, iou_thr)
    rows = []
    for class_id, m in matches.items():
        threshold, source = _best_cut(m)
        rows.append(_row(class_id, m, float(fallback) if threshold is None else threshold,
                         source))  # fmt: skip
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    fell_back = table.loc[table["source"] != "f1_best", "class"].tolist()
    if fell_back:
        log.info("calibration: %d classes use the fallback %.2f: %s", len(fell_back), fallback,
                 ", ".join(fell_back))  # fmt: skip
    thresholds = {str(c): float(t) for c, t in zip(table["class"], table["threshold"])}
    return Calibration(thresholds, table)


def calibrate_thresholds(
    pred: pd.DataFrame,
    truth: pd.DataFrame,
    image_ids: Sequence[str],
    *,
    iou_thr: float = COMPETITION_IOU,
    fallback: float = FALLBACK_THRESHOLD,
) -> dict[str, float]:
    """``{class name: threshold}`` for the 14 classes and "No finding" (:func:`calibrate`'s
    thresholds; use :func:`calibrate` for the table too)."""
    return calibrate(pred, truth, image_ids, iou_thr=iou_thr, fallback=fallback).thresholds
