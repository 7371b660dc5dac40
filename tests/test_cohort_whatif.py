"""The what-if path against scikit-learn computed independently on the same fixed table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score, roc_curve

from core.cohort.synthetic import synthetic_table
from core.cohort.table import (
    PROB_COLUMNS,
    SCORE,
    TableError,
    prob_frame,
    truth_frame,
    validate_table,
)
from core.cohort.whatif import (
    CALIBRATION_RULES,
    decisions,
    interval_report,
    location_summary,
    prediction_frame,
    ranking_report,
    suggest_thresholds,
    what_if,
    with_values,
)
from core.metrics.report import evaluate_tables
from core.models.threshold_rules import THRESHOLD_RULES, ThresholdRuleError
from core.models.thresholds import Thresholds
from core.schema import LOCATIONS


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return synthetic_table(150, seed=3)


def _thresholds(stage1: float, loc: float = 0.3) -> Thresholds:
    return Thresholds(stage1, {c: loc for c in LOCATIONS}, "test")


def test_stage1_metrics_match_sklearn(table: pd.DataFrame) -> None:
    y, s = table["Aneurysm"].to_numpy(), table[SCORE].to_numpy()
    t = float(np.quantile(s, 0.55))
    r = what_if(table, _thresholds(t))
    assert r.report["aneurysm"]["auroc"] == pytest.approx(roc_auc_score(y, s))
    tn, fp, fn, tp = confusion_matrix(y, (s >= t).astype(int)).ravel()
    p = r.stage1_point
    assert (p["tp"], p["fp"], p["fn"], p["tn"]) == (tp, fp, fn, tn)
    assert p["sensitivity"] == pytest.approx(tp / (tp + fn))
    assert p["specificity"] == pytest.approx(tn / (tn + fp))


def test_location_metrics_match_sklearn_with_gating(table: pd.DataFrame) -> None:
    s = table[SCORE].to_numpy()
    th = _thresholds(float(np.median(s)), 0.35)
    r = what_if(table, th)
    probs = table[list(PROB_COLUMNS)].to_numpy()
    truth = table[list(LOCATIONS)].to_numpy()
    gated = ((probs >= 0.35) & (s >= th.stage1)[:, None]).astype(int)
    assert (r.decisions[list(LOCATIONS)].to_numpy() == gated).all()
    assert r.report["location_accuracy"]["kium"] == pytest.approx(1 - np.abs(truth - gated).mean())
    assert r.report["location_accuracy"]["all_zero_floor"] == pytest.approx(1 - truth.mean())
    summary = location_summary(r)
    aurocs = []
    for j, c in enumerate(LOCATIONS):
        assert summary.loc[c, "f1"] == pytest.approx(
            f1_score(truth[:, j], gated[:, j], zero_division=0)
        )
        tn, fp, fn, tp = confusion_matrix(truth[:, j], gated[:, j], labels=[0, 1]).ravel()
        assert tuple(summary.loc[c, ["tp", "fp", "fn", "tn"]]) == (tp, fp, fn, tn)
        if 0 < truth[:, j].sum() < len(truth):
            auc = roc_auc_score(truth[:, j], probs[:, j])  # ungated: threshold-free ranking
            assert summary.loc[c, "auroc"] == pytest.approx(auc)
            aurocs.append(auc)
            if tp + fn:
                assert summary.loc[c, "sensitivity"] == pytest.approx(tp / (tp + fn))
        else:
            assert np.isnan(summary.loc[c, "auroc"])
    macro = r.report["location_macro_auroc"]["value"]
    assert macro == pytest.approx(np.mean(aurocs))
    assert r.report["weighted_auroc"]["value"] == pytest.approx(
        0.5 * roc_auc_score(table["Aneurysm"], s) + 0.5 * macro
    )


def test_threshold_change_changes_counts_only(table: pd.DataFrame) -> None:
    low, high = what_if(table, _thresholds(0.3)), what_if(table, _thresholds(0.7))
    assert (
        low.stage1_point["tp"] + low.stage1_point["fp"]
        > high.stage1_point["tp"] + high.stage1_point["fp"]
    )
    assert low.report["aneurysm"]["auroc"] == high.report["aneurysm"]["auroc"]
    # a stricter stage 1 gates more patients out, so no location can gain positives
    assert (
        high.decisions[list(LOCATIONS)].to_numpy() <= low.decisions[list(LOCATIONS)].to_numpy()
    ).all()


def test_youden_suggestion_is_the_roc_optimum(table: pd.DataFrame) -> None:
    y, s = table["Aneurysm"].to_numpy(), table[SCORE].to_numpy()
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    best = np.max((tpr - fpr)[np.isfinite(thr)])
    th = suggest_thresholds(table, "youden")
    p = what_if(table, th).stage1_point
    assert p["sensitivity"] - (1 - p["specificity"]) == pytest.approx(best)
    assert th.params["fitted_on"] == "cohort of 150 patients"


def test_sensitivity_and_original_suggestions(table: pd.DataFrame) -> None:
    sens = suggest_thresholds(table, "sensitivity", target=0.95)
    assert what_if(table, sens).stage1_point["sensitivity"] >= 0.95
    orig = suggest_thresholds(table, "original")
    assert orig.stage1 == pytest.approx(np.median(table[SCORE]))
    assert orig.labels["L_MCA"] == pytest.approx(np.percentile(table["prob_L_MCA"], 90))
    with pytest.raises(ThresholdRuleError, match="use one of"):
        suggest_thresholds(table, "magic")  # type: ignore[arg-type]


def test_the_picker_offers_the_rule_table(table: pd.DataFrame) -> None:
    assert CALIBRATION_RULES == tuple(THRESHOLD_RULES)
    for name, rule in THRESHOLD_RULES.items():
        got = suggest_thresholds(table, name, target=0.8)  # type: ignore[arg-type]
        want = rule.fit(
            table[SCORE].to_numpy(float),
            {c: table[p].to_numpy(float) for c, p in zip(LOCATIONS, PROB_COLUMNS, strict=True)},
            patient_labels=table["Aneurysm"].to_numpy(int),
            location_labels={c: table[c].to_numpy(int) for c in LOCATIONS},
            target=0.8,
        )
        assert (got.stage1, got.labels, got.rule) == (want.stage1, want.labels, want.rule)
        assert got.author == "cohort page" and got.params["requested"] == want.params["requested"]


def test_with_values_records_its_origin(table: pd.DataFrame) -> None:
    base = suggest_thresholds(table, "original")
    locs = dict(base.labels) | {"BA": 0.9}
    moved = with_values(base, 0.42, locs, author="me", rule="hand-tuned")
    assert moved.stage1 == 0.42 and moved.labels["BA"] == 0.9
    assert moved.params["locations_changed"] == ["BA"] and moved.params["stage1_changed"]


def test_interval_report_brackets_the_estimate(table: pd.DataFrame) -> None:
    iv = interval_report(table, n_boot=60, seed=1)
    auc = roc_auc_score(table["Aneurysm"], table[SCORE])
    lo, hi = iv["aneurysm"]
    assert lo <= auc <= hi and hi - lo > 0
    assert set(iv["locations"]) == set(LOCATIONS) and iv["bootstrap"]["n"] == 60
    assert iv == interval_report(table, n_boot=60, seed=1)  # fixed seed: reproducible


def test_decisions_shape_and_validation(table: pd.DataFrame) -> None:
    d = decisions(table, _thresholds(0.5))
    assert list(d.columns) == ["Index", "Aneurysm", *LOCATIONS] and len(d) == len(table)
    bad = table.copy()
    bad.loc[0, "prob_BA"] = 1.5
    with pytest.raises(TableError):
        validate_table(bad)
    with pytest.raises(TableError, match="lacks columns"):
        validate_table(table.drop(columns="score"))


def test_report_equals_the_full_core_metrics_report(table: pd.DataFrame) -> None:
    """Reusing the threshold-free rankings must not change a single number."""
    th = _thresholds(0.45, 0.33)
    full = evaluate_tables(
        truth_frame(table),
        prediction_frame(table, th),
        prob_frame(table),
        thresholds=(0.45,),
        n_boot=0,
    )
    assert what_if(table, th).report == full
    assert what_if(table, th, ranking_report(table)).report == full
