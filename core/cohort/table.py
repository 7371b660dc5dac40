"""The cached prediction table: one row per patient, labels and every score the what-if needs.

The table is what batch inference writes and what the cohort page reads; nothing in it
depends on a threshold, so every threshold change is a pure recomputation on it. Stage 2
is therefore scored for *every* patient (not only those above the stage-1 threshold):
lowering the stage-1 threshold must never need the models again.

Columns (truth keeps the ``train.csv`` names so it feeds ``core.metrics`` unchanged):

* ``Index`` (int), ``case_id`` (str): the K-Ium index and the case identifier intake gave;
* ``case_hash``: :meth:`core.case.Case.content_hash`, the key reviewer verdicts use;
* ``Aneurysm`` and the 21 location columns: the 0/1 labels;
* ``score``: the patient score, max(``score_anterior``, ``score_posterior``), each the
  mean of that circulation's view scores (NaN when a partial case has none of its views);
* ``prob_<location>``: the 21 stage-2 probabilities, ungated;
* optional ``view_<view>``: each view's stage-1 score;
* optional ``peak_x_<view>``, ``peak_y_<view>``, ``width_<view>``, ``height_<view>``: the
  CAM peak in original-image pixels and the image size, for the pointing game.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.models.result import CaseResult
from core.schema import LOCATIONS, TRAIN_COLUMNS, VIEWS

__all__ = [
    "SCORE",
    "SCORE_ANTERIOR",
    "SCORE_POSTERIOR",
    "PROB_COLUMNS",
    "REQUIRED_COLUMNS",
    "TableError",
    "prob_column",
    "view_column",
    "peak_columns",
    "validate_table",
    "truth_frame",
    "prob_frame",
    "has_peaks",
    "row_from_result",
]

SCORE = "score"
SCORE_ANTERIOR = "score_anterior"
SCORE_POSTERIOR = "score_posterior"


def prob_column(location: str) -> str:
    return f"prob_{location}"


def view_column(view: str) -> str:
    return f"view_{view}"


def peak_columns(view: str) -> tuple[str, str, str, str]:
    """``(peak_x, peak_y, width, height)`` column names of one view."""
    return f"peak_x_{view}", f"peak_y_{view}", f"width_{view}", f"height_{view}"


PROB_COLUMNS: tuple[str, ...] = tuple(prob_column(c) for c in LOCATIONS)
REQUIRED_COLUMNS: tuple[str, ...] = (
    "Index",
    "case_id",
    "case_hash",
    *TRAIN_COLUMNS[1:],
    SCORE,
    SCORE_ANTERIOR,
    SCORE_POSTERIOR,
    *PROB_COLUMNS,
)


class TableError(ValueError):
    """A prediction table lacks columns, has duplicate patients or out-of-range values."""


def validate_table(table: pd.DataFrame) -> pd.DataFrame:
    """Check the columns and values, and return the table sorted by ``Index``.

    A cache written by another version, or a hand-made table, fails here with the missing
    columns named, instead of deep inside a metric.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise TableError(f"prediction table lacks columns {missing}")
    if table["Index"].duplicated().any():
        raise TableError(
            f"duplicate patients {table.loc[table['Index'].duplicated(), 'Index'].tolist()[:5]}"
        )
    labels = table[list(TRAIN_COLUMNS[1:])]
    if not labels.isin([0, 1]).all().all():
        raise TableError("labels must be 0/1")
    scores = table[[SCORE, *PROB_COLUMNS]].to_numpy(float)
    if not np.isfinite(scores).all() or (scores < 0).any() or (scores > 1).any():
        raise TableError("scores and probabilities must be finite and within [0, 1]")
    means = table[[SCORE_ANTERIOR, SCORE_POSTERIOR]].to_numpy(float)
    if ((means < 0) | (means > 1)).any():
        raise TableError("circulation means must be within [0, 1] (or NaN when absent)")
    return table.sort_values("Index", kind="stable").reset_index(drop=True)


def truth_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The labels as a ``train.csv`` frame (what ``core.metrics`` takes as truth)."""
    return table[list(TRAIN_COLUMNS)].astype(int)


def prob_frame(table: pd.DataFrame) -> pd.DataFrame:
    """``Index`` plus the 21 ungated location probabilities under their location names."""
    out = table[list(PROB_COLUMNS)].copy()
    out.columns = list(LOCATIONS)
    out.insert(0, "Index", table["Index"].to_numpy())
    return out


def has_peaks(table: pd.DataFrame) -> bool:
    """Whether the table carries CAM peaks and image sizes for every view."""
    return all(c in table.columns for v in VIEWS for c in peak_columns(v))


def row_from_result(result: CaseResult, index: int, labels: Mapping[str, int]) -> dict[str, Any]:
    """One table row from a bundle's result on a labelled case.

    Raises :class:`TableError` for a case without any view (it has no patient score);
    the batch runner reports such patients instead of caching them.
    """
    g = result.gate
    if g.patient_score is None:
        raise TableError(f"patient {index}: no view could be scored")
    nan = float("nan")
    row: dict[str, Any] = {
        "Index": int(index),
        "case_id": result.case_id,
        "case_hash": result.content_hash,
        **{c: int(labels[c]) for c in TRAIN_COLUMNS[1:]},
        SCORE: g.patient_score,
        SCORE_ANTERIOR: nan if g.anterior_mean is None else g.anterior_mean,
        SCORE_POSTERIOR: nan if g.posterior_mean is None else g.posterior_mean,
        **{prob_column(c): p for c, p in result.probabilities.items()},
    }
    for v in VIEWS:
        vr = result.views.get(v)
        row[view_column(v)] = nan if vr is None else vr.stage1_probability
        if vr is not None and vr.cam is not None:
            x, y, w, h = peak_columns(v)
            row[x], row[y] = vr.cam.peak_xy if vr.cam.peak_xy is not None else (nan, nan)
            row[w], row[h] = vr.record.original_size
    return row
