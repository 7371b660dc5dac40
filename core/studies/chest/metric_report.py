"""The chest evaluation report around the competition metric, as one JSON-ready dict.

Beside ``map_iou40`` (:mod:`metric`) a reader of the report needs: which classes carry the
mean (per-class AP and support), whether small lesions are the weak spot (AP by size
thirds), what a deployed threshold gives (precision/recall per class), how well films are
sorted normal vs abnormal (AUROC), how stable the figures are (bootstrap over images) and
a familiar reference (COCO mAP@[.5:.95] from pycocotools).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from core.metrics.binary import auroc
from core.metrics.bootstrap import bootstrap_intervals, resampled_auroc
from core.studies.chest.classes import ALL_LABELS, CLASS_IDS, NO_FINDING_ID
from core.studies.chest.fusion import DEFAULT_FUSION, NO_FINDING_BOX, fuse_readers
from core.studies.chest.metric import (
    COMPETITION_IOU,
    ClassMatch,
    MetricError,
    average_precision,
    coco_map,
    lesion_truth,
    match_all,
    mean_average_precision,
)

__all__ = [
    "SIZE_NAMES",
    "boot_map",
    "ap_by_size",
    "chest_report",
    "evaluate_chest",
    "normal_scores",
    "operating_points",
    "read_thresholds",
]

log = logging.getLogger(__name__)

SIZE_NAMES: tuple[str, ...] = ("small", "medium", "large")
#: Resamples scored per block, so memory stays ~(block x detections) on large cohorts.
_BOOT_BLOCK = 64


def _frac_area(boxes: np.ndarray, image: np.ndarray, image_area: np.ndarray) -> np.ndarray:
    """Box areas as a share of their film's area, so films of any size compare."""
    return np.prod(boxes[:, 2:] - boxes[:, :2], axis=1) / image_area[image]


def ap_by_size(matches: Mapping[int, ClassMatch], image_area: np.ndarray) -> dict[str, object]:
    """mAP over the 14 finding classes within thirds of the truth boxes' areas.

    Cut points are the 1/3 and 2/3 quantiles of all finding truth boxes' area shares.
    As COCO does for its area ranges, a truth box outside the third is ignored, and so is
    a detection matched to one; an unmatched detection counts where its own area falls.
    """
    findings = [m for c, m in matches.items() if c != NO_FINDING_ID]
    areas = [_frac_area(m.truth_boxes, m.truth_image, image_area) for m in findings]
    pooled = np.concatenate(areas) if areas else np.zeros(0)
    if not pooled.size:
        return {name: {"map": None, "n_truth": 0, "area_share": None} for name in SIZE_NAMES}
    cuts = np.r_[0.0, np.quantile(pooled, [1 / 3, 2 / 3]), np.inf]
    out: dict[str, object] = {}
    for k, name in enumerate(SIZE_NAMES):
        aps, n_truth = [], 0
        for m, t_area in zip(findings, areas):
            t_in = (t_area >= cuts[k]) & (t_area < cuts[k + 1])
            if not t_in.any():
                continue
            d_area = _frac_area(m.det_boxes, m.det_image, image_area)
            d_in = (d_area >= cuts[k]) & (d_area < cuts[k + 1])
            keep = np.where(m.tp, t_in[np.maximum(m.matched, 0)], d_in)
            n_truth += int(t_in.sum())
            aps.append(float(average_precision(m.tp[keep], int(t_in.sum()))[0]))
        out[name] = {
            "map": float(np.mean(aps)) if aps else None,
            "n_truth": n_truth,
            "area_share": [float(cuts[k]), float(cuts[k + 1]) if k < 2 else 1.0],
        }
    return out


