"""Error lists: the patients (and locations) the model got wrong, most confident first.

A false negative the model scored 0.02 says more about the model than one it scored just
under the threshold, so lists are sorted by how far the score sits on the wrong side:
false negatives by ascending score, false positives by descending score. ``margin`` is
``score - threshold`` (negative for a miss). A location false negative caused by stage-1
gating (the patient never reached stage 2's decision) is flagged ``gated``, because the
fix for it is the stage-1 threshold, not the location one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.cohort.table import PROB_COLUMNS, SCORE
from core.metrics.binary import binarize
from core.models.thresholds import Thresholds
from core.schema import LOCATIONS

__all__ = ["PATIENT_COLUMNS", "LOCATION_COLUMNS", "patient_errors", "location_errors"]

PATIENT_COLUMNS = ("Index", "case_id", "kind", "score", "threshold", "margin", "true_locations")
LOCATION_COLUMNS = (
    "Index",
    "case_id",
    "location",
    "kind",
    "probability",
    "threshold",
    "margin",
    "gated",
    "score",
)


def _sorted(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    """FN by ascending ``value``, then FP by descending ``value``; ties by Index."""
    fn = frame[frame["kind"] == "FN"].sort_values([value, "Index"], ascending=[True, True])
    fp = frame[frame["kind"] == "FP"].sort_values([value, "Index"], ascending=[False, True])
    return pd.concat([fn, fp], ignore_index=True)


def patient_errors(table: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    """Stage-1 false negatives and false positives with their scores and true locations."""
    score = table[SCORE].to_numpy(float)
    truth = table["Aneurysm"].to_numpy(int)
    pred = binarize(score, thresholds.stage1).astype(bool)
    wrong = pred != truth.astype(bool)
    locs = table[list(LOCATIONS)].to_numpy(int)
    names = [", ".join(np.asarray(LOCATIONS)[row.astype(bool)]) for row in locs[wrong]]
    frame = pd.DataFrame(
        {
            "Index": table["Index"].to_numpy()[wrong],
            "case_id": table["case_id"].to_numpy()[wrong],
            "kind": np.where(truth[wrong] == 1, "FN", "FP"),
            "score": score[wrong],
            "threshold": thresholds.stage1,
            "margin": score[wrong] - thresholds.stage1,
            "true_locations": names,
        },
        columns=list(PATIENT_COLUMNS),
    )
    return _sorted(frame, "score")


def location_errors(
    table: pd.DataFrame, thresholds: Thresholds, location: str | None = None
) -> pd.DataFrame:
    """Location FNs and FPs after gating, all locations or just ``location``."""
    cols = [location] if location is not None else list(LOCATIONS)
    unknown = [c for c in cols if c not in LOCATIONS]
    if unknown:
        raise ValueError(f"unknown location {unknown[0]!r}")
    score = table[SCORE].to_numpy(float)
    passed = binarize(score, thresholds.stage1).astype(bool)[:, None]
    prob = table[[PROB_COLUMNS[LOCATIONS.index(c)] for c in cols]].to_numpy(float)
    truth = table[cols].to_numpy(int).astype(bool)
    thr = np.array([thresholds.labels[c] for c in cols])
    above = binarize(prob, thr).astype(bool)
    rows, j = np.nonzero((passed & above) != truth)
    frame = pd.DataFrame(
        {
            "Index": table["Index"].to_numpy()[rows],
            "case_id": table["case_id"].to_numpy()[rows],
            "location": np.asarray(cols, dtype=object)[j],
            "kind": np.where(truth[rows, j], "FN", "FP"),
            "probability": prob[rows, j],
            "threshold": thr[j],
            "margin": prob[rows, j] - thr[j],
            "gated": truth[rows, j] & ~passed[rows, 0] & above[rows, j],
            "score": score[rows],
        },
        columns=list(LOCATION_COLUMNS),
    )
    return _sorted(frame, "probability")
