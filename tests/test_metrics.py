"""Metrics: agreement with scikit-learn, the K-Ium accuracy and floor by hand, bootstrap
determinism, and the pointing game on hand-built peaks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from core.metrics.binary import (
    auroc,
    binarize,
    confusion_counts,
    operating_point,
    pr_table,
    roc_table,
)
from core.metrics.bootstrap import (
    bootstrap_indices,
    bootstrap_intervals,
    resample_counts,
    resampled_auroc,
)
from core.metrics.files import pointing_from_files, view_targets
from core.metrics.locations import (
    all_zero_floor,
    kium_location_accuracy,
    macro_auroc,
    per_location_table,
    weighted_auroc,
)
from core.metrics.pointing import pointing_game, pointing_hits
from core.metrics.report import EvaluationError, evaluate_tables
from core.schema import LOCATIONS, TRAIN_COLUMNS


def test_auroc_matches_sklearn_and_is_none_for_one_class() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50)
    s = rng.random(50) + 0.3 * y
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert auroc(np.zeros(5), np.arange(5)) is None
    assert auroc(np.ones(5), np.arange(5)) is None


def test_operating_point_by_hand() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.6, 0.2, 0.7, 0.3, 0.1, 0.5])
    op = operating_point(y, s, 0.5)  # >= 0.5: 0.9, 0.6, 0.7, 0.5
    assert (op["tp"], op["fn"], op["fp"], op["tn"]) == (2, 1, 2, 2)
    assert op["sensitivity"] == pytest.approx(2 / 3)
    assert op["specificity"] == pytest.approx(2 / 4)
    assert op["ppv"] == pytest.approx(2 / 4)
    assert binarize([0.5, 0.49], 0.5).tolist() == [1, 0]  # the project's >= convention


def test_confusion_counts_keep_absent_classes() -> None:
    assert confusion_counts([0, 0, 0], [0, 0, 0]) == {"tp": 0, "fp": 0, "fn": 0, "tn": 3}
    assert operating_point([0, 0], [0.1, 0.9], 0.5)["sensitivity"] is None


def test_curves_have_sklearn_shapes() -> None:
    y, s = np.array([0, 1, 0, 1]), np.array([0.1, 0.8, 0.4, 0.35])
    roc = roc_table(y, s)
    assert roc["tpr"].iloc[-1] == 1.0 and roc["fpr"].iloc[0] == 0.0
    pr = pr_table(y, s)
    assert np.isnan(pr["threshold"].iloc[-1]) and pr["recall"].iloc[-1] == 0.0
    assert roc_table([0, 0], [0.1, 0.2]).empty


def test_kium_accuracy_and_floor_by_hand() -> None:
    truth = np.zeros((3, 21), dtype=int)
    truth[0, 0] = truth[1, 11] = truth[1, 12] = 1  # three true locations
    pred = np.zeros_like(truth)
    pred[0, 0] = 1  # hit
    pred[2, 18] = 1  # false positive; the two of patient 1 are missed
    assert kium_location_accuracy(truth, pred) == pytest.approx(1 - 3 / 63)
    assert all_zero_floor(truth) == pytest.approx(1 - 3 / 63)
    assert kium_location_accuracy(truth, truth) == 1.0
    with pytest.raises(ValueError, match="0/1"):
        kium_location_accuracy(truth, pred * 0.5)


def test_per_location_table_matches_sklearn() -> None:
    rng = np.random.default_rng(1)
    cols = ["a", "b", "c"]
    truth = pd.DataFrame(rng.integers(0, 2, (40, 3)), columns=cols)
    truth["c"] = 0  # no positives: AUROC undefined
    prob = pd.DataFrame(rng.random((40, 3)), columns=cols)
    pred = (prob >= 0.5).astype(int)
    table = per_location_table(truth, prob, pred, cols)
    for c in ("a", "b"):
        assert table.loc[c, "auroc"] == pytest.approx(roc_auc_score(truth[c], prob[c]))
        assert table.loc[c, "f1"] == pytest.approx(f1_score(truth[c], pred[c]))
        assert table.loc[c, "support"] == truth[c].sum()
    assert np.isnan(table.loc["c", "auroc"])
    m, n = macro_auroc(table["auroc"].to_numpy())
    assert n == 2 and m == pytest.approx(table.loc[["a", "b"], "auroc"].mean())
    assert weighted_auroc(0.9, 0.7) == pytest.approx(0.8)
    assert weighted_auroc(None, 0.7) is None


def test_bootstrap_is_deterministic_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 80)
    s = rng.random(80) + 0.5 * y

    def stat(counts: np.ndarray) -> dict[str, np.ndarray]:
        return {"auc": resampled_auroc(y, s, counts)}

    a = bootstrap_intervals(stat, 80, n_boot=200, seed=7)["auc"]
    b = bootstrap_intervals(stat, 80, n_boot=200, seed=7)["auc"]
    assert a == b and a.n_valid == 200
    assert a.low < auroc(y, s) < a.high


def test_resampled_auroc_is_sklearn_with_draw_multiplicities() -> None:
    """Each resample's AUROC equals roc_auc_score on the drawn rows, ties and all."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 60)
    s = np.round(rng.random(60) + 0.3 * y, 1)  # coarse scores: many ties
    idx = bootstrap_indices(60, 50, seed=3)
    counts = resample_counts(60, 50, seed=3)
    fast = resampled_auroc(y, s, counts)
    for b in range(50):
        drawn = idx[b]
        if len(set(y[drawn])) < 2:
            assert np.isnan(fast[b])
        else:
            assert fast[b] == pytest.approx(roc_auc_score(y[drawn], s[drawn]), abs=1e-12)
    one_class = resampled_auroc(np.ones(5), np.arange(5), np.ones((1, 5)))
    assert np.isnan(one_class).all()