def operating_points(
    matches: Mapping[int, ClassMatch], thresholds: Mapping[int, float] | None = None
) -> dict[str, object]:
    """Precision and recall per class at ``score >= threshold``: the given threshold of a
    class when there is one, else the score with the best F1 (the highest on a tie)."""
    out: dict[str, object] = {}
    for c, m in matches.items():
        if not m.n_truth:
            continue
        tps = np.cumsum(m.tp)
        thr: float | None
        if thresholds is not None and c in thresholds:
            thr, source = float(thresholds[c]), "given"
            k = int((m.scores >= thr).sum())  # scores are ranked: the top k pass
        elif len(m.scores):
            cut = np.flatnonzero(np.r_[m.scores[1:] != m.scores[:-1], True])  # between ties
            k = int(cut[np.argmax(2 * tps[cut] / (cut + 1 + m.n_truth))] + 1)
            thr, source = float(m.scores[k - 1]), "f1_best"
        else:
            thr, source, k = None, "f1_best", 0
        tp = int(tps[k - 1]) if k else 0
        precision = tp / k if k else None
        recall = tp / m.n_truth
        f1 = 2 * tp / (k + m.n_truth)
        out[ALL_LABELS[c]] = {"threshold": thr, "source": source, "precision": precision,
                              "recall": recall, "f1": f1}  # fmt: skip
    return out


def normal_scores(pred: pd.DataFrame, image_ids: list[str]) -> np.ndarray:
    """Abnormality score per image: 1 - its "No finding" score when it has one, else its
    highest box score (0 with no prediction at all)."""
    is_nf = pred["class_id"].astype(int) == NO_FINDING_ID
    nf = pred[is_nf].groupby("image_id")["score"].max()
    box = pred[~is_nf].groupby("image_id")["score"].max()
    ids = pd.Index(image_ids)
    from_nf = 1.0 - nf.reindex(ids).to_numpy(float)
    return np.where(np.isnan(from_nf), box.reindex(ids).fillna(0.0).to_numpy(float), from_nf)


def boot_map(matches: Mapping[int, ClassMatch], counts: np.ndarray) -> dict[str, np.ndarray]:
    """mAP and per-class AP of every resample (rows of image multiplicities), by blocks."""
    per_class: dict[int, list[np.ndarray]] = {c: [] for c, m in matches.items() if m.n_truth}
    for start in range(0, len(counts), _BOOT_BLOCK):
        w = counts[start : start + _BOOT_BLOCK].astype(float)
        for c, blocks in per_class.items():
            m = matches[c]
            blocks.append(
                average_precision(m.tp, w[:, m.truth_image].sum(axis=1), w[:, m.det_image])
            )
    aps = {c: np.concatenate(v) for c, v in per_class.items()}
    stacked = np.stack(list(aps.values()), axis=1) if aps else np.full((len(counts), 1), np.nan)
    n_valid = (~np.isnan(stacked)).sum(axis=1)
    mean = np.divide(np.nansum(stacked, axis=1), n_valid, out=np.full(len(stacked), np.nan),
                     where=n_valid > 0)  # fmt: skip
    return {"map": mean} | {ALL_LABELS[c]: v for c, v in aps.items()}


def chest_report(
    pred: pd.DataFrame,
    truth: pd.DataFrame,
    sizes: pd.DataFrame,
    *,
    iou_thr: float = COMPETITION_IOU,
    thresholds: Mapping[int, float] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, object]:
    """The report over the films of ``sizes`` (``image_id`` index, ``width``, ``height``).

    ``map_iou40`` is always the competition's figure (IoU > 0.4); every other figure is at
    ``iou_thr`` (``iou`` says which), so ``--iou`` explores without losing the yardstick.
    """
    image_ids = [str(i) for i in sizes.index]
    image_area = sizes["width"].to_numpy(float) * sizes["height"].to_numpy(float)
    matches = match_all(pred, truth, image_ids, iou_thr)
    competition = matches if iou_thr == COMPETITION_IOU else match_all(pred, truth, image_ids)
    map40, _ = mean_average_precision(competition)
    map_at, ap = mean_average_precision(matches)
    abnormal = np.isin(image_ids, truth.loc[truth["class_id"] != NO_FINDING_ID, "image_id"])
    scores = normal_scores(pred, image_ids)
    outside = int((~pred["image_id"].isin(image_ids)).sum())
    if outside:
        log.warning("%d predictions are for images not in the data; not scored", outside)
    report: dict[str, object] = {
        "map_iou40": map40,
        "iou": iou_thr,
        "map": map_at,
        "n_images": len(image_ids),
        "predictions_outside_data": outside,
        "per_class": {
            ALL_LABELS[c]: {"ap": ap[c], "support": m.n_truth, "predictions": len(m.tp)}
            for c, m in matches.items()
        },
        "ap_by_size": ap_by_size(matches, image_area),
        "operating_points": operating_points(matches, thresholds),
        "normal_abnormal_auroc": auroc(abnormal.astype(int), scores),
        "coco": coco_map(pred, truth, image_ids),
    }
    if n_boot > 0:

        def statistic(counts: np.ndarray) -> dict[str, np.ndarray]:
            return boot_map(matches, counts) | {
                "normal_abnormal_auroc": resampled_auroc(abnormal, scores, counts)
            }

        intervals = bootstrap_intervals(statistic, len(image_ids), n_boot, seed)
        report["ci95"] = {k: v.to_list() for k, v in intervals.items()}
        report["bootstrap"] = {"resamples": n_boot, "seed": seed, "unit": "image", "iou": iou_thr}
    return report


