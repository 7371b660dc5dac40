"""Location threshold sets that beat flagging nothing: the column fits on hand-made scores,
the all-zeros floor by hand, sets fitted on one draw and judged on another (two different
generators), the training finish's shipped sets, and ``python -m core thresholds``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from models_fixtures import write_tiny_bundle

from core.__main__ import main as cli_main
from core.cohort.location_sets import (
    COMPARISON_COLUMNS,
    compare_sets,
    fit_on_table,
    fit_validation_sets,
    table_from_arrays,
)
from core.cohort.synthetic import synthetic_table, write_cohort
from core.cohort.table import PROB_COLUMNS, SCORE
from core.models.calibration import calibrate
from core.models.location_rules import (
    NEVER,
    LocationRule,
    LocationRuleError,
    fit_column,
    fit_location_set,
    parse_location_rule,
)
from core.models.threshold_sets import list_threshold_sets, load_threshold_set
from core.models.thresholds import Thresholds
from core.schema import LOCATIONS, TRAIN_COLUMNS
from core.training.finish import validation_sets
from core.training.pipeline import PatientPredictions

PRECISION = LocationRule("precision", 0.8)
F1 = LocationRule("f1")

# ---- one column, by hand -------------------------------------------------------------
#: Cuts (>=): 0.9 → TP1 FP0; 0.8 → 2/0; 0.7 → 2/1; 0.6 → 3/1; 0.1 → 3/2.
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.1])
LABELS = np.array([1, 1, 0, 1, 0])


def test_precision_rule_takes_the_lowest_threshold_reaching_the_target() -> None:
    rec = fit_column(SCORES, LABELS, PRECISION)
    assert rec.threshold == pytest.approx(0.75)  # cut at 0.8, halfway to 0.7
    assert (rec.params["tp"], rec.params["fp"]) == (2, 0)
    rec = fit_column(SCORES, LABELS, LocationRule("precision", 0.75))
    assert rec.threshold == pytest.approx(0.35) and rec.params["precision"] == 0.75


def test_f1_rule_takes_the_best_f1() -> None:
    # F1 = 2TP / (TP + FP + 3): 0.5, 0.8, 0.667, 0.857, 0.75 -> the cut at 0.6
    rec = fit_column(SCORES, LABELS, F1)
    assert rec.threshold == pytest.approx(0.35) and (rec.params["tp"], rec.params["fp"]) == (3, 1)


def test_too_few_true_positives_never_flag() -> None:
    rec = fit_column(SCORES, LABELS, PRECISION, min_tp=3)  # 3 TPs only at precision 0.75
    assert rec.threshold == NEVER and rec.note.startswith("never flagged")
    assert fit_column(SCORES, np.zeros(5), F1).threshold == NEVER  # no positive at all
    assert fit_column(SCORES, LABELS, F1, min_tp=1).threshold == pytest.approx(0.35)


def test_gated_out_patients_count_for_nothing() -> None:
    gated = np.where([True, True, True, False, True], SCORES, -np.inf)  # the 0.6 TP gated out
    rec = fit_column(gated, LABELS, LocationRule("precision", 0.7))
    assert rec.threshold == pytest.approx(0.75)  # 0.6 no longer reachable: 2/0 is the best


def test_location_sets_keep_the_gate() -> None:
    scores = np.array([0.9, 0.9, 0.9, 0.1, 0.1, 0.1])  # the last three are gated out
    probs = {c: np.array([0.8, 0.7, 0.2, 0.95, 0.9, 0.85]) for c in LOCATIONS}
    labels = {c: np.array([1, 1, 0, 1, 1, 0]) for c in LOCATIONS}
    thr = fit_location_set(scores, probs, labels, stage1=0.5, rule=PRECISION, fitted_on="x")
    assert thr.stage1 == 0.5 and thr.params["fitted_on"] == "x"
    assert all(v == pytest.approx(0.45) for v in thr.labels.values())  # 0.7 .. 0.2
    assert thr.rule.startswith("stage1=kept; locations=precision>=0.8")


def test_rules_parse_from_the_command_line() -> None:
    assert parse_location_rule("f1") == F1
    assert parse_location_rule("precision=0.8") == PRECISION and PRECISION.slug() == "precision80"
    for bad in ("f2", "precision", "precision=1.5", "precision=x", "f1=0.3"):
        with pytest.raises(LocationRuleError):
            parse_location_rule(bad)


# ---- the floor, by hand --------------------------------------------------------------


def _tiny_table() -> pd.DataFrame:
    """Three patients: #1 has L_ICA and BA, #2 nothing, #3 R_MCA; 63 cells, 3 ones."""
    truth = pd.DataFrame(0, index=[1, 2, 3], columns=list(TRAIN_COLUMNS[1:]))
    truth.loc[1, ["Aneurysm", "L_ICA", "BA"]] = 1
    truth.loc[3, ["Aneurysm", "R_MCA"]] = 1
    probs = {c: np.array([0.2, 0.2, 0.2]) for c in LOCATIONS}
    probs["L_ICA"] = np.array([0.9, 0.95, 0.1])  # right on #1, wrong on #2
    probs["R_MCA"] = np.array([0.1, 0.1, 0.9])  # right on #3
    return table_from_arrays([1, 2, 3], np.array([0.8, 0.7, 0.9]), probs, truth)