def test_pointing_hits_by_hand() -> None:
    peaks = [(100, 100), (100, 100), (300, 50), (10, 10)]
    targets = [
        [(110, 100, 5)],  # 10 px away, radius 5 + margin 6 -> hit
        [(110, 100, 2)],  # radius 2 + margin 6 = 8 < 10 -> miss
        [(0, 0, 5), (305, 50, 1)],  # the second aneurysm is hit
        [],  # no aneurysm in this view -> never a hit
    ]
    assert pointing_hits(peaks, targets, 6).tolist() == [True, False, True, False]
    res = pointing_game(peaks, targets, [(120, 100)] * 4, margin_frac=0.05)  # margin 6 px
    assert (res.hits, res.n_views) == (2, 3)
    assert res.hit_rate == pytest.approx(2 / 3)
    assert res.to_dict()["margin_frac"] == 0.05


def _tables(n: int = 30, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    loc = np.zeros((n, 21), dtype=int)
    loc[rng.random(n) < 0.5, 0] = 1
    loc[:5, 11] = 1
    truth = pd.DataFrame(loc, columns=list(LOCATIONS))
    truth.insert(0, "Aneurysm", loc.max(axis=1))
    truth.insert(0, "Index", np.arange(n) + 100)
    prob = truth[["Index"]].copy()
    for c in LOCATIONS:
        prob[c] = np.clip(truth[c] * 0.5 + rng.random(n) * 0.6, 0, 1)
    pred = prob.copy()
    pred[list(LOCATIONS)] = (prob[list(LOCATIONS)] >= 0.5).astype(int)
    pred.insert(1, "Aneurysm", np.clip(truth["Aneurysm"] * 0.4 + rng.random(n) * 0.7, 0, 1))
    return truth[list(TRAIN_COLUMNS)], pred[list(TRAIN_COLUMNS)], prob


def test_evaluate_tables_report() -> None:
    truth, pred, prob = _tables()
    rep = evaluate_tables(
        truth, pred.sample(frac=1, random_state=0), prob, thresholds=[0.5], n_boot=50
    )
    assert rep["aneurysm"]["auroc"] == pytest.approx(
        roc_auc_score(truth["Aneurysm"], pred["Aneurysm"])
    )
    macro = rep["location_macro_auroc"]
    assert macro["n_defined"] == 2 and macro["of"] == 21
    assert rep["locations"]["BA"]["auroc"] is None and rep["locations"]["BA"]["support"] == 0
    acc = rep["location_accuracy"]
    assert acc["all_zero_floor"] == pytest.approx(1 - truth[list(LOCATIONS)].to_numpy().mean())
    assert rep["weighted_auroc"]["value"] == pytest.approx(
        0.5 * rep["aneurysm"]["auroc"] + 0.5 * macro["value"]
    )
    lo, hi = rep["aneurysm"]["auroc_ci95"]
    assert lo <= rep["aneurysm"]["auroc"] <= hi


def test_evaluate_tables_refuses_mismatched_patients() -> None:
    truth, pred, prob = _tables()
    with pytest.raises(EvaluationError, match="patients differ"):
        evaluate_tables(truth, pred.iloc[1:], prob, n_boot=0)


def test_pointing_from_predict_and_truth_files(tmp_path: Path) -> None:
    truth = {
        "images": {
            "0007LI-A.jpg": {"patient": 7, "view": "LI-A", "size": [200, 100],
                             "aneurysms": [{"location": "L_MCA", "center": [50, 50], "radius": 4}]},
            "0007LI-B.jpg": {"patient": 7, "view": "LI-B", "size": [200, 100], "aneurysms": []},
            "0008LI-A.jpg": {"patient": 8, "view": "LI-A", "size": [200, 100],
                             "aneurysms": [{"location": "L_ICA", "center": [150, 20], "radius": 5}]},
        }
    }  # fmt: skip
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    views = pd.DataFrame(
        {
            "Index": [7, 7, 8],
            "View": ["LI-A", "LI-B", "LI-A"],
            "cam_peak_x": [60, 10, np.nan],  # 10 px off: hit (4 + 0.05 * 200); no map: miss
            "cam_peak_y": [50, 10, np.nan],
            "width": [200, 200, 200],
            "height": [100, 100, 100],
        }
    )
    views.to_csv(tmp_path / "out.views.csv", index=False)
    targets = view_targets(truth, views)
    assert [len(t) for t in targets] == [1, 0, 1]
    res = pointing_from_files(tmp_path / "out.views.csv", tmp_path / "truth.json")
    assert res is not None and (res.hits, res.n_views) == (1, 2)
    assert pointing_from_files(tmp_path / "missing.csv", tmp_path / "truth.json") is None


def test_counts_and_f1_equal_scikit_learns() -> None:
    """Counted with one bincount for speed; scikit-learn is the reference."""
    from sklearn.metrics import confusion_matrix, f1_score

    from core.metrics.binary import f1

    rng = np.random.default_rng(0)
    for n, p_true, p_pred in [(200, 0.1, 0.2), (50, 0.5, 0.5), (30, 0.0, 0.0), (30, 0.0, 0.3),
                              (10, 1.0, 1.0), (1, 1.0, 0.0)]:  # fmt: skip
        y = (rng.random(n) < p_true).astype(int)
        p = (rng.random(n) < p_pred).astype(int)
        tn, fp, fn, tp = confusion_matrix(y, p, labels=[0, 1]).ravel()
        assert confusion_counts(y, p) == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
        assert f1(y, p) == pytest.approx(f1_score(y, p, zero_division=0.0))
    with pytest.raises(ValueError, match="3 labels but 2 predictions"):
        confusion_counts([0, 1, 1], [0, 1])
