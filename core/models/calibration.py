"""Threshold rules: pure functions from training scores (and labels) to thresholds.

The original pipeline's rules are the defaults:

* stage 1: the **median** of the training patient scores (``percentile`` with q=50);
* locations: the **90th percentile** of the training predictions, per location column.

Alternatives, which need labels:

* ``youden``: the ROC point maximising J = TPR - FPR (``sklearn.metrics.roc_curve``);
* ``sensitivity``: the *highest* threshold that still reaches a target sensitivity, i.e.
  the operating point with the fewest false positives at that sensitivity.

A location with no positives (or no negatives) in training has no ROC curve; it falls back
to the percentile rule and the record says so. Decisions are ``p >= threshold`` (see
:mod:`core.models.thresholds`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

import numpy as np
from sklearn.metrics import roc_curve

from core.models.thresholds import Thresholds
from core.schema import LOCATIONS

__all__ = ["Rule", "RULES", "RuleRecord", "fit_threshold", "location_thresholds", "calibrate"]

Rule = Literal["median", "percentile", "youden", "sensitivity"]
RULES: tuple[str, ...] = ("median", "percentile", "youden", "sensitivity")


@dataclass(frozen=True)
class RuleRecord:
    """One threshold and exactly how it was obtained."""

    threshold: float
    rule: str  # the rule actually applied (after any fallback)
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""  # e.g. why a fallback happened

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "rule": self.rule, "params": self.params,
                "note": self.note}  # fmt: skip


def _percentile(scores: np.ndarray, q: float, note: str = "") -> RuleRecord:
    return RuleRecord(float(np.percentile(scores, q)), "percentile", {"q": q}, note)


def fit_threshold(
    scores: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    rule: Rule = "percentile",
    q: float = 90.0,
    target: float = 0.9,
) -> RuleRecord:
    """One threshold from one score column.

    ``q`` is the percentile (``percentile``) and the fallback percentile (ROC rules);
    ``target`` is the sensitivity for ``sensitivity``. ``median`` ignores ``q``.
    """
    scores = np.asarray(scores, dtype=float).ravel()
    if scores.size == 0 or not np.isfinite(scores).all():
        raise ValueError("need at least one score, all finite")
    if rule == "median":
        return RuleRecord(float(np.median(scores)), "median", {})
    if rule == "percentile":
        return _percentile(scores, q)
    if rule not in RULES:
        raise ValueError(f"unknown threshold rule {rule!r}; use one of {RULES}")
    if labels is None:
        return _percentile(scores, q, f"{rule} needs labels; fell back to percentile q={q}")
    y = np.asarray(labels).ravel().astype(int)
    if y.shape != scores.shape:
        raise ValueError(f"labels {y.shape} and scores {scores.shape} differ in length")
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        which = "positives" if n_pos == 0 else "negatives"
        return _percentile(scores, q, f"no {which} in training; fell back to percentile q={q}")
    fpr, tpr, thr = roc_curve(y, scores, drop_intermediate=False)
    finite = np.isfinite(thr)  # roc_curve's first threshold is +inf (nobody positive)
    fpr, tpr, thr = fpr[finite], tpr[finite], thr[finite]
    if rule == "youden":
        i = int(np.argmax(tpr - fpr))
        return RuleRecord(float(thr[i]), "youden", {"tpr": float(tpr[i]), "fpr": float(fpr[i])})
    # thresholds are decreasing and tpr increasing: the first index reaching the target is
    # the highest threshold that does.
    i = int(np.argmax(tpr >= target))
    params = {"target": target, "tpr": float(tpr[i]), "fpr": float(fpr[i])}
    return RuleRecord(float(thr[i]), "sensitivity", params)


def location_thresholds(
    predictions: Mapping[str, np.ndarray],
    labels: Mapping[str, np.ndarray] | None = None,
    *,
    rule: Rule = "percentile",
    q: float = 90.0,
    target: float = 0.9,
) -> dict[str, RuleRecord]:
    """One :class:`RuleRecord` per location column (all 21 must be present)."""
    missing = [c for c in LOCATIONS if c not in predictions]
    if missing:
        raise ValueError(f"predictions lack location columns {missing}")
    return {
        c: fit_threshold(
            predictions[c], None if labels is None else labels[c], rule=rule, q=q, target=target
        )
        for c in LOCATIONS
    }


def calibrate(
    patient_scores: np.ndarray,
    location_predictions: Mapping[str, np.ndarray],
    *,
    patient_labels: np.ndarray | None = None,
    location_labels: Mapping[str, np.ndarray] | None = None,
    stage1_rule: Rule = "median",
    location_rule: Rule = "percentile",
    q: float = 90.0,
    stage1_q: float = 50.0,
    target: float = 0.9,
    author: str = "training",
) -> Thresholds:
    """The full threshold set, with every rule record kept in ``Thresholds.params``.

    Defaults reproduce the original pipeline. ``location_predictions`` are the patient-level
    21-column probabilities (after L/R regeneration and A/B combining). ``q`` is the location
    percentile, ``stage1_q`` the stage-1 percentile (and its fallback for ROC rules).
    """
    s1 = fit_threshold(patient_scores, patient_labels, rule=stage1_rule, q=stage1_q, target=target)
    locs = location_thresholds(
        location_predictions, location_labels, rule=location_rule, q=q, target=target
    )
    fallbacks = sorted(c for c, r in locs.items() if r.rule != location_rule)
    loc_desc = f"{location_rule}(q={q})" if location_rule == "percentile" else location_rule
    if location_rule == "sensitivity":
        loc_desc = f"sensitivity(target={target})"
    return Thresholds(
        stage1=s1.threshold,
        locations={c: r.threshold for c, r in locs.items()},
        rule=f"stage1={s1.rule}; locations={loc_desc}",
        params={
            "stage1": s1.to_dict(),
            "locations": {c: r.to_dict() for c, r in locs.items()},
            "requested": {"stage1_rule": stage1_rule, "location_rule": location_rule,
                          "q": q, "stage1_q": stage1_q, "target": target},  # fmt: skip
            "fallbacks": fallbacks,
        },
        author=author,
    )
