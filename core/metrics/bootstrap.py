"""Patient-level bootstrap confidence intervals, computed for all resamples at once.

Rows are patients: every metric of one resample is computed on the same drawn patients, so
intervals of related metrics (aneurysm, location macro, weighted AUROC) come from one set of
draws. A resample where a metric is undefined (e.g. no positive patient drawn) is skipped
for that metric, and how many resamples counted is reported with the interval.

A resample drawn with replacement is the original rows weighted by how often each was
drawn, so the AUROC of every resample is a weighted Mann-Whitney statistic over the rows
sorted once (:func:`resampled_auroc`). That is scikit-learn's ``roc_auc_score`` with those
multiplicities as ``sample_weight`` (the tests check it), at ~1/500 of the time of calling
it a thousand times: a 1,000-resample interval set for 22 AUROCs costs well under a second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "Interval",
    "bootstrap_indices",
    "resample_counts",
    "resampled_auroc",
    "bootstrap_intervals",
]

#: A statistic over all resamples: gets ``(n_boot, n_rows)`` multiplicities, returns named
#: ``(n_boot,)`` arrays of values (NaN where undefined on that draw).
Statistic = Callable[[np.ndarray], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class Interval:
    """A percentile interval and the number of resamples it rests on."""

    low: float | None
    high: float | None
    n_valid: int

    def to_list(self) -> list[float | None]:
        return [self.low, self.high]


def bootstrap_indices(n_rows: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n_rows)`` row indices drawn with replacement from a fixed-seed generator."""
    if n_rows < 1 or n_boot < 1:
        raise ValueError("bootstrap needs at least one row and one resample")
    return np.random.default_rng(seed).integers(0, n_rows, size=(n_boot, n_rows))


def resample_counts(n_rows: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n_rows)`` multiplicities of the rows in each resample of
    :func:`bootstrap_indices` (same seed, same draws)."""
    idx = bootstrap_indices(n_rows, n_boot, seed)
    counts = np.zeros((n_boot, n_rows), dtype=np.int64)
    np.add.at(counts, (np.arange(n_boot)[:, None], idx), 1)
    return counts


def resampled_auroc(y_true: ArrayLike, y_score: ArrayLike, counts: np.ndarray) -> np.ndarray:
    """AUROC of every resample (row of ``counts``); NaN where a resample lacks a class.

    Ties count one half, as in scikit-learn. Rows are sorted by score once; per resample,
    each tie group's positive weight meets the negative weight below it.
    """
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(y_score, dtype=float).ravel()
    order = np.argsort(s, kind="mergesort")
    s, y, w = s[order], y[order], np.asarray(counts, dtype=float)[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    pos = np.add.reduceat(w * y, starts, axis=1)
    neg = np.add.reduceat(w * ~y, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos * (below + 0.5 * neg)).sum(axis=1) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def bootstrap_intervals(
    statistic: Statistic, n_rows: int, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, Interval]:
    """Percentile intervals at ``level`` for every value ``statistic`` returns."""
    values = statistic(resample_counts(n_rows, n_boot, seed))
    tail = 100 * (1 - level) / 2
    out = {}
    for name, vals in values.items():
        kept = np.asarray(vals, dtype=float)
        kept = kept[~np.isnan(kept)]
        if kept.size:
            lo, hi = np.percentile(kept, [tail, 100 - tail])
            out[name] = Interval(float(lo), float(hi), int(kept.size))
        else:
            out[name] = Interval(None, None, 0)
    return out
