"""Binary-classification metrics as pure functions over arrays, thin over scikit-learn.

The confusion counts and F1 at a threshold are four sums, counted here with one
``np.bincount``: scikit-learn's versions spend ~3 ms a call validating their input, and a
cohort page's threshold change makes a hundred such calls (21 locations, several
operating points), which alone broke the what-if's 100-ms budget. The tests check both
against scikit-learn's.

Every function tolerates a degenerate class: AUROC is ``None`` (not 0.5, not an error)
when the data has no positives or no negatives, because rare K-Ium locations often do and
a cohort page must still render. The positive decision is ``score >= threshold``, the
same rule the bundle's thresholds are applied with.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import (
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

__all__ = [
    "has_both_classes",
    "auroc",
    "binarize",
    "confusion_counts",
    "f1",
    "operating_point",
    "roc_table",
    "pr_table",
]


def _labels(y_true: ArrayLike) -> np.ndarray:
    y = np.asarray(y_true).astype(int).ravel()
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0/1")
    return y


def has_both_classes(y_true: ArrayLike) -> bool:
    """True when AUROC is defined: at least one positive and one negative."""
    y = _labels(y_true)
    return bool(y.size) and 0 < int(y.sum()) < y.size


def auroc(y_true: ArrayLike, y_score: ArrayLike) -> float | None:
    """ROC AUC, or ``None`` when only one class is present."""
    if not has_both_classes(y_true):
        return None
    return float(roc_auc_score(_labels(y_true), np.asarray(y_score, dtype=float).ravel()))


def binarize(y_score: ArrayLike, threshold: float | ArrayLike) -> np.ndarray:
    """0/1 decisions with the project's rule ``score >= threshold`` (broadcasts per column)."""
    return (np.asarray(y_score, dtype=float) >= np.asarray(threshold, dtype=float)).astype(int)


def confusion_counts(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, int]:
    """``tp, fp, fn, tn`` for 0/1 predictions (labels fixed to 0/1 so none goes missing)."""
    y, p = _labels(y_true), _labels(y_pred)
    if y.shape != p.shape:
        raise ValueError(f"{y.size} labels but {p.size} predictions")
    tn, fp, fn, tp = np.bincount(2 * y + p, minlength=4)
    return {"tp": int(tp), "fp": int(fp), "fn": int(fn), "tn": int(tn)}


def f1(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """F1 of the positive class; 0.0 when there are neither true nor predicted positives."""
    c = confusion_counts(y_true, y_pred)
    den = 2 * c["tp"] + c["fp"] + c["fn"]
    return 2 * c["tp"] / den if den else 0.0


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def operating_point(y_true: ArrayLike, y_score: ArrayLike, threshold: float) -> dict[str, object]:
    """Sensitivity, specificity, PPV, NPV and confusion counts at one threshold.

    A ratio whose denominator is empty (e.g. sensitivity with no positives) is ``None``.
    """
    c = confusion_counts(y_true, binarize(y_score, threshold))
    return {
        "threshold": float(threshold),
        "sensitivity": _ratio(c["tp"], c["tp"] + c["fn"]),
        "specificity": _ratio(c["tn"], c["tn"] + c["fp"]),
        "ppv": _ratio(c["tp"], c["tp"] + c["fp"]),
        "npv": _ratio(c["tn"], c["tn"] + c["fn"]),
        **c,
    }


def roc_table(y_true: ArrayLike, y_score: ArrayLike) -> pd.DataFrame:
    """ROC curve points (``fpr, tpr, threshold``); empty when AUROC is undefined."""
    if not has_both_classes(y_true):
        return pd.DataFrame(columns=["fpr", "tpr", "threshold"])
    fpr, tpr, thr = roc_curve(_labels(y_true), np.asarray(y_score, dtype=float).ravel())
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thr})


def pr_table(y_true: ArrayLike, y_score: ArrayLike) -> pd.DataFrame:
    """Precision-recall points (``recall, precision, threshold``); the last point has no
    threshold in scikit-learn, so it is NaN here. Empty when there is no positive."""
    y = _labels(y_true)
    if not y.sum():
        return pd.DataFrame(columns=["recall", "precision", "threshold"])
    prec, rec, thr = precision_recall_curve(y, np.asarray(y_score, dtype=float).ravel())
    return pd.DataFrame({"recall": rec, "precision": prec, "threshold": np.append(thr, np.nan)})
