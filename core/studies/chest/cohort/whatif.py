"""Per-class score thresholds applied to a scored cohort, with no model and no rematching.

A threshold keeps each class's top ``k`` detections (``k`` = how many score at least the
threshold, :func:`kept_counts`); because the matching is greedy by score, every kept box
keeps its TP/FP status (:mod:`.scoring`), so precision, recall, F1, AP of the kept boxes,
the confusion matrix and the FROC operating point are cumulative counts. Two mAP figures
are reported, on purpose:

* ``map_all`` - the competition's figure: every box, whatever its score (thresholds never
  change it; a low-scored box can only add recall);
* ``map_kept`` - the boxes a deployment that drops sub-threshold boxes would show.

Decisions follow the common rule: a box is kept when ``score >= threshold``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from core.models.thresholds import Thresholds
from core.studies.chest.classes import ALL_LABELS, NO_FINDING_ID
from core.studies.chest.cohort.confusion import confusion_matrix
from core.studies.chest.cohort.scoring import ScoredCohort
from core.studies.chest.metric import ClassMatch, average_precision
from core.studies.chest.metric_report import ap_by_size

__all__ = ["ChestWhatIf", "apply_thresholds", "class_thresholds", "hand_tuned", "kept_counts",
           "truncated"]  # fmt: skip


def class_thresholds(thresholds: Thresholds | Mapping[str, float]) -> np.ndarray:
    """One threshold per class id 0-14 from a set keyed by class name (a class the set
    does not name keeps every box: 0)."""
    labels = thresholds.labels if isinstance(thresholds, Thresholds) else thresholds
    return np.array([float(labels.get(name, 0.0)) for name in ALL_LABELS])


def kept_counts(scored: ScoredCohort, thr: np.ndarray) -> np.ndarray:
    """Per class, how many ranked detections score at least its threshold."""
    return np.array([int(np.searchsorted(-m.scores, -thr[c], side="right"))
                     for c, m in scored.matches.items()])  # fmt: skip


def truncated(scored: ScoredCohort, k: np.ndarray) -> dict[int, ClassMatch]:
    """Each class's match restricted to its top ``k[c]`` detections (truth unchanged)."""
    return {c: replace(m, scores=m.scores[: k[c]], tp=m.tp[: k[c]], det_image=m.det_image[: k[c]],
                       det_boxes=m.det_boxes[: k[c]], matched=m.matched[: k[c]])
            for c, m in scored.matches.items()}  # fmt: skip


@dataclass(frozen=True)
class ChestWhatIf:
    """Everything that depends on the thresholds (see the module docstring)."""

    thresholds: np.ndarray  # per class id 0-14
    kept: np.ndarray  # top-k per class
    per_class: pd.DataFrame  # indexed by class name
    map_all: float | None
    map_kept: float | None
    confusion: pd.DataFrame
    froc_point: tuple[float, float | None]  # (FP per image, lesion sensitivity)
    by_size: dict[str, Any]
    n_images: int


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None and not np.isnan(v)]
    return float(np.mean(kept)) if kept else None


def _per_class(scored: ScoredCohort, thr: np.ndarray, k: np.ndarray) -> pd.DataFrame:
    rows = []
    for c, m in scored.matches.items():
        tp = int(m.tp[: k[c]].sum())
        ap_all = float(average_precision(m.tp, m.n_truth)[0]) if m.n_truth else None
        ap_kept = float(average_precision(m.tp[: k[c]], m.n_truth)[0]) if m.n_truth else None
        rows.append({"class": ALL_LABELS[c], "support": m.n_truth, "ap": ap_all,
                     "ap_kept": ap_kept, "threshold": float(thr[c]),
                     "predictions": len(m.scores), "kept": int(k[c]), "tp": tp,
                     "fp": int(k[c]) - tp, "fn": m.n_truth - tp,
                     "precision": tp / k[c] if k[c] else None,
                     "recall": tp / m.n_truth if m.n_truth else None,
                     "f1": 2 * tp / (k[c] + m.n_truth) if k[c] + m.n_truth else None})  # fmt: skip
    return pd.DataFrame(rows).set_index("class")


def apply_thresholds(scored: ScoredCohort, thresholds: Thresholds | Mapping[str, float] | np.ndarray,
                     *, by_size: bool = True) -> ChestWhatIf:  # fmt: skip
    """The metrics of ``scored`` at per-class ``thresholds`` (a set, ``{class name: score}``
    or 15 numbers by class id). ``by_size=False`` skips AP by box size (the slowest part)."""
    thr = thresholds if isinstance(thresholds, np.ndarray) else class_thresholds(thresholds)
    k = kept_counts(scored, thr)
    table = _per_class(scored, thr, k)
    findings = [c for c in scored.matches if c != NO_FINDING_ID]
    n_truth = sum(scored.matches[c].n_truth for c in findings)
    tp = sum(int(scored.matches[c].tp[: k[c]].sum()) for c in findings)
    fp = sum(int(k[c]) for c in findings) - tp
    point = (fp / max(scored.n_images, 1), tp / n_truth if n_truth else None)
    sizes = ap_by_size(truncated(scored, k), scored.films.area) if by_size else {}
    return ChestWhatIf(thr, k, table, _mean(list(table["ap"])), _mean(list(table["ap_kept"])),
                       confusion_matrix(scored, k), point, sizes, scored.n_images)  # fmt: skip


def hand_tuned(base: Thresholds, values: Mapping[str, float], *, author: str) -> Thresholds:
    """``base`` when ``values`` equal it, else a new set remembering where it started
    (which classes moved), as the aneurysm page's hand-tuned sets do."""
    merged = {name: float(values.get(name, base.labels.get(name, 0.0))) for name in ALL_LABELS}
    if merged == {n: float(base.labels.get(n, 0.0)) for n in ALL_LABELS}:
        return base
    changed = sorted(n for n in ALL_LABELS if merged[n] != base.labels.get(n))
    params = {"started_from": base.rule, "started_from_author": base.author,
              "classes_changed": changed}  # fmt: skip
    return Thresholds(base.stage1, merged, f"hand-tuned from: {base.rule}", params, author)
