"""Column rules and the threshold-rule table on fixed data, and threshold records."""

from __future__ import annotations

import argparse
import json
from typing import get_args

import numpy as np
import pytest

from core.findings import meets_threshold
from core.models.calibration import calibrate, check_target, fit_threshold, location_thresholds
from core.models.threshold_rules import (
    RULE_NAMES,
    THRESHOLD_RULES,
    RuleName,
    ThresholdRuleError,
    get_threshold_rule,
    rules_help,
)
from core.models.thresholds import Thresholds, ThresholdsError
from core.schema import LOCATIONS
from core.studies import list_studies
from core.training import cli as train_cli
from core.training.options import TrainOptions


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
    assert np.mean([meets_threshold(s, rec.threshold) for s in scores[labels == 1]]) == 1.0


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
    assert thr.labels["R_PCA"] == pytest.approx(np.percentile(preds["R_PCA"], 90))
    assert thr.stage1 == pytest.approx(thr.params["stage1"]["threshold"])
    json.dumps(thr.to_dict())  # the record is plain JSON


def test_location_thresholds_need_all_columns() -> None:
    with pytest.raises(ValueError, match="lack location columns"):
        location_thresholds({"L_ICA": np.ones(3)})


def test_thresholds_validate_and_round_trip() -> None:
    thr = Thresholds(0.4, {c: 0.2 for c in reversed(LOCATIONS)}, rule="manual", author="me")
    assert list(thr.require(LOCATIONS).labels) == list(LOCATIONS)
    assert Thresholds.from_dict(thr.to_dict()) == thr
    with pytest.raises(ThresholdsError, match="missing"):
        Thresholds(0.4, {"L_ICA": 0.2}, rule="manual").require(LOCATIONS)
    with pytest.raises(ThresholdsError, match="extra"):
        Thresholds(0.4, {c: 0.2 for c in (*LOCATIONS, "X")}, rule="manual").require(LOCATIONS)
    legacy = thr.to_dict()
    legacy["locations"] = legacy.pop("labels")  # a set saved before studies existed
    assert Thresholds.from_dict(legacy) == thr
    with pytest.raises(ThresholdsError, match="finite"):
        Thresholds(float("nan"), {c: 0.2 for c in LOCATIONS}, rule="manual")
    with pytest.raises(ThresholdsError, match="unknown"):
        Thresholds.from_dict(thr.to_dict() | {"extra": 1})


def test_location_thresholds_follow_the_given_columns() -> None:
    recs = location_thresholds({"b": np.arange(11) / 10, "a": np.ones(3)}, columns=("a", "b"))
    assert list(recs) == ["a", "b"] and recs["b"].threshold == pytest.approx(0.9)


def test_the_table_names_every_rule_once_and_studies_offer_only_its_rules() -> None:
    assert RULE_NAMES == tuple(THRESHOLD_RULES) == get_args(RuleName)
    assert all(name == rule.name for name, rule in THRESHOLD_RULES.items())
    for study in list_studies():
        assert set(study.rules) <= set(RULE_NAMES), study.name
    with pytest.raises(ThresholdRuleError, match="use one of"):
        get_threshold_rule("magic")
    assert [r.uses_target for r in THRESHOLD_RULES.values()] == [False, False, True]


def test_the_original_rule_is_median_and_90th_percentile() -> None:
    rng = np.random.default_rng(1)
    scores, preds = rng.random(25), {c: rng.random(25) for c in LOCATIONS}
    thr = get_threshold_rule("original").fit(scores, preds)
    assert thr.rule == "stage1=median; locations=percentile(q=90.0)"
    assert thr.stage1 == pytest.approx(np.median(scores))
    assert thr.labels["L_MCA"] == pytest.approx(np.percentile(preds["L_MCA"], 90))
    assert thr.to_dict() | {"created": 0} == calibrate(scores, preds).to_dict() | {"created": 0}
    assert THRESHOLD_RULES["original"].label == "original rule (median / 90th percentile)"


@pytest.mark.parametrize("name", ["youden", "sensitivity"])
def test_roc_rules_of_the_table_fit_both_stages_with_labels(name: str) -> None:
    rng = np.random.default_rng(2)
    preds = {c: rng.random(40) for c in LOCATIONS}
    labels = {c: (preds[c] > 0.6).astype(int) for c in LOCATIONS}
    scores = rng.random(40)
    thr = get_threshold_rule(name).fit(
        scores, preds, patient_labels=(scores > 0.5).astype(int), location_labels=labels,
        target=0.8,
    )  # fmt: skip
    assert thr.params["stage1"]["rule"] == name and thr.params["fallbacks"] == []
    assert thr.params["requested"]["target"] == 0.8
    want = "sensitivity(target=0.8)" if name == "sensitivity" else "youden"
    assert thr.rule == f"stage1={name}; locations={want}"


def test_cli_and_training_options_derive_from_the_table() -> None:
    parser = argparse.ArgumentParser()
    train_cli.configure(parser)
    action = next(a for a in parser._actions if a.dest == "threshold_rule")
    assert tuple(action.choices) == RULE_NAMES and action.default == "original"
    assert all(name in action.help for name in RULE_NAMES) and action.help == (
        f"fitted on the training patients; {rules_help()}"
    )
    for name in RULE_NAMES:
        assert TrainOptions(threshold_rule=name).threshold_rule == name  # type: ignore[arg-type]
    with pytest.raises(ThresholdRuleError):
        TrainOptions(threshold_rule="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target"):
        TrainOptions(target_sensitivity=1.5)


def test_target_sensitivity_must_be_reachable() -> None:
    assert check_target(1) == 1.0
    for bad in (0.0, 1.01, float("nan"), "x"):
        with pytest.raises(ValueError, match="target"):
            check_target(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target"):
        fit_threshold(np.ones(3), np.array([0, 1, 1]), rule="sensitivity", target=2.0)
