"""Location metrics: the K-Ium accuracy with its all-zeros floor, and per-location tables.

The K-Ium "accuracy for locations" rewards predicting nothing: with ~1 positive location per
positive patient over 21 columns, all zeros already scores ~0.97. So the floor is always
reported beside it, and per-location AUROC/F1/support say what the accuracy hides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from core.metrics.binary import auroc, confusion_counts, f1

__all__ = [
    "kium_location_accuracy",
    "all_zero_floor",
    "per_location_table",
    "macro_auroc",
    "weighted_auroc",
]


def _matrix(a: ArrayLike) -> np.ndarray:
    m = np.asarray(a, dtype=float)
    return m.reshape(-1, 1) if m.ndim == 1 else m


def _nan_if_none(v: float | None) -> float:
    return float("nan") if v is None else v


def kium_location_accuracy(truth: ArrayLike, pred: ArrayLike) -> float:
    """K-Ium score 2: ``1 - mean |truth - pred|`` over all patients and location columns.

    ``pred`` must be 0/1 (the competition scored hard decisions, not probabilities).
    """
    t, p = _matrix(truth), _matrix(pred)
    if t.shape != p.shape:
        raise ValueError(f"truth {t.shape} and prediction {p.shape} differ in shape")
    if not np.isin(p, (0, 1)).all():
        raise ValueError("K-Ium location accuracy needs 0/1 predictions")
    return float(1.0 - np.abs(t - p).mean())


def all_zero_floor(truth: ArrayLike) -> float:
    """The K-Ium location accuracy of predicting no location for anyone."""
    t = _matrix(truth)
    return kium_location_accuracy(t, np.zeros_like(t))


def per_location_table(
    truth: pd.DataFrame, prob: pd.DataFrame | None, pred: pd.DataFrame, columns: list[str]
) -> pd.DataFrame:
    """One row per location: support, AUROC (NaN if undefined), F1 and confusion counts.

    ``truth``/``pred`` hold 0/1 per column and ``prob`` the probabilities, all aligned on
    the same rows. AUROC needs probabilities; without ``prob`` it is NaN throughout.
    """
    rows = []
    for col in columns:
        y = truth[col].to_numpy()
        rows.append(
            {
                "location": col,
                "support": int(y.sum()),
                "auroc": _nan_if_none(None if prob is None else auroc(y, prob[col].to_numpy())),
                "f1": f1(y, pred[col].to_numpy()),
                **confusion_counts(y, pred[col].to_numpy()),
            }
        )
    return pd.DataFrame(rows).set_index("location")


def macro_auroc(aurocs: ArrayLike) -> tuple[float | None, int]:
    """Mean of the defined AUROCs (``None``/NaN skipped) and how many were defined."""
    vals = np.array([np.nan if a is None else a for a in np.ravel(aurocs)], dtype=float)
    defined = vals[~np.isnan(vals)]
    return (float(defined.mean()) if defined.size else None), int(defined.size)


def weighted_auroc(aneurysm_auroc: float | None, location_macro: float | None) -> float | None:
    """RSNA-2025 style: ``0.5 * AUROC(present) + 0.5 * mean location AUROC`` (also
    element-wise on arrays of bootstrap values)."""
    if aneurysm_auroc is None or location_macro is None:
        return None
    return 0.5 * aneurysm_auroc + 0.5 * location_macro