def test_the_floor_and_the_accuracy_by_hand() -> None:
    table = _tiny_table()
    flags = Thresholds(0.5, {c: 0.5 for c in LOCATIONS}, "by hand")  # 3 flags: 2 TP, 1 FP
    gated = Thresholds(0.75, {c: 0.5 for c in LOCATIONS}, "gate")  # #2 gated out: 2 TP
    out = compare_sets(table, {"flags": flags, "gated": gated})
    assert list(out.columns) == list(COMPARISON_COLUMNS)
    assert out["all_zero_floor"].tolist() == pytest.approx([60 / 63, 60 / 63])
    assert out["kium_accuracy"].tolist() == pytest.approx([61 / 63, 62 / 63])
    assert out["vs_floor"].tolist() == pytest.approx([1 / 63, 2 / 63])
    assert out["flags_per_patient"].tolist() == pytest.approx([1.0, 2 / 3])
    assert (out["location_tp"].tolist(), out["location_fp"].tolist()) == ([2, 2], [1, 0])
    assert out["sensitivity"].tolist() == [1.0, 1.0] and out["specificity"].tolist() == [0.0, 1.0]


# ---- fitted on one draw, judged on another, from two generators --------------------


def _other_source(n: int, seed: int) -> pd.DataFrame:
    """A deliberately different generator: 30 % positives, every location equally likely,
    one to three per patient, beta-distributed probabilities, a gate score of its own."""
    rng = np.random.default_rng(seed)
    positive = rng.random(n) < 0.3
    labels = np.zeros((n, len(LOCATIONS)), dtype=int)
    for i in np.flatnonzero(positive):
        labels[i, rng.choice(len(LOCATIONS), size=int(rng.integers(1, 4)), replace=False)] = 1
    probs = np.where(labels == 1, rng.beta(6, 2, labels.shape), rng.beta(2, 6, labels.shape))
    truth = pd.DataFrame(labels, columns=list(LOCATIONS), index=np.arange(1, n + 1))
    truth.insert(0, "Aneurysm", positive.astype(int))
    gate = np.clip(np.where(positive, rng.normal(0.7, 0.15, n), rng.normal(0.35, 0.15, n)), 0, 1)
    return table_from_arrays(
        truth.index, gate, {c: probs[:, j] for j, c in enumerate(LOCATIONS)}, truth
    )


SOURCES = {
    "kium-like": lambda n, seed: synthetic_table(n, seed=seed, separation=3.0),
    "beta": _other_source,
}


