"""Threshold-free curves of a scored cohort: PR per class, FROC, and the mAP interval.

All three rank every kept-or-not detection, so they depend on the WBF settings and the
rule but not on the thresholds: the page computes them once per :class:`ScoredCohort`
and a threshold change only moves the markers.

* **PR** per class: precision and recall after each ranked detection (the curve whose
  envelope's area is the class's AP).
* **FROC** (free-response ROC, what radiology reader studies report): lesion sensitivity
  against false positives per image, over the 14 finding classes pooled ("No finding" is
  a film label, not a lesion). Each detection keeps the TP/FP status of its own class's
  matching; pooled detections are ranked by score. :data:`FROC_RATES` are the usual
  operating points (0.125 to 8 FP per image); the FROC score is the mean sensitivity at
  them.
* **Interval** of mAP@0.4: percentile bootstrap over films, reusing the report's
  resampler (:func:`core.studies.chest.metric_report.boot_map`: detections and truth
  boxes weighted by their film's multiplicity, no rematching).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.metrics.bootstrap import bootstrap_intervals
from core.studies.chest.classes import NO_FINDING_ID
from core.studies.chest.cohort.scoring import ScoredCohort
from core.studies.chest.metric import ClassMatch
from core.studies.chest.metric_report import boot_map

__all__ = ["FROC_RATES", "froc_curve", "froc_summary", "map_interval", "pr_curve"]

#: False positives per image at which the FROC score reads sensitivity.
FROC_RATES: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def pr_curve(m: ClassMatch) -> pd.DataFrame:
    """``score, recall, precision`` after each ranked detection of one class (empty
    without detections; recall undefined without truth, so NaN)."""
    if not len(m.scores):
        return pd.DataFrame(columns=["score", "recall", "precision"], dtype=float)
    tps = np.cumsum(m.tp)
    seen = np.arange(1, len(tps) + 1)
    recall = tps / m.n_truth if m.n_truth else np.full(len(tps), np.nan)
    return pd.DataFrame({"score": m.scores, "recall": recall, "precision": tps / seen})


def froc_curve(scored: ScoredCohort) -> pd.DataFrame:
    """``score, fp_per_image, sensitivity`` of the pooled finding detections, ranked, with
    a ``(inf, 0, 0)`` start (see the module docstring)."""
    found = [m for c, m in scored.matches.items() if c != NO_FINDING_ID]
    scores = np.concatenate([m.scores for m in found] or [np.zeros(0)])
    tp = np.concatenate([m.tp for m in found] or [np.zeros(0, bool)]).astype(bool)
    n_truth = sum(m.n_truth for m in found)
    order = np.argsort(-scores, kind="stable")
    scores, tp = scores[order], tp[order]
    n_img = max(scored.n_images, 1)
    sens = np.cumsum(tp) / n_truth if n_truth else np.full(len(tp), np.nan)
    return pd.DataFrame({"score": np.r_[np.inf, scores],
                         "fp_per_image": np.r_[0.0, np.cumsum(~tp) / n_img],
                         "sensitivity": np.r_[0.0, sens]})  # fmt: skip


def froc_summary(curve: pd.DataFrame, rates: tuple[float, ...] = FROC_RATES) -> dict[str, object]:
    """Sensitivity at each rate (the best reached at or below it) and their mean (the
    FROC score); a rate the cohort never reaches keeps the curve's last sensitivity."""
    fp, sens = curve["fp_per_image"].to_numpy(float), curve["sensitivity"].to_numpy(float)
    at = {}
    for r in rates:
        reach = sens[fp <= r]
        at[r] = float(np.nanmax(reach)) if len(reach) and not np.all(np.isnan(reach)) else None
    defined = [v for v in at.values() if v is not None]
    return {"sensitivity_at": at, "froc_score": float(np.mean(defined)) if defined else None}


def map_interval(scored: ScoredCohort, n_boot: int = 200, seed: int = 0) -> dict[str, object]:
    """95 % percentile bootstrap interval (films resampled) of the every-box mAP@0.4 and
    of each class's AP; JSON-ready (``map`` -> ``[low, high]``, ``per_class``)."""
    found = bootstrap_intervals(
        lambda counts: boot_map(scored.matches, counts), scored.n_images, n_boot, seed
    )
    return {"map": found["map"].to_list(), "n_boot": n_boot, "seed": seed, "unit": "film",
            "per_class": {k: v.to_list() for k, v in found.items() if k != "map"}}  # fmt: skip
