"""The class confusion matrix of a detector at IoU 0.4, at per-class thresholds.

Rows are the truth class, columns the predicted class, over the boxes kept at the
thresholds. How each cell is filled, so the diagonal is exactly the metric's:

* **diagonal** - the true positives of the competition's matching (same class, IoU > 0.4,
  one detection per truth box, highest score first);
* **off-diagonal** - a kept false positive of class B that overlaps a truth box of class A
  the model missed, IoU > 0.4: pairs are taken highest IoU first, each detection and each
  truth box at most once (a box in the right place with the wrong label);
* **"missed" column** - truth boxes neither found nor confused;
* **"false alarm / background" row** - kept false positives left over: boxes where there
  is no lesion, and duplicates of a lesion already found.

Every truth box is counted once per row and every kept box once per column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.studies.chest.classes import ALL_LABELS
from core.studies.chest.cohort.scoring import ScoredCohort

__all__ = ["BACKGROUND", "MISSED", "confusion_matrix", "found_truth", "kept_mask"]

MISSED = "missed"
BACKGROUND = "false alarm / background"


def kept_mask(scored: ScoredCohort, k: np.ndarray) -> np.ndarray:
    """Global detection ids kept (each class's top ``k[c]``), as a boolean array."""
    return np.concatenate(
        [np.arange(len(m.scores)) < k[c] for c, m in scored.matches.items()] or [np.zeros(0, bool)]
    )


def found_truth(scored: ScoredCohort, k: np.ndarray) -> np.ndarray:
    """Global truth ids a kept true positive found, as a boolean array."""
    found = np.zeros(int(sum(m.n_truth for m in scored.matches.values())), dtype=bool)
    for c, m in scored.matches.items():
        hit = m.matched[: k[c]][m.tp[: k[c]]]
        found[scored.truth_offset[c] + hit] = True
    return found


def _greedy(pairs: np.ndarray) -> np.ndarray:
    """Rows of ``pairs`` (already highest IoU first) taken one-to-one, greedily."""
    used_d: set[int] = set()
    used_t: set[int] = set()
    keep = []
    for i, (d, t) in enumerate(pairs.tolist()):
        if d not in used_d and t not in used_t:
            used_d.add(d)
            used_t.add(t)
            keep.append(i)
    return pairs[keep]


def confusion_matrix(scored: ScoredCohort, k: np.ndarray) -> pd.DataFrame:
    """Counts, truth class in rows (+ :data:`BACKGROUND`), predicted class in columns
    (+ :data:`MISSED`), at the top-``k[c]`` boxes of each class (see the module)."""
    n = len(ALL_LABELS)
    det_cls = np.concatenate([np.full(len(m.scores), c) for c, m in scored.matches.items()])
    t_cls = np.concatenate([np.full(m.n_truth, c) for c, m in scored.matches.items()])
    kept = kept_mask(scored, k)
    tp = np.concatenate([m.tp for m in scored.matches.values()]).astype(bool)
    found = found_truth(scored, k)
    out = np.zeros((n + 1, n + 1), dtype=np.int64)
    np.add.at(out, (det_cls[kept & tp], det_cls[kept & tp]), 1)
    fp = kept & ~tp
    pairs = scored.pairs
    if len(pairs):
        pairs = _greedy(pairs[fp[pairs[:, 0]] & ~found[pairs[:, 1]]])
    confused_d, confused_t = np.zeros(len(kept), bool), np.zeros(len(found), bool)
    if len(pairs):
        np.add.at(out, (t_cls[pairs[:, 1]], det_cls[pairs[:, 0]]), 1)
        confused_d[pairs[:, 0]], confused_t[pairs[:, 1]] = True, True
    np.add.at(out[:, n], t_cls[~found & ~confused_t], 1)
    np.add.at(out[n], det_cls[fp & ~confused_d], 1)
    labels = list(ALL_LABELS)
    return pd.DataFrame(out, index=[*labels, BACKGROUND], columns=[*labels, MISSED])
