"""Threshold rules on fixed data, threshold records, and named threshold sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.models.calibration import calibrate, fit_threshold, location_thresholds
from core.models.thresholds import (
    Thresholds,
    ThresholdsError,
    decide,
    list_threshold_sets,
    load_threshold_set,
    save_threshold_set,
)
from core.schema import LOCATIONS


def test_original_rules_median_and_90th_percentile() -> None:
    assert fit_threshold(np.array([0.1, 0.2, 0.3, 0.4, 0.9]), rule="median").threshold == 0.3
    rec = fit_threshold(np.arange(11) / 10, rule="percentile", q=90)
    assert rec.threshold == pytest.approx(0.9) and rec.params == {"q": 90}


def test_youden_picks_the_separating_point() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    labels = np.array([0, 0, 0, 1, 1, 1])
    rec = fit_threshold(scores, labels, rule="youden")
    assert rec.threshold == 0.6 and rec.params == {"tpr": 1.0, "fpr": 0.0}


def test_sensitivity_takes_the_highest_threshold_reaching_the_target() -> None:
    scores = np.array([0.1, 0.35, 0.4, 0.8])
    labels = np.array([0, 1, 0, 1])
    assert fit_threshold(scores, labels, rule="sensitivity", target=0.5).threshold == 0.8
    rec = fit_threshold(scores, labels, rule="sensitivity", target=1.0)
    assert rec.threshold == 0.35 and rec.params["fpr"] == 0.5
    # the decision rule reproduces the reported operating point
    assert np.mean([decide(s, rec.threshold) for s in scores[labels == 1]]) == 1.0


@pytest.mark.parametrize("rule", ["youden", "sensitivity"])
def test_roc_rules_fall_back_without_positives(rule: str) -> None:
    scores = np.linspace(0, 1, 11)
    rec = fit_threshold(scores, np.zeros(11), rule=rule, q=90)  # type: ignore[arg-type]
    assert rec.rule == "percentile" and rec.threshold == pytest.approx(0.9)
    assert "no positives" in rec.note
    assert "needs labels" in fit_threshold(scores, None, rule=rule).note  # type: ignore[arg-type]


def test_calibrate_records_rules_and_fallbacks() -> None:
    rng = np.random.default_rng(0)
    preds = {c: rng.random(30) for c in LOCATIONS}
    labels = {c: (preds[c] > 0.5).astype(int) for c in LOCATIONS}
    labels["R_PCA"] = np.zeros(30, int)  # a location never positive in training
    thr = calibrate(rng.random(30), preds, patient_labels=rng.integers(0, 2, 30),
                    location_labels=labels, location_rule="youden")  # fmt: skip
    assert thr.rule == "stage1=median; locations=youden"
    assert thr.params["fallbacks"] == ["R_PCA"]
    assert thr.params["locations"]["R_PCA"]["rule"] == "percentile"
    assert thr.params["locations"]["L_ICA"]["rule"] == "youden"
    assert thr.locations["R_PCA"] == pytest.approx(np.percentile(preds["R_PCA"], 90))
    assert thr.stage1 == pytest.approx(thr.params["stage1"]["threshold"])
    json.dumps(thr.to_dict())  # the record is plain JSON


def test_location_thresholds_need_all_columns() -> None:
    with pytest.raises(ValueError, match="lack location columns"):
        location_thresholds({"L_ICA": np.ones(3)})


def test_thresholds_validate_and_round_trip() -> None:
    thr = Thresholds(0.4, {c: 0.2 for c in reversed(LOCATIONS)}, rule="manual", author="me")
    assert list(thr.locations) == list(LOCATIONS)
    assert Thresholds.from_dict(thr.to_dict()) == thr
    with pytest.raises(ThresholdsError, match="missing"):
        Thresholds(0.4, {"L_ICA": 0.2}, rule="manual")
    with pytest.raises(ThresholdsError, match="finite"):
        Thresholds(float("nan"), {c: 0.2 for c in LOCATIONS}, rule="manual")
    with pytest.raises(ThresholdsError, match="unknown"):
        Thresholds.from_dict(thr.to_dict() | {"extra": 1})


def test_named_sets_live_beside_the_bundle(tmp_path: Path) -> None:
    (tmp_path / "bundle.json").write_text("{}")
    thr = Thresholds(0.4, {c: 0.2 for c in LOCATIONS}, rule="manual", author="cohort page")
    path = save_threshold_set(tmp_path, "high-sens", thr)
    assert path == tmp_path / "thresholds" / "high-sens.json"
    assert list_threshold_sets(tmp_path) == ["high-sens"]
    assert load_threshold_set(tmp_path, "high-sens") == thr
    with pytest.raises(ThresholdsError, match="exists"):
        save_threshold_set(tmp_path, "high-sens", thr)
    for bad in ("../bundle", "a/b", "", "x.json"):
        with pytest.raises(ThresholdsError):
            save_threshold_set(tmp_path, bad, thr)
    assert (tmp_path / "bundle.json").read_text() == "{}"
