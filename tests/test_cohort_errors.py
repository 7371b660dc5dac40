"""Error lists: the right patients, most confident first, gating flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.cohort.errors import location_errors, patient_errors
from core.cohort.synthetic import synthetic_table
from core.models.thresholds import Thresholds
from core.schema import LOCATIONS


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return synthetic_table(120, seed=5)


def _th(stage1: float, loc: float = 0.3) -> Thresholds:
    return Thresholds(stage1, {c: loc for c in LOCATIONS}, "test")


def test_patient_errors_are_exactly_the_misclassified(table: pd.DataFrame) -> None:
    errs = patient_errors(table, _th(0.5))
    y, pred = table["Aneurysm"].to_numpy(), table["score"].to_numpy() >= 0.5
    assert set(errs.loc[errs["kind"] == "FN", "Index"]) == set(table.loc[(y == 1) & ~pred, "Index"])
    assert set(errs.loc[errs["kind"] == "FP", "Index"]) == set(table.loc[(y == 0) & pred, "Index"])
    fn, fp = errs[errs["kind"] == "FN"], errs[errs["kind"] == "FP"]
    assert (np.diff(fn["score"]) >= 0).all() and (
        np.diff(fp["score"]) <= 0
    ).all()  # most confident first
    assert (fn["margin"] < 0).all() and (fp["margin"] >= 0).all()
    first = fn.iloc[0]
    expected = ", ".join(c for c in LOCATIONS if table.set_index("Index").loc[first["Index"], c])
    assert first["true_locations"] == expected


def test_location_errors_follow_gating(table: pd.DataFrame) -> None:
    th = _th(0.55, 0.3)
    errs = location_errors(table, th, "L_ICA")
    passed = table["score"] >= 0.55
    pred = passed & (table["prob_L_ICA"] >= 0.3)
    truth = table["L_ICA"] == 1
    assert set(errs.loc[errs["kind"] == "FN", "Index"]) == set(table.loc[truth & ~pred, "Index"])
    assert set(errs.loc[errs["kind"] == "FP", "Index"]) == set(table.loc[~truth & pred, "Index"])
    gated = set(table.loc[truth & ~passed & (table["prob_L_ICA"] >= 0.3), "Index"])
    assert set(errs.loc[errs["gated"], "Index"]) == gated
    assert set(location_errors(table, th)["location"]) <= set(LOCATIONS)
    with pytest.raises(ValueError):
        location_errors(table, th, "L_XYZ")


def test_lower_threshold_trades_fn_for_fp(table: pd.DataFrame) -> None:
    strict, loose = patient_errors(table, _th(0.7)), patient_errors(table, _th(0.3))
    assert (loose["kind"] == "FN").sum() < (strict["kind"] == "FN").sum()
    assert (loose["kind"] == "FP").sum() > (strict["kind"] == "FP").sum()
