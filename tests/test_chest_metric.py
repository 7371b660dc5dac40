"""The chest yardstick: VOC AP by hand and against an independent reference, the matching
rules (duplicates, "No finding", the IoU edge), reader fusion, Fleiss' kappa, the
baselines and ``evaluate`` choosing the study from the folder's layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.__main__ import main
from core.metrics.cli import data_study
from core.schema import LOCATIONS
from core.schema import TRAIN_COLUMNS as KIUM_COLUMNS
from core.studies.chest.agreement import fleiss_kappa, matched_ious, reader_agreement
from core.studies.chest.annotations import Annotations, check_rows
from core.studies.chest.baselines import class_priors, mean_box_baseline, no_finding_baseline
from core.studies.chest.classes import ALL_LABELS, NO_FINDING_ID, TRAIN_COLUMNS
from core.studies.chest.fusion import (
    DEFAULT_FUSION,
    FusionError,
    FusionSettings,
    fuse_boxes,
    fuse_readers,
    fused_to_train,
    iou_matrix,
)
from core.studies.chest.metric import (
    average_precision,
    match_all,
    match_class,
    mean_average_precision,
)
from core.studies.chest.metric_report import ap_by_size, chest_report, operating_points
from core.studies.chest.submission import write_submission

NODULE = 8


def _ann(rows: list[tuple], sizes: dict[str, tuple[int, int]]) -> Annotations:
    raw = pd.DataFrame(rows, columns=list(TRAIN_COLUMNS))
    ann = check_rows(raw, sizes)
    assert ann.errors.empty, ann.errors
    return ann


def _box(image_id: str, cid: int, rad: str, box: tuple | None) -> tuple:
    return (image_id, ALL_LABELS[cid], cid, rad, *(box or (None,) * 4))


def _frame(rows: list[tuple], score: bool = True) -> pd.DataFrame:
    cols = [
        "image_id",
        "class_id",
        *(["score"] if score else []),
        "x_min",
        "y_min",
        "x_max",
        "y_max",
    ]
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------- VOC AP by hand


def test_voc_ap_hand_computed() -> None:
    # One class, 4 truth boxes: A has T1 [0,0,10,10] and T2 [5,0,15,10]; B has T3; C has T4.
    # Ranked predictions and what the devkit decides:
    #   0.9 A [0,0,10,10]  IoU(T1)=1            -> TP (T1 used)
    #   0.8 B far away     IoU 0                -> FP
    #   0.7 A [1,0,11,10]  IoU(T1)=90/110=.82, IoU(T2)=60/140=.43: best is T1, already
    #                      used -> FP (a duplicate), although T2 is free above 0.4
    #   0.6 B = T3         IoU 1                -> TP
    #   0.5 C [5,0,25,10]  IoU(T4)=150/250=0.6  -> TP
    # cum TP 1,1,1,2,3; precision 1, 1/2, 1/3, 1/2, 3/5; recall 1/4, 1/4, 1/4, 2/4, 3/4
    # envelope at the recall steps: 1 (at 1/4), 3/5 (at 2/4: max(1/2, 3/5)), 3/5 (at 3/4)
    # AP = 1/4*1 + 1/4*3/5 + 1/4*3/5 = 0.25 + 0.15 + 0.15 = 0.55
    truth = _frame(
        [("A", NODULE, 0, 0, 10, 10), ("A", NODULE, 5, 0, 15, 10),
         ("B", NODULE, 50, 50, 60, 60), ("C", NODULE, 0, 0, 20, 10)], score=False,
    )  # fmt: skip
    pred = _frame(
        [("A", NODULE, 0.9, 0, 0, 10, 10), ("B", NODULE, 0.8, 0, 0, 5, 5),
         ("A", NODULE, 0.7, 1, 0, 11, 10), ("B", NODULE, 0.6, 50, 50, 60, 60),
         ("C", NODULE, 0.5, 5, 0, 25, 10)],
    )  # fmt: skip
    matches = match_all(pred, truth, ["A", "B", "C"])
    m = matches[NODULE]
    assert m.tp.tolist() == [True, False, False, True, True]
    mean, per_class = mean_average_precision(matches)
    assert per_class[NODULE] == pytest.approx(0.55)
    assert mean == pytest.approx(0.55)  # the only class with truth
    assert per_class[0] is None and per_class[NO_FINDING_ID] is None


def test_duplicates_are_false_positives() -> None:
    # truth: one box in A, one in B. Ranked: A exact (TP), A exact again (FP, duplicate),
    # B exact (TP). precision 1, 1/2, 2/3; recall 1/2, 1/2, 1 -> AP = 1/2*1 + 1/2*2/3 = 5/6
    truth = _frame([("A", 0, 0, 0, 10, 10), ("B", 0, 0, 0, 10, 10)], score=False)
    pred = _frame(
        [("A", 0, 0.9, 0, 0, 10, 10), ("A", 0, 0.8, 0, 0, 10, 10), ("B", 0, 0.7, 0, 0, 10, 10)]
    )
    m = match_all(pred, truth, ["A", "B"])[0]
    assert m.tp.tolist() == [True, False, True]
    assert average_precision(m.tp, m.n_truth)[0] == pytest.approx(5 / 6)


def test_iou_threshold_edge_is_strict() -> None:
    # [0,0,4,10] inside [0,0,10,10]: IoU = 40/100 = 0.4 exactly. The competition says
    # IoU > 0.4, so no match; the devkit's >= would match.
    assert iou_matrix([[0, 0, 4, 10]], [[0, 0, 10, 10]])[0, 0] == 0.4
    args = ([0], [0.9], [[0, 0, 4, 10]], [0], [[0, 0, 10, 10]], 0.4)
    assert not match_class(*args).tp[0]
    assert match_class(*args, inclusive=True).tp[0]
    assert match_class([0], [0.9], [[0, 0, 4.01, 10]], [0], [[0, 0, 10, 10]], 0.4).tp[0]


def _reference_map(pred: pd.DataFrame, truth: pd.DataFrame, thr: float) -> float:
    """Independent reference, written the way py-faster-rcnn's voc_eval reads: a loop over
    ranked detections with per-image 'det' flags, then the mrec/mpre envelope."""
    aps = []
    for c in sorted(truth["class_id"].unique()):
        gts = {i: (g[["x_min", "y_min", "x_max", "y_max"]].to_numpy(float), [False] * len(g))
               for i, g in truth[truth["class_id"] == c].groupby("image_id")}  # fmt: skip
        npos = sum(len(v[1]) for v in gts.values())
        dets = pred[pred["class_id"] == c].sort_values("score", ascending=False, kind="stable")
        tp, fp = [], []
        for row in dets.itertuples():
            bbgt, det = gts.get(row.image_id, (np.zeros((0, 4)), []))
            ovmax, jmax = -np.inf, -1
            for j, g in enumerate(bbgt):
                iw = min(row.x_max, g[2]) - max(row.x_min, g[0])
                ih = min(row.y_max, g[3]) - max(row.y_min, g[1])
                if iw > 0 and ih > 0:
                    ua = (
                        (row.x_max - row.x_min) * (row.y_max - row.y_min)
                        + (g[2] - g[0]) * (g[3] - g[1])
                        - iw * ih
                    )
                    if iw * ih / ua > ovmax:
                        ovmax, jmax = iw * ih / ua, j
            hit = ovmax > thr and not det[jmax]
            if hit:
                det[jmax] = True
            tp.append(float(hit))
            fp.append(float(not hit))
        ctp, cfp = np.cumsum(tp), np.cumsum(fp)
        mrec = np.concatenate(([0.0], ctp / npos, [1.0]))
        mpre = np.concatenate(([0.0], ctp / np.maximum(ctp + cfp, 1e-12), [0.0]))
        for i in range(len(mpre) - 1, 0, -1):
            mpre[i - 1] = max(mpre[i - 1], mpre[i])
        i = np.where(mrec[1:] != mrec[:-1])[0]
        aps.append(float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])))
    return float(np.mean(aps))


@pytest.mark.parametrize("seed", range(6))
def test_map_matches_an_independent_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    images = [f"img{i}" for i in range(12)]

    def boxes(n: int) -> np.ndarray:
        xy = rng.uniform(0, 80, (n, 2))
        return np.c_[xy, xy + rng.uniform(5, 30, (n, 2))]

    n_t = 40
    truth = pd.DataFrame(boxes(n_t), columns=["x_min", "y_min", "x_max", "y_max"])
    truth.insert(0, "class_id", rng.integers(0, 4, n_t))
    truth.insert(0, "image_id", rng.choice(images, n_t))
    jitter = truth.sample(frac=0.8, random_state=seed).reset_index(drop=True)
    jitter[["x_min", "y_min", "x_max", "y_max"]] += rng.normal(0, 3, (len(jitter), 4))
    jitter[["x_max", "y_max"]] = np.maximum(
        jitter[["x_max", "y_max"]], jitter[["x_min", "y_min"]].to_numpy() + 1
    )
    noise = pd.DataFrame(boxes(25), columns=["x_min", "y_min", "x_max", "y_max"])
    noise.insert(0, "class_id", rng.integers(0, 5, 25))
    noise.insert(0, "image_id", rng.choice(images, 25))
    pred = pd.concat([jitter, noise, jitter.iloc[:6]], ignore_index=True)  # with duplicates
    pred.insert(2, "score", rng.random(len(pred)).round(2))  # rounded: ties happen
    ours, _ = mean_average_precision(match_all(pred, truth, images, 0.4))
    assert ours == pytest.approx(_reference_map(pred, truth, 0.4), abs=1e-12)


def test_weighted_ap_equals_duplicated_images() -> None:
    # a bootstrap resample weights images; the same as scoring the duplicated rows
    tp = np.array([True, False, True, True, False])
    w = np.array([[2, 0, 1, 1, 3]])
    expanded = np.repeat(tp, w[0])
    assert average_precision(tp, [5], w)[0] == pytest.approx(average_precision(expanded, 5)[0])


# ---------------------------------------------------------------- No finding


def test_no_finding_from_fusion_and_matching() -> None:
    ann = _ann(
        [_box("n", NO_FINDING_ID, r, None) for r in ("R1", "R2", "R3")]
        + [_box("a", NODULE, "R1", (10, 10, 40, 40)), _box("a", NO_FINDING_ID, "R2", None)],
        {"n": (100, 100), "a": (100, 100)},
    )
    truth = fuse_readers(ann)
    normal = truth[truth["image_id"] == "n"].iloc[0]
    assert normal["class_id"] == NO_FINDING_ID
    assert tuple(normal[["x_min", "y_min", "x_max", "y_max"]]) == (0, 0, 1, 1)
    assert normal["n_readers"] == 3
    pred = no_finding_baseline(["n", "a"])  # a is abnormal: its No finding is a false positive
    matches = match_all(pred, truth, ["n", "a"])
    assert matches[NO_FINDING_ID].tp.tolist() == [True, False]
    _, ap = mean_average_precision(matches)
    assert ap[NO_FINDING_ID] == pytest.approx(1.0) and ap[NODULE] == 0.0
    rep = chest_report(pred, truth, ann.sizes, n_boot=0)
    assert rep["map_iou40"] == pytest.approx(0.5)  # (1 + 0) over the 2 classes with truth
    assert rep["normal_abnormal_auroc"] == pytest.approx(0.5)  # 1 - 1 for both images


# ---------------------------------------------------------------- fusion


THREE = [(100, 100, 200, 200), (110, 104, 212, 206), (94, 97, 196, 193)]


def test_wbf_merges_three_jittered_boxes_between_them() -> None:
    ann = _ann([_box("a", NODULE, f"R{i}", b) for i, b in enumerate(THREE, 1)], {"a": (1000, 800)})
    fused = fuse_readers(ann)
    assert len(fused) == 1
    row = fused.iloc[0]
    arr = np.array(THREE, float)
    for k, col in enumerate(("x_min", "y_min", "x_max", "y_max")):
        assert arr[:, k].min() < row[col] < arr[:, k].max()
    assert row["n_readers"] == 3 and row["score"] == pytest.approx(1.0)
    assert row["class_name"] == ALL_LABELS[NODULE]


def test_nms_keeps_the_best_and_union_keeps_all() -> None:
    boxes = [np.array([b]) / 1000 for b in THREE]
    scores = [np.array([0.5]), np.array([0.9]), np.array([0.7])]
    labels = [np.array([NODULE])] * 3
    kept, kept_scores, _ = fuse_boxes(boxes, scores, labels, FusionSettings("nms", 0.4))
    assert len(kept) == 1 and kept_scores[0] == pytest.approx(0.9)
    assert np.allclose(kept[0], np.array(THREE[1]) / 1000)
    ann = _ann([_box("a", NODULE, f"R{i}", b) for i, b in enumerate(THREE, 1)], {"a": (1000, 800)})
    assert len(fuse_readers(ann, method="nms")) == 1
    union = fuse_readers(ann, method="union")
    assert len(union) == 3 and set(union["n_readers"]) == {1}


def test_a_single_readers_box_survives_fusion() -> None:
    rows = [_box("a", NODULE, "R1", (10, 10, 50, 50))]
    rows += [_box("a", NO_FINDING_ID, r, None) for r in ("R2", "R3")]
    ann = _ann(rows, {"a": (100, 100)})
    for method in ("wbf", "nms", "union"):
        fused = fuse_readers(ann, method=method)
        assert fused["class_id"].tolist() == [NODULE], method
        assert fused["n_readers"].tolist() == [1]
    assert fuse_readers(ann)["score"].iloc[0] == pytest.approx(1 / 3)  # 1 of 3 readers


def test_fusion_settings_are_json_and_checked() -> None:
    assert json.loads(json.dumps(DEFAULT_FUSION.to_dict())) == {
        "method": "wbf", "iou_thr": 0.4, "skip_box_thr": 1e-4, "conf_type": "avg",
    }  # fmt: skip
    with pytest.raises(FusionError):
        FusionSettings("soft-nms")
    with pytest.raises(FusionError):
        FusionSettings(iou_thr=1.5)


def test_fused_rows_read_back_as_train_csv() -> None:
    ann = _ann(
        [_box("a", NODULE, "R1", THREE[0]), _box("b", NO_FINDING_ID, "R1", None)],
        {"a": (1000, 800), "b": (500, 500)},
    )
    rows = fused_to_train(fuse_readers(ann))
    assert set(rows["rad_id"]) == {"fused"}
    back = check_rows(rows, {"a": (1000, 800), "b": (500, 500)})
    assert back.errors.empty and len(back.boxes) == 2


# ---------------------------------------------------------------- agreement


def test_fleiss_kappa_wikipedia_example() -> None:
    # the worked example of the Wikipedia article: 10 subjects, 14 raters, 5 categories
    table = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    assert fleiss_kappa(table) == pytest.approx(0.20993, abs=1e-4)
    assert fleiss_kappa([[3, 0], [0, 3], [3, 0]]) == pytest.approx(1.0)
    assert fleiss_kappa([[3, 0], [3, 0]]) is None  # one category only: 0/0
    with pytest.raises(ValueError):
        fleiss_kappa([[3, 0], [2, 0]])


def test_reader_agreement_report() -> None:
    rows = [_box("a", NODULE, f"R{i}", b) for i, b in enumerate(THREE, 1)]
    rows += [_box("b", NO_FINDING_ID, r, None) for r in ("R1", "R2", "R3")]
    rows += [_box("c", 0, "R1", (0, 0, 10, 10))]
    rows += [_box("c", NO_FINDING_ID, r, None) for r in ("R2", "R3")]
    rep = reader_agreement(_ann(rows, {"a": (1000, 800), "b": (500, 500), "c": (50, 50)}))
    nodule = rep["per_class"][ALL_LABELS[NODULE]]
    expected = np.mean([matched_ious([a], [b])[0] for a, b in [(THREE[0], THREE[1]),
                        (THREE[0], THREE[2]), (THREE[1], THREE[2])]])  # fmt: skip
    assert nodule["matched_pairs"] == 3 and nodule["mean_iou"] == pytest.approx(expected)
    assert rep["per_class"][ALL_LABELS[0]]["mean_iou"] is None  # one reader: no pair
    # abnormal: a (3 yes), b (3 no), c (1 yes 2 no): P_i = 1, 1, 1/3; p = 4/9, 5/9
    pbar, pe = (1 + 1 + 1 / 3) / 3, (4 / 9) ** 2 + (5 / 9) ** 2
    assert rep["overall"]["kappa_abnormal"] == pytest.approx((pbar - pe) / (1 - pe))
    assert rep["images"] == 3 and rep["readers_per_image"] == 3


# ---------------------------------------------------------------- report, baselines


def test_operating_point_f1_best_and_given() -> None:
    m = match_class([0, 1, 2, 3], [0.9, 0.8, 0.7, 0.6], [[0, 0, 10, 10]] * 4,
                    [0, 2], [[0, 0, 10, 10]] * 2)  # fmt: skip
    # ranked tp: 1,0,1,0; F1 at k=1: 2/3, k=3: 4/5 (best), k=4: 2/3
    best = operating_points({0: m})[ALL_LABELS[0]]
    assert best["threshold"] == 0.7 and best["f1"] == pytest.approx(0.8)
    assert best["precision"] == pytest.approx(2 / 3) and best["recall"] == 1.0
    given = operating_points({0: m}, {0: 0.85})[ALL_LABELS[0]]
    assert given["source"] == "given" and given["precision"] == 1.0 and given["recall"] == 0.5


def test_mean_box_baseline_uses_priors_and_film_pixels() -> None:
    truth = _frame(
        [("a", 3, 10, 20, 50, 60), ("b", 3, 20, 40, 100, 120), ("c", NO_FINDING_ID, 0, 0, 1, 1)],
        score=False,
    )
    sizes = pd.DataFrame({"width": [100, 200, 100], "height": [100, 200, 100]},
                         index=pd.Index(["a", "b", "c"], name="image_id"))  # fmt: skip
    priors = class_priors(truth, sizes)
    assert priors.loc[3, "prior"] == pytest.approx(2 / 3)
    assert priors.loc[NO_FINDING_ID, "prior"] == pytest.approx(1 / 3)
    target = pd.DataFrame({"width": [400], "height": [200]}, index=pd.Index(["z"]))
    pred = mean_box_baseline(truth, sizes, target)
    card = pred[pred["class_id"] == 3].iloc[0]
    assert tuple(card[["x_min", "y_min", "x_max", "y_max"]]) == pytest.approx((40, 40, 200, 120))
    assert card["score"] == pytest.approx(2 / 3)


# ---------------------------------------------------------------- evaluate dispatch


def _chest_folder(root: Path) -> Path:
    root.mkdir()
    rows = [_box("a", NODULE, f"R{i}", b) for i, b in enumerate(THREE, 1)]
    rows += [_box(i, NO_FINDING_ID, r, None) for i in ("b", "c") for r in ("R1", "R2", "R3")]
    for image_id in ("a", "b", "c"):
        Image.new("L", (300, 250), 90).save(root / f"{image_id}.png")
    pd.DataFrame(rows, columns=list(TRAIN_COLUMNS)).to_csv(root / "train.csv", index=False)
    return root


def test_evaluate_dispatches_chest_by_layout(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = _chest_folder(tmp_path / "chest")
    assert data_study(data) == "chest"
    sub = write_submission(
        pd.concat(
            [no_finding_baseline(["b", "c"]), _frame([("a", NODULE, 0.8, 101, 100, 203, 201)])]
        ),
        tmp_path / "sub.csv",
    )
    assert main(["evaluate", str(sub), str(data), "--bootstrap", "20"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["study"] == "chest"
    assert report["map_iou40"] == pytest.approx(1.0)
    assert report["ground_truth"]["fusion"] == DEFAULT_FUSION.to_dict()
    assert report["per_class"][ALL_LABELS[NODULE]]["support"] == 1
    assert report["ci95"]["map"] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert report["normal_abnormal_auroc"] == pytest.approx(1.0)
    assert report["coco"]["map_50"] == pytest.approx(1.0)


def test_evaluate_still_scores_kium(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(0)
    n = 12
    truth = pd.DataFrame(0, index=range(n), columns=list(KIUM_COLUMNS))
    truth["Index"] = np.arange(1, n + 1)
    truth.loc[: n // 2, ["Aneurysm", LOCATIONS[0]]] = 1
    pred = truth.copy()
    pred["Aneurysm"] = np.clip(truth["Aneurysm"] * 0.5 + rng.random(n) * 0.6, 0, 1)
    data = tmp_path / "kium"
    data.mkdir()
    truth.to_csv(data / "train.csv", index=False)
    pred.to_csv(tmp_path / "OUT.csv", index=False)
    assert data_study(data) == "aneurysm"
    assert main(["evaluate", str(tmp_path / "OUT.csv"), str(data), "--bootstrap", "10"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "aneurysm" in report and "map_iou40" not in report


def test_fuse_command_writes_train_rows_and_agreement(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = _chest_folder(tmp_path / "chest")
    out = tmp_path / "fused.csv"
    assert main(["fuse", str(data), str(out), "--method", "nms", "--agreement"]) == 0
    fused = pd.read_csv(out)
    assert list(fused.columns[:8]) == list(TRAIN_COLUMNS) and set(fused["rad_id"]) == {"fused"}
    assert sorted(fused["class_id"]) == [NODULE, NO_FINDING_ID, NO_FINDING_ID]
    agreement = json.loads(capsys.readouterr().out)
    assert agreement["per_class"][ALL_LABELS[NODULE]]["matched_pairs"] == 3


def test_ap_by_size_thirds() -> None:
    # three truth boxes of 100, 400 and 2500 px^2 on 100x100 films; each found exactly,
    # plus one false positive of 5000 px^2: it falls in the large third only
    truth = _frame(
        [("a", 0, 0, 0, 10, 10), ("b", 0, 0, 0, 20, 20), ("c", 0, 0, 0, 50, 50)], score=False
    )
    pred = _frame(
        [("a", 0, 0.9, 0, 0, 10, 10), ("b", 0, 0.8, 0, 0, 20, 20),
         ("a", 0, 0.7, 0, 0, 100, 50), ("c", 0, 0.6, 0, 0, 50, 50)],
    )  # fmt: skip
    matches = match_all(pred, truth, ["a", "b", "c"])
    sizes = ap_by_size(matches, np.full(3, 100 * 100.0))
    assert sizes["small"]["map"] == 1.0 and sizes["medium"]["map"] == 1.0
    # large: ranked FP (0.7) then TP (0.6): precision 0, 1/2 -> AP 1/2
    assert sizes["large"]["map"] == pytest.approx(0.5)
    assert [sizes[k]["n_truth"] for k in ("small", "medium", "large")] == [1, 1, 1]


def test_evaluate_against_the_generators_exact_lesions(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = tmp_path / "synth"
    assert main(["synth", str(data), "--study", "chest", "--images", "8", "--seed", "3",
                 "--size", "256", "--png512"]) == 0  # fmt: skip
    images = json.loads((data / "truth.json").read_text())["images"]
    rows = [(i, d["class_id"], 0.9, *d["box"]) for i, t in images.items() for d in t["lesions"]]
    perfect = pd.concat([_frame(rows), no_finding_baseline([i for i, t in images.items()
                                                            if not t["lesions"]])])  # fmt: skip
    sub = write_submission(perfect, tmp_path / "perfect.csv")
    capsys.readouterr()
    args = ["evaluate", str(sub), str(data), "--gt", "truth", "--bootstrap", "0"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ground_truth"]["source"] == "truth"
    assert report["map_iou40"] == pytest.approx(1.0)
    thresholds = tmp_path / "thr.json"
    thresholds.write_text(json.dumps({"No finding": 0.5, "3": 0.95}))
    assert main([*args, "--thresholds", str(thresholds), "--iou", "0.7"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["iou"] == 0.7 and report["map_iou40"] == pytest.approx(1.0)
    assert report["operating_points"]["No finding"]["source"] == "given"
