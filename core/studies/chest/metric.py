"""The VinBigData competition metric: PASCAL VOC 2010 all-point AP per class at IoU 0.4.

Exactly what is computed, because small choices move the number:

* **Classes.** The 14 finding classes plus class 14, "No finding", whose truth and
  prediction are the box ``0 0 1 1`` (so a "No finding" prediction matches a normal film
  and nothing else). mAP is the mean over the classes that have ground truth; a class with
  truth and no prediction scores 0, predictions of a class without truth are not scored.
* **Matching, as the VOC devkit (``VOCevaldet.m``).** Per class, detections are taken in
  descending score (a stable sort: ties keep the submission's order, as MATLAB's ``sort``
  did). Each takes the truth box of its image with the highest IoU (the first one on a
  tie), whether or not that box is taken already; if the IoU passes the threshold and the
  box is free it is a true positive and the box is used up, otherwise a false positive -
  so a duplicate of a found lesion is a false positive even when another free box overlaps.
* **The threshold.** The competition states IoU **> 0.4**; the devkit tests ``>=``. We use
  the competition's strict ``>`` (``inclusive=False``): a box at exactly 0.4 does not match.
* **IoU** uses continuous areas (:func:`~core.studies.chest.fusion.iou_matrix`), not the
  devkit's "+1 pixel" areas, since boxes are floats in original pixels.
* **AP** is the area under the precision envelope at every recall step (VOC 2010+
  "all-point"), not the 11-point VOC 2007 rule.

Matching happens once; AP then takes optional per-image weights, which is how the
bootstrap (:mod:`metric_report`) rescores a thousand resamples without rematching.
:func:`coco_map` gives COCO's mAP@[.5:.95] beside it, for reference.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from core.studies.chest.classes import ALL_LABELS, BOX_COLUMNS, NO_FINDING_ID
from core.studies.chest.fusion import NO_FINDING_BOX, iou_matrix

__all__ = [
    "COMPETITION_IOU",
    "ClassMatch",
    "MetricError",
    "average_precision",
    "coco_map",
    "lesion_truth",
    "match_all",
    "match_class",
    "mean_average_precision",
]

log = logging.getLogger(__name__)

#: The competition's IoU threshold (strict: IoU > 0.4).
COMPETITION_IOU = 0.4


class MetricError(ValueError):
    """Inputs the metric cannot score (missing columns, unknown class ids)."""


@dataclass(frozen=True)
class ClassMatch:
    """One class's detections in ranked order, matched to its truth boxes.

    ``det_image`` / ``truth_image`` are positions in the scored image list, so a resample
    that weights images weights detections and truth boxes alike; ``matched`` is the
    truth row each true positive used (-1 for a false positive).
    """

    scores: np.ndarray
    tp: np.ndarray
    det_image: np.ndarray
    det_boxes: np.ndarray
    matched: np.ndarray
    truth_image: np.ndarray
    truth_boxes: np.ndarray

    @property
    def n_truth(self) -> int:
        return len(self.truth_image)


def match_class(
    det_image: ArrayLike,
    det_scores: ArrayLike,
    det_boxes: ArrayLike,
    truth_image: ArrayLike,
    truth_boxes: ArrayLike,
    iou_thr: float = COMPETITION_IOU,
    inclusive: bool = False,
) -> ClassMatch:
    """VOC-devkit greedy matching of one class (see the module docstring)."""
    d_img, t_img = np.asarray(det_image, int), np.asarray(truth_image, int)
    scores = np.asarray(det_scores, float)
    boxes = np.asarray(det_boxes, float).reshape(-1, 4)
    order = np.argsort(-scores, kind="stable")
    d_img, scores, boxes = d_img[order], scores[order], boxes[order]
    t_boxes = np.asarray(truth_boxes, float).reshape(-1, 4)
    best = np.full(len(scores), -1)
    overlap = np.zeros(len(scores))
    for image in np.intersect1d(d_img, t_img):
        dets, truths = np.flatnonzero(d_img == image), np.flatnonzero(t_img == image)
        iou = iou_matrix(boxes[dets], t_boxes[truths])
        best[dets] = truths[iou.argmax(axis=1)]
        overlap[dets] = iou.max(axis=1)
    passes = (overlap >= iou_thr) if inclusive else (overlap > iou_thr)
    candidates = np.flatnonzero(passes & (best >= 0))
    # the first (highest-ranked) passing detection of each truth box takes it; the rest
    # pointed at a used box, and are duplicates
    _, first = np.unique(best[candidates], return_index=True)
    tp = np.zeros(len(scores), dtype=bool)
    tp[candidates[first]] = True
    return ClassMatch(scores, tp, d_img, boxes, np.where(tp, best, -1), t_img, t_boxes)


def average_precision(
    tp: ArrayLike, n_truth: ArrayLike, weights: ArrayLike | None = None
) -> np.ndarray:
    """All-point AP of ranked true/false positives; NaN where there is no truth.

    ``weights`` (``(n_resamples, n_detections)``) counts each detection that many times
    and ``n_truth`` is then ``(n_resamples,)``: a bootstrap resample of images. Unweighted,
    the result is a one-element array. A weight-0 detection adds no recall, so the
    precision it repeats cannot raise the envelope where it counts.
    """
    hits = np.asarray(tp, dtype=float)
    w = np.ones((1, hits.size)) if weights is None else np.asarray(weights, float)
    truth = np.asarray(n_truth, float).reshape(-1)
    tps = np.cumsum(w * hits, axis=1)
    seen = np.cumsum(w, axis=1)
    precision = np.divide(tps, seen, out=np.zeros_like(tps), where=seen > 0)
    recall = np.divide(tps, truth[:, None], out=np.zeros_like(tps), where=truth[:, None] > 0)
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    steps = np.diff(recall, axis=1, prepend=0.0)
    return np.where(truth > 0, (steps * envelope).sum(axis=1), np.nan)


def _codes(frame: pd.DataFrame, image_ids: list[str]) -> np.ndarray:
    index = pd.Index(image_ids)
    return index.get_indexer(frame["image_id"].astype(str))


def match_all(
    pred: pd.DataFrame,
    truth: pd.DataFrame,
    image_ids: list[str],
    iou_thr: float = COMPETITION_IOU,
    inclusive: bool = False,
) -> dict[int, ClassMatch]:
    """Every class 0-14 matched: ``pred`` has ``image_id, class_id, score`` and the box
    columns, ``truth`` the same without ``score``. Only ``image_ids`` are scored: rows of
    other images are ignored (the caller says how many)."""
    for name, frame, cols in (("pred", pred, ("score",)), ("truth", truth, ())):
        missing = {"image_id", "class_id", *cols, *BOX_COLUMNS} - set(frame.columns)
        if missing:
            raise MetricError(f"{name} lacks the columns {sorted(missing)}")
        unknown = set(frame["class_id"].astype(int)) - set(range(len(ALL_LABELS)))
        if unknown:
            raise MetricError(f"{name} has unknown class ids {sorted(unknown)}")
    p_img, t_img = _codes(pred, image_ids), _codes(truth, image_ids)
    pred, truth = (
        pred[p_img >= 0].assign(_img=p_img[p_img >= 0]),
        truth[t_img >= 0].assign(_img=t_img[t_img >= 0]),
    )
    out = {}
    for class_id in range(len(ALL_LABELS)):
        p = pred[pred["class_id"].astype(int) == class_id]
        t = truth[truth["class_id"].astype(int) == class_id]
        out[class_id] = match_class(
            p["_img"], p["score"], p[list(BOX_COLUMNS)].to_numpy(float),
            t["_img"], t[list(BOX_COLUMNS)].to_numpy(float), iou_thr, inclusive,
        )  # fmt: skip
    return out


def mean_average_precision(
    matches: dict[int, ClassMatch],
) -> tuple[float | None, dict[int, float | None]]:
    """``(mAP over classes with truth, AP per class)``; ``None`` where undefined."""
    per_class = {
        c: float(average_precision(m.tp, m.n_truth)[0]) if m.n_truth else None
        for c, m in matches.items()
    }
    defined = [v for v in per_class.values() if v is not None]
    return (float(np.mean(defined)) if defined else None), per_class


def lesion_truth(path: Path, image_ids: list[str]) -> pd.DataFrame:
    """The generator's exact lesions (``truth.json``: ``images -> id -> lesions -> class_id,
    box``, original pixels) as truth rows; a film without one is "No finding" with the box
    ``0 0 1 1``, as in the fused truth. ``--gt truth`` scores against it."""
    if not Path(path).is_file():
        raise MetricError(f"{path}: no truth.json (--gt truth needs a synthetic cohort)")
    images = json.loads(Path(path).read_text()).get("images", {})
    if unknown := [i for i in image_ids if i not in images]:
        log.warning("%d images are not in %s: scored as normal", len(unknown), path)
    rows = []
    for image_id in image_ids:
        lesions = images.get(image_id, {}).get("lesions", [])
        rows += [(image_id, int(d["class_id"]), *map(float, d["box"])) for d in lesions]
        if not lesions:
            rows.append((image_id, NO_FINDING_ID, *NO_FINDING_BOX))
    return pd.DataFrame(rows, columns=["image_id", "class_id", *BOX_COLUMNS])


def _xywh(frame: pd.DataFrame) -> np.ndarray:
    corners = frame[list(BOX_COLUMNS)].to_numpy(float)
    return np.c_[corners[:, :2], corners[:, 2:] - corners[:, :2]]


def coco_map(pred: pd.DataFrame, truth: pd.DataFrame, image_ids: list[str]) -> dict[str, object]:
    """COCO mAP@[.5:.95] and @.5 by pycocotools (its defaults: 101-point interpolation,
    at most 100 detections per image), for reference only. Unlike the COCO export
    (:mod:`core.studies.chest.coco`, same category ids) "No finding" is scored here as a
    ``0 0 1 1`` box class, so the 15 classes are those of ``map_iou40``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from core.studies.chest.coco import categories

    index = {image_id: i + 1 for i, image_id in enumerate(image_ids)}
    truth = truth[truth["image_id"].isin(index)]
    pred = pred[pred["image_id"].isin(index)]
    note = "pycocotools, all 15 classes, maxDets 100"
    if pred.empty or truth.empty:
        return {"map_50_95": 0.0 if len(truth) else None, "map_50": 0.0 if len(truth) else None,
                "note": note}  # fmt: skip
    gt = COCO()
    gt.dataset = {
        "images": [{"id": i} for i in index.values()],
        "categories": [*categories(), {"id": NO_FINDING_ID, "name": ALL_LABELS[NO_FINDING_ID]}],
        "annotations": [
            {"id": k + 1, "image_id": index[i], "category_id": int(c), "bbox": list(b),
             "area": float(b[2] * b[3]), "iscrowd": 0}
            for k, (i, c, b) in enumerate(zip(truth["image_id"], truth["class_id"], _xywh(truth)))
        ],
    }  # fmt: skip
    dets = np.c_[pred["image_id"].map(index).to_numpy(float), _xywh(pred),
                 pred["score"].to_numpy(float), pred["class_id"].to_numpy(float)]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its tables
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(dets), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = [float(v) if v >= 0 else None for v in evaluator.stats[:2]]
    return {"map_50_95": stats[0], "map_50": stats[1], "note": note}