def _original(table: pd.DataFrame) -> Thresholds:
    return calibrate(
        table[SCORE].to_numpy(float),
        {c: table[p].to_numpy(float) for c, p in zip(LOCATIONS, PROB_COLUMNS, strict=True)},
    )


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("rule", [PRECISION, F1], ids=["precision", "f1"])
def test_a_set_fitted_on_one_draw_beats_the_floor_on_another(source: str, rule: object) -> None:
    fit_on, judged_on = SOURCES[source](300, 1), SOURCES[source](400, 2)
    original = _original(fit_on)
    fitted = fit_on_table(fit_on, rule, stage1=original.stage1, author="t", fitted_on="draw 1")
    for table in (fit_on, judged_on):
        row = compare_sets(table, {"original": original, "fitted": fitted}).set_index("set")
        assert row.loc["original", "vs_floor"] < 0  # the 90th percentile flags too much
        assert row.loc["fitted", "vs_floor"] > 0.002, (source, row)
        assert row.loc["fitted", "sensitivity"] == row.loc["original", "sensitivity"]  # gate kept


def test_uninformative_scores_flag_nothing_rather_than_lose() -> None:
    table = synthetic_table(300, seed=3, separation=0.0)
    fitted = fit_on_table(table, PRECISION, stage1=0.0, author="t", fitted_on="noise")
    row = compare_sets(table, {"fitted": fitted}).iloc[0]
    assert row["vs_floor"] >= 0 and row["flags_per_patient"] < 0.05


# ---- where the sets come from: the training finish and the command line -------------


def test_training_ships_validation_sets_that_beat_the_floor_there() -> None:
    table = synthetic_table(120, seed=5, separation=3.0)
    truth = table.set_index("Index")[list(TRAIN_COLUMNS[1:])]
    va = PatientPredictions(
        {}, {}, table[["Index"]].assign(Aneurysm=table[SCORE]),
        table[["Index"]].assign(**{c: table[p] for c, p in zip(LOCATIONS, PROB_COLUMNS)}),
    )  # fmt: skip
    base = _original(table)
    sets, rows = validation_sets(va, truth, base)
    assert list(sets) == ["precision80-validation"]
    assert [r["set"] for r in rows] == ["original", "precision80-validation"]
    assert rows[0]["vs_floor"] < 0 < rows[1]["vs_floor"]
    assert sets["precision80-validation"].stage1 == base.stage1
    again = fit_validation_sets(table, base, [F1])
    assert list(again) == ["f1-validation"] and again["f1-validation"].stage1 == base.stage1


def _labelled_folder(root: Path, n: int) -> Path:
    """A K-Ium folder with decodable images: the tiny bundle must run on it."""
    import cv2
    from models_fixtures import dsa_like

    from core.schema import VIEWS

    table = synthetic_table(n, seed=11)
    write_cohort(root, table)
    rng = np.random.default_rng(0)
    for i in table["Index"]:
        for v in VIEWS:
            cv2.imwrite(str(root / f"{i}{v}.jpg"), dsa_like(rng, 90, 120, 6))
    return root


def test_the_thresholds_command_fits_saves_and_compares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path))
    bundle = write_tiny_bundle(tmp_path / "bundles" / "tiny")
    data = _labelled_folder(tmp_path / "cohort", 6)
    args = ["thresholds", "fit", str(bundle), str(data), "--patients", "all", "--rule", "f1",
            "--min-tp", "1", "--name", "dev-f1"]  # fmt: skip
    assert cli_main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert list_threshold_sets(bundle) == ["original", "dev-f1"]
    saved = load_threshold_set(bundle, "dev-f1")
    assert saved.stage1 == load_threshold_set(bundle, "original").stage1
    assert "6 all patients of cohort" in saved.params["fitted_on"]
    rows = {r["set"]: r for r in report["sets"]}
    assert set(rows) == {"original", "dev-f1"}
    floor = rows["original"]["all_zero_floor"]
    assert rows["dev-f1"]["all_zero_floor"] == floor and 0.8 < floor < 1.0
    assert rows["dev-f1"]["kium_accuracy"] >= floor  # fitted on these very patients
    assert cli_main(["thresholds", "compare", str(bundle), str(data)]) == 2  # no val split here
