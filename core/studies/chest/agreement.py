"""How much the readers of a chest film agree: box overlap and presence, per class.

Two views, because readers disagree in two ways:

* **Where** - per class, the mean IoU of matched boxes between every pair of readers of a
  film. Each pair's boxes of one class are matched one-to-one by the Hungarian algorithm
  maximising the summed IoU (``scipy``), and only pairs with IoU > 0 count as matched: a
  box nobody else overlaps is a presence disagreement, not a zero-IoU box.
* **Whether** - per class, Fleiss' kappa over the films of the three readers' yes/no on
  "this film shows the class", plus two overall figures: normal vs abnormal (any finding),
  and all (film, class) pairs pooled. Fleiss' kappa needs the same number of readers on
  every film, so films read by another number (3 in VinBigData) are left out and counted.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment

from core.studies.chest.annotations import Annotations
from core.studies.chest.classes import BOX_COLUMNS, CLASSES
from core.studies.chest.fusion import iou_matrix

__all__ = ["fleiss_kappa", "matched_ious", "reader_agreement"]


def matched_ious(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """IoUs of the one-to-one Hungarian matching of two readers' boxes, IoU > 0 only."""
    iou = iou_matrix(a, b)
    if not iou.size:
        return np.zeros(0)
    rows, cols = linear_sum_assignment(iou, maximize=True)
    matched = iou[rows, cols]
    return matched[matched > 0]


def fleiss_kappa(counts: ArrayLike) -> float | None:
    """Fleiss' kappa of an ``(n_subjects, n_categories)`` table of how many raters put each
    subject in each category (every row sums to the same number of raters, at least 2).
    ``None`` when chance agreement is perfect (one category only), where kappa is 0/0."""
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or not len(table):
        raise ValueError("fleiss_kappa needs a non-empty (subjects, categories) table")
    raters = table.sum(axis=1)
    if not np.all(raters == raters[0]) or raters[0] < 2:
        raise ValueError("every subject needs the same number of raters, at least 2")
    n = raters[0]
    p_cat = table.sum(axis=0) / table.sum()
    p_subject = ((table**2).sum(axis=1) - n) / (n * (n - 1))
    expected = float((p_cat**2).sum())
    if np.isclose(expected, 1.0):
        return None
    return float((p_subject.mean() - expected) / (1.0 - expected))


def _presence(annotations: Annotations) -> tuple[pd.DataFrame, int, int]:
    """Per (image, reader) row, 0/1 per class 0-13, on the films with the modal reader
    count; also that count and how many films were left out."""
    rows = annotations.boxes.assign(rad_id=annotations.boxes["rad_id"].astype(str))
    n_readers = rows.groupby("image_id")["rad_id"].nunique()
    if n_readers.empty:
        raise ValueError("no reader rows to measure agreement on")
    modal = int(n_readers.mode().max())
    kept = n_readers.index[n_readers == modal]
    rows = rows[rows["image_id"].isin(kept)]
    present = pd.crosstab([rows["image_id"], rows["rad_id"]], rows["class_id"]) > 0
    present = present.reindex(columns=range(len(CLASSES)), fill_value=False)
    return present.astype(int), modal, int((n_readers != modal).sum())


def _kappa_of(present: pd.Series, n: int) -> float | None:
    """Kappa of one 0/1 value per (image, reader) -> yes counts per image."""
    yes = present.groupby(level="image_id").sum().to_numpy()
    return fleiss_kappa(np.stack([n - yes, yes], axis=1))


def _mean_ious(annotations: Annotations) -> dict[int, np.ndarray]:
    found = annotations.findings()
    out: dict[int, list[np.ndarray]] = {c: [] for c in range(len(CLASSES))}
    for (_, class_id), group in found.groupby(["image_id", "class_id"]):
        by_reader = [g[list(BOX_COLUMNS)].to_numpy(float) for _, g in group.groupby("rad_id")]
        for a, b in combinations(by_reader, 2):
            out[int(class_id)].append(matched_ious(a, b))
    return {c: np.concatenate(v) if v else np.zeros(0) for c, v in out.items()}


def reader_agreement(annotations: Annotations) -> dict[str, object]:
    """The agreement report, JSON-ready: per class ``mean_iou`` (with the matched pairs it
    rests on) and ``kappa`` (with how many films had it), then the overall figures."""
    present, n, skipped = _presence(annotations)
    ious = _mean_ious(annotations)
    per_class = {}
    for c, name in enumerate(CLASSES):
        column = present[c]
        per_class[name] = {
            "mean_iou": float(ious[c].mean()) if ious[c].size else None,
            "matched_pairs": int(ious[c].size),
            "kappa": _kappa_of(column, n),
            "images_marked": int((column.groupby(level="image_id").sum() > 0).sum()),
        }
    pooled = np.concatenate([present[[c]].groupby(level="image_id").sum().to_numpy()
                             for c in range(len(CLASSES))])  # fmt: skip
    all_ious = np.concatenate(list(ious.values()))
    return {
        "readers_per_image": n,
        "images": int(present.index.get_level_values("image_id").nunique()),
        "images_skipped": skipped,
        "matching": "Hungarian, max summed IoU, pairs with IoU > 0",
        "per_class": per_class,
        "overall": {
            "mean_iou": float(all_ious.mean()) if all_ious.size else None,
            "kappa_abnormal": _kappa_of((present.sum(axis=1) > 0).astype(int), n),
            "kappa_pooled": fleiss_kappa(np.concatenate([n - pooled, pooled], axis=1)),
        },
    }