def read_thresholds(path: Path) -> dict[int, float]:
    """``{class: score}`` from JSON, keyed by class name or id (``"8"`` or
    ``"Nodule/Mass"``): the operating points a model bundle ships."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise MetricError(f"{path}: not a readable JSON file ({err})") from err
    if not isinstance(raw, dict):
        raise MetricError(f"{path}: expected a JSON object {{class: score}}")
    out = {}
    for key, value in raw.items():
        cid = CLASS_IDS.get(key, int(key) if str(key).isdigit() else -1)
        if not 0 <= cid <= NO_FINDING_ID or not isinstance(value, (int, float)):
            raise MetricError(f"{path}: {key!r}: {value!r} is not a class and a score")
        out[cid] = float(value)
    return out


def evaluate_chest(
    pred_path: Path,
    data: Path,
    *,
    gt: str = "fused",
    iou_thr: float | None = None,
    thresholds: Path | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, object]:
    """``evaluate`` for a VinBigData folder: the submission scored against the folder's
    readers fused with :data:`DEFAULT_FUSION` (``gt="fused"``, the competition's kind of
    truth) or against ``truth.json``'s exact lesions (``gt="truth"``, synthetic data)."""
    from core.studies.chest.layout import read_vinbigdata
    from core.studies.chest.submission import read_submission

    annotations = read_vinbigdata(data)
    if gt == "fused":
        truth = fuse_readers(annotations, **DEFAULT_FUSION.to_dict())
        source: dict[str, object] = {"source": "fused", "fusion": DEFAULT_FUSION.to_dict()}
    elif gt == "truth":
        truth = lesion_truth(data / "truth.json", annotations.image_ids)
        source = {"source": "truth", "file": "truth.json"}
    else:
        raise MetricError(f"unknown ground truth {gt!r}; use 'fused' or 'truth'")
    report = chest_report(
        read_submission(pred_path), truth, annotations.sizes,
        iou_thr=COMPETITION_IOU if iou_thr is None else float(iou_thr),
        thresholds=None if thresholds is None else read_thresholds(thresholds),
        n_boot=n_boot, seed=seed,
    )  # fmt: skip
    source |= {"rejected_rows": len(annotations.errors), "no_finding_box": list(NO_FINDING_BOX)}
    head = {"study": "chest", "predictions": Path(pred_path).name, "data": Path(data).name}
    out = head | {"map_iou40": report.pop("map_iou40"), "ground_truth": source} | report
    plain = Path(pred_path).with_name(f"{Path(pred_path).stem}.without_rule.csv")
    if plain.is_file():  # predict wrote the same boxes without the classifier rule
        other = chest_report(
            read_submission(plain), truth, annotations.sizes, n_boot=n_boot, seed=seed
        )
        out["without_rule"] = {
            "predictions": plain.name, "map_iou40": other["map_iou40"],
            "ci95": (other.get("ci95") or {}).get("map"),
            "normal_abnormal_auroc": other["normal_abnormal_auroc"],
            "per_class_ap": {k: v["ap"] for k, v in other["per_class"].items()},
        }  # fmt: skip
    return out
