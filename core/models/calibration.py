"""Column rules: pure functions from training scores (and labels) to thresholds.

A *column rule* turns one score column into one threshold; a *threshold rule* (the named
entries users pick, :mod:`core.models.threshold_rules`) is a column rule for the stage-1
gate, one for the labels, and their parameters. The column rules are:

* ``median``: the median of the scores;
* ``percentile``: the q-th percentile of the scores;
* ``youden``: the ROC point maximising J = TPR - FPR (``sklearn.metrics.roc_curve``);
* ``sensitivity``: the *highest* threshold that still reaches a target sensitivity, i.e.
  the operating point with the fewest false positives at that sensitivity.

The ROC rules need labels. A column with no positives (or no negatives) in training has no
ROC curve; it falls back to the percentile rule and the record says so. Decisions are
``p >= threshold`` (see :func:`core.findings.meets_threshold`).

The original pipeline's rule (stage 1 at the median of the training patient scores, every
location at their 90th percentile) is written once, in :data:`ORIGINAL_STAGE1`,
:data:`ORIGINAL_LOCATIONS` and :data:`ORIGINAL_Q`: :func:`calibrate` defaults to it and the
``original`` entry of the rule table is made of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.metrics import roc_curve

from core.models.thresholds import Thresholds
from core.schema import LOCATIONS

__all__ = [
    "ColumnRule",
    "COLUMN_RULES",
    "ROC_RULES",
    "ORIGINAL_STAGE1",
    "ORIGINAL_LOCATIONS",
    "ORIGINAL_Q",
    "STAGE1_Q",
    "DEFAULT_TARGET",
    "RuleRecord",
    "check_target",
    "fit_threshold",
    "location_thresholds",
    "calibrate",
]

ColumnRule = Literal["median", "percentile", "youden", "sensitivity"]
COLUMN_RULES: tuple[str, ...] = ("median", "percentile", "youden", "sensitivity")
#: Column rules that read the labels (the others only rank the scores).
ROC_RULES: frozenset[str] = frozenset({"youden", "sensitivity"})

#: The original pipeline's rule, written here once.
ORIGINAL_STAGE1: ColumnRule = "median"
ORIGINAL_LOCATIONS: ColumnRule = "percentile"
ORIGINAL_Q = 90.0
#: The stage-1 percentile for ``percentile`` and the ROC rules' fallback (the median).
STAGE1_Q = 50.0
#: The sensitivity the ``sensitivity`` rule aims for unless told otherwise.
DEFAULT_TARGET = 0.9


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


def check_target(target: float) -> float:
    """``target`` if it is a sensitivity in (0, 1]; a ``ValueError`` otherwise, since an
    unreachable target would silently pick the highest threshold."""
    try:
        value = float(target)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 < value <= 1.0:  # NaN fails too
        raise ValueError(f"target sensitivity must be in (0, 1], got {target!r}")
    return value


def _percentile(scores: np.ndarray, q: float, note: str = "") -> RuleRecord:
    return RuleRecord(float(np.percentile(scores, q)), "percentile", {"q": q}, note)


def fit_threshold(
    scores: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    rule: ColumnRule = ORIGINAL_LOCATIONS,
    q: float = ORIGINAL_Q,
    target: float = DEFAULT_TARGET,
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
    if rule not in ROC_RULES:
        raise ValueError(f"unknown column rule {rule!r}; use one of {COLUMN_RULES}")
    if rule == "sensitivity":
        check_target(target)
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
    rule: ColumnRule = ORIGINAL_LOCATIONS,
    q: float = ORIGINAL_Q,
    target: float = DEFAULT_TARGET,
    columns: Sequence[str] = LOCATIONS,
) -> dict[str, RuleRecord]:
    """One :class:`RuleRecord` per label column, in ``columns`` order (all must be present).

    ``columns`` are the bundle's labels (its study schema); the default is the aneurysm
    study's 21 locations.
    """
    missing = [c for c in columns if c not in predictions]
    if missing:
        raise ValueError(f"predictions lack location columns {missing}")
    return {
        c: fit_threshold(
            predictions[c], None if labels is None else labels[c], rule=rule, q=q, target=target
        )
        for c in columns
    }


def _describe(rule: str, q: float, target: float) -> str:
    """The short form of a column rule in :attr:`Thresholds.rule`."""
    if rule == "percentile":
        return f"percentile(q={q})"
    if rule == "sensitivity":
        return f"sensitivity(target={target})"
    return rule


def calibrate(
    patient_scores: np.ndarray,
    location_predictions: Mapping[str, np.ndarray],
    *,
    patient_labels: np.ndarray | None = None,
    location_labels: Mapping[str, np.ndarray] | None = None,
    stage1_rule: ColumnRule = ORIGINAL_STAGE1,
    location_rule: ColumnRule = ORIGINAL_LOCATIONS,
    q: float = ORIGINAL_Q,
    stage1_q: float = STAGE1_Q,
    target: float = DEFAULT_TARGET,
    author: str = "training",
    columns: Sequence[str] = LOCATIONS,
) -> Thresholds:
    """The full threshold set, with every rule record kept in ``Thresholds.params``.

    Defaults reproduce the original pipeline. ``location_predictions`` are the patient-level
    label probabilities (for the aneurysm study after L/R regeneration and A/B combining),
    one per ``columns`` entry. ``q`` is the label percentile, ``stage1_q`` the stage-1
    percentile (and its fallback for ROC rules).
    """
    s1 = fit_threshold(patient_scores, patient_labels, rule=stage1_rule, q=stage1_q, target=target)
    locs = location_thresholds(
        location_predictions, location_labels, rule=location_rule, q=q, target=target,
        columns=columns,
    )  # fmt: skip
    fallbacks = sorted(c for c, r in locs.items() if r.rule != location_rule)
    return Thresholds(
        stage1=s1.threshold,
        labels={c: r.threshold for c, r in locs.items()},
        rule=f"stage1={s1.rule}; locations={_describe(location_rule, q, target)}",
        params={
            "stage1": s1.to_dict(),
            "locations": {c: r.to_dict() for c, r in locs.items()},
            "requested": {"stage1_rule": stage1_rule, "location_rule": location_rule,
                          "q": q, "stage1_q": stage1_q, "target": target},  # fmt: skip
            "fallbacks": fallbacks,
        },
        author=author,
    )
