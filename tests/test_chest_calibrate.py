"""Per-class thresholds on a constructed validation split: the F1-best cut (highest on a
tie), "No finding" like any class, and the documented fallbacks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.studies.chest.calibrate import (
    FALLBACK_THRESHOLD,
    TABLE_COLUMNS,
    CalibrationError,
    calibrate,
    calibrate_thresholds,
)
from core.studies.chest.classes import ALL_LABELS, NO_FINDING_ID
from core.studies.chest.metric import match_all
from core.studies.chest.metric_report import operating_points

COLS = ["image_id", "class_id", "x_min", "y_min", "x_max", "y_max"]
HIT = (10.0, 10.0, 50.0, 50.0)
MISS = (200.0, 200.0, 250.0, 250.0)
UNIT = (0.0, 0.0, 1.0, 1.0)
IDS = list("abcdefg")


def _case() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Class 0: five lesions (a-e); detections ranked TP TP FP TP FP FP TP (d's misses).
    F1 by cut: 2/6, 4/7, 4/8, 6/9, 6/10, 6/11, 8/12 -> best 2/3 at the 4th (0.6) and the
    7th (0.3): the higher, 0.6, wins. Class 1 (Atelectasis): a lesion on a, never
    predicted. Class 2: predicted, never right. "No finding": f and g normal."""
    truth = pd.DataFrame(
        [(i, 0, *HIT) for i in "abcde"] + [("a", 1, *HIT), ("c", 2, *HIT)]
        + [(i, NO_FINDING_ID, *UNIT) for i in "fg"],
        columns=COLS,
    )  # fmt: skip
    rows = [("a", 0, 0.9, *HIT), ("b", 0, 0.8, *HIT), ("f", 0, 0.7, *HIT), ("c", 0, 0.6, *HIT),
            ("g", 0, 0.5, *HIT), ("d", 0, 0.4, *MISS), ("e", 0, 0.3, *HIT),
            ("b", 2, 0.95, *HIT),
            ("f", NO_FINDING_ID, 0.9, *UNIT), ("g", NO_FINDING_ID, 0.2, *UNIT),
            ("a", NO_FINDING_ID, 0.1, *UNIT)]  # fmt: skip
    pred = pd.DataFrame(rows, columns=[COLS[0], COLS[1], "score", *COLS[2:]])
    return pred, truth


def test_f1_best_threshold_and_its_table() -> None:
    pred, truth = _case()
    result = calibrate(pred, truth, IDS)
    assert set(result.thresholds) == set(ALL_LABELS) and len(result.thresholds) == 15
    table = result.table.set_index("class")
    assert list(result.table.columns) == list(TABLE_COLUMNS)
    row = table.loc[ALL_LABELS[0]]
    assert result.thresholds[ALL_LABELS[0]] == 0.6 and row["source"] == "f1_best"
    assert (row["precision"], row["recall"], row["support"]) == (0.75, 0.6, 5)
    assert row["f1"] == pytest.approx(2 / 3) and row["n_predictions"] == 7
    # "No finding": f TP 0.9, g TP 0.2, a FP 0.1 -> both normals at 0.2 (F1 1)
    nf = table.loc["No finding"]
    assert nf["threshold"] == 0.2 and (nf["precision"], nf["recall"]) == (1.0, 1.0)


def test_agrees_with_the_reports_operating_points() -> None:
    pred, truth = _case()
    thresholds = calibrate_thresholds(pred, truth, IDS)
    points = operating_points(match_all(pred, truth, IDS))
    for name, point in points.items():
        if point["source"] == "f1_best" and point["f1"] > 0:
            assert thresholds[name] == pytest.approx(point["threshold"])


def test_fallbacks_say_why() -> None:
    pred, truth = _case()
    table = calibrate(pred, truth, IDS).table.set_index("class")
    assert table.loc["Atelectasis", "source"] == "no_predictions"
    assert table.loc["Atelectasis", "recall"] == 0.0
    assert math.isnan(table.loc["Atelectasis", "precision"])
    assert table.loc["Calcification", "source"] == "no_hits"
    assert table.loc["Calcification", "precision"] == 0.0  # its 0.95 box passes 0.5
    assert table.loc["Cardiomegaly", "source"] == "no_support"
    assert np.isnan(table.loc["Cardiomegaly", "recall"])
    fallback = table[table["source"] != "f1_best"]
    assert len(fallback) == 13 and set(fallback["threshold"]) == {FALLBACK_THRESHOLD}
    custom = calibrate_thresholds(pred, truth, IDS, fallback=0.3)
    assert custom["Cardiomegaly"] == 0.3 and custom[ALL_LABELS[0]] == 0.6


def test_only_the_given_images_are_used_and_inputs_are_checked() -> None:
    pred, truth = _case()
    # without film e, class 0's last hit is gone: 4 lesions, best F1 6/8 at 0.6
    table = calibrate(pred, truth, list("abcdfg")).table.set_index("class")
    assert table.loc[ALL_LABELS[0], "support"] == 4
    assert table.loc[ALL_LABELS[0], "f1"] == pytest.approx(0.75)
    with pytest.raises(CalibrationError, match="no images"):
        calibrate(pred, truth, [])
    for bad in (1.5, True, "0.5"):
        with pytest.raises(CalibrationError, match="fallback"):
            calibrate(pred, truth, IDS, fallback=bad)  # type: ignore[arg-type]
