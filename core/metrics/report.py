"""One evaluation report from aligned truth and prediction tables.

The same function serves ``python -m core evaluate`` and the cohort page: it takes frames,
not paths, and returns a JSON-ready dict. Rows are patients aligned on ``Index``; a
prediction for a patient not in the truth (or the reverse) is an error, not a silent drop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.metrics.binary import auroc, operating_point
from core.metrics.bootstrap import bootstrap_intervals, resampled_auroc
from core.metrics.locations import (
    all_zero_floor,
    kium_location_accuracy,
    macro_auroc,
    per_location_table,
    weighted_auroc,
)
from core.metrics.pointing import PointingResult
from core.schema import LOCATIONS

__all__ = ["align", "evaluate_tables", "EvaluationError"]


class EvaluationError(ValueError):
    """Truth and predictions do not describe the same patients or columns."""


def _indexed(frame: pd.DataFrame, reference: pd.Index | None, what: str) -> pd.DataFrame:
    """``frame`` indexed by ``Index`` (sorted); checked against the truth's patients."""
    q = frame.set_index("Index").sort_index()
    if reference is not None and not q.index.equals(reference):
        only_pred = sorted(set(q.index) - set(reference))[:5]
        only_truth = sorted(set(reference) - set(q.index))[:5]
        raise EvaluationError(
            f"{what}: patients differ: predicted only {only_pred}, in truth only {only_truth}"
        )
    missing = [c for c in LOCATIONS if c not in q.columns]
    if missing:
        raise EvaluationError(f"{what} lacks location columns {missing}")
    return q


def align(
    truth: pd.DataFrame, pred: pd.DataFrame, prob: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Truth and predictions indexed on the same sorted ``Index``."""
    t = _indexed(truth, None, "truth")
    p = _indexed(pred, t.index, "prediction")
    return t, p, None if prob is None else _indexed(prob, t.index, "probabilities")


def _none_if_nan(v: object) -> object:
    return None if isinstance(v, float) and np.isnan(v) else v


def _bootstrap(
    y: np.ndarray,
    score: np.ndarray,
    loc_y: np.ndarray,
    loc_p: np.ndarray | None,
    n_boot: int,
    seed: int,
) -> dict[str, list[float | None] | int]:
    """Intervals of the aneurysm, per-location, macro and weighted AUROCs from one set of
    patient resamples."""

    def stat(counts: np.ndarray) -> dict[str, np.ndarray]:
        a = resampled_auroc(y, score, counts)
        vals = {"aneurysm": a}
        if loc_p is not None:
            per = np.stack([resampled_auroc(loc_y[:, j], loc_p[:, j], counts)
                            for j in range(loc_y.shape[1])], axis=1)  # fmt: skip
            vals |= {f"loc:{c}": per[:, j] for j, c in enumerate(LOCATIONS)}
            defined = ~np.isnan(per)
            with np.errstate(invalid="ignore"):  # a draw with no defined location: NaN
                m = np.where(defined, per, 0.0).sum(axis=1) / defined.sum(axis=1)
            vals |= {"macro": m, "weighted": weighted_auroc(a, m)}
        return vals

    ivs = bootstrap_intervals(stat, len(y), n_boot=n_boot, seed=seed)
    return {k: iv.to_list() for k, iv in ivs.items()}


def evaluate_tables(
    truth: pd.DataFrame,
    pred: pd.DataFrame,
    prob: pd.DataFrame | None = None,
    *,
    thresholds: Sequence[float] = (0.5,),
    n_boot: int = 1000,
    seed: int = 0,
    pointing: PointingResult | None = None,
) -> dict[str, object]:
    """The full report.

    ``truth`` is a ``train.csv`` frame; ``pred`` has ``Index``, ``Aneurysm`` (probability)
    and the 21 locations as 0/1; ``prob`` the 21 location probabilities (without it the
    location AUROCs are None). ``thresholds`` are the aneurysm operating points to report.
    ``n_boot=0`` skips the bootstrap.
    """
    t, p, q = align(truth, pred, prob)
    y, score = t["Aneurysm"].to_numpy(int), p["Aneurysm"].to_numpy(float)
    loc_y = t[list(LOCATIONS)].to_numpy(int)
    loc_p = None if q is None else q[list(LOCATIONS)].to_numpy(float)
    table = per_location_table(t, q, p, list(LOCATIONS))
    a = auroc(y, score)
    macro, n_defined = macro_auroc(table["auroc"].to_numpy())
    cis = _bootstrap(y, score, loc_y, loc_p, n_boot, seed) if n_boot > 0 else {}
    locations = {
        c: {k: _none_if_nan(v) for k, v in row.items()} | {"auroc_ci95": cis.get(f"loc:{c}")}
        for c, row in table.to_dict(orient="index").items()
    }
    return {
        "n_patients": int(len(y)),
        "n_positive": int(y.sum()),
        "aneurysm": {
            "auroc": a,
            "auroc_ci95": cis.get("aneurysm"),
            "operating_points": [operating_point(y, score, thr) for thr in thresholds],
        },
        "location_accuracy": {
            "kium": kium_location_accuracy(loc_y, p[list(LOCATIONS)].to_numpy(int)),
            "all_zero_floor": all_zero_floor(loc_y),
        },
        "location_macro_auroc": {
            "value": macro,
            "n_defined": n_defined,
            "of": len(LOCATIONS),
            "ci95": cis.get("macro"),
        },
        "weighted_auroc": {
            "value": weighted_auroc(a, macro),
            "ci95": cis.get("weighted"),
            "formula": "0.5*AUROC(Aneurysm) + 0.5*mean of defined location AUROCs",
        },
        "locations": locations,
        "pointing_game": None if pointing is None else pointing.to_dict(),
        "bootstrap": {"n": n_boot, "seed": seed, "unit": "patient", "level": 0.95},
    }
