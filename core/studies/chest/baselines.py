"""Two trivial chest submissions every model must beat on ``map_iou40``.

* :func:`no_finding_baseline` - every film "No finding" (``14 1 0 0 1 1``). It scores the
  "No finding" class's AP and nothing else: the floor a model that finds nothing reaches.
* :func:`mean_box_baseline` - for every class, its mean box at its prior frequency: the
  mean of the fused truth boxes normalised by their films' sizes, drawn on each film in
  that film's pixels, scored by the share of training films that have the class ("No
  finding" too, as ``0 0 1 1``). It knows where each finding tends to sit and how common
  it is, and nothing about the film in front of it: what a detector must add to that.

Both return prediction frames (:data:`~core.studies.chest.submission.PREDICTION_COLUMNS`)
for ``write_submission`` or the report directly; no command is needed to use them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.studies.chest.classes import BOX_COLUMNS, NO_FINDING_ID
from core.studies.chest.fusion import NO_FINDING_BOX
from core.studies.chest.submission import PREDICTION_COLUMNS

__all__ = ["class_priors", "mean_box_baseline", "no_finding_baseline"]


def no_finding_baseline(image_ids: list[str]) -> pd.DataFrame:
    """Every film predicted "No finding" with score 1."""
    return pd.DataFrame(
        [(i, NO_FINDING_ID, 1.0, *NO_FINDING_BOX) for i in image_ids],
        columns=list(PREDICTION_COLUMNS),
    )


def class_priors(truth: pd.DataFrame, sizes: pd.DataFrame) -> pd.DataFrame:
    """Per class present in ``truth`` (e.g. ``fuse_readers(annotations)``, the default
    fused truth, original pixels): the share of films
    of ``sizes`` that have it (``prior``) and its mean normalised box."""
    size = sizes.loc[truth["image_id"], ["width", "height"]].to_numpy(float)
    norm = truth[list(BOX_COLUMNS)].to_numpy(float) / np.c_[size, size]
    frame = pd.DataFrame(norm, columns=list(BOX_COLUMNS)).assign(
        class_id=truth["class_id"].to_numpy(int), image_id=truth["image_id"].to_numpy()
    )
    frame.loc[frame["class_id"] == NO_FINDING_ID, list(BOX_COLUMNS)] = np.nan
    grouped = frame.groupby("class_id")
    out = grouped[list(BOX_COLUMNS)].mean()
    out.insert(0, "prior", grouped["image_id"].nunique() / len(sizes))
    return out


def mean_box_baseline(
    train_truth: pd.DataFrame, train_sizes: pd.DataFrame, target_sizes: pd.DataFrame
) -> pd.DataFrame:
    """Each class's mean box at its prior, on every film of ``target_sizes``, learnt from
    ``train_truth`` over ``train_sizes`` (pass the same cohort twice for in-sample)."""
    priors = class_priors(train_truth, train_sizes)
    rows = []
    for image_id, (width, height) in target_sizes[["width", "height"]].iterrows():
        scale = np.array([width, height, width, height], dtype=float)
        for class_id, row in priors.iterrows():
            box = (
                NO_FINDING_BOX
                if class_id == NO_FINDING_ID
                else tuple(row[list(BOX_COLUMNS)].to_numpy(float) * scale)
            )
            rows.append((str(image_id), int(class_id), float(row["prior"]), *box))
    return pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))
