"""What a freshly trained chest network scores on its validation films.

A detector is scored with the competition's metric (mAP@0.4 against the fused readers'
boxes, "No finding" included through :func:`~core.studies.chest.runner.detector_no_finding`)
and gets one score threshold per class, the F1-best on these films
(:func:`~core.studies.chest.calibrate.calibrate_thresholds`), stored in its bundle as the
app's starting thresholds. The classifier is scored by its normal/abnormal AUROC. Both
read the films already decoded for training, so validation costs only forward passes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from core.models.registry import ModelSpec
from core.models.thresholds import Thresholds
from core.studies.chest.calibrate import calibrate_thresholds
from core.studies.chest.classes import ALL_LABELS, NO_FINDING, NO_FINDING_ID
from core.studies.chest.dataset import FilmCache
from core.studies.chest.metric import match_all, mean_average_precision
from core.studies.chest.runner import Boxes, boxes_frame, classify_batch, detect_batch

__all__ = [
    "cached_batches",
    "validate_detector",
    "validate_classifier",
    "fixed_thresholds",
]

log = logging.getLogger(__name__)


def fixed_thresholds(values: dict[str, float] | None = None, rule: str = "fixed 0.5") -> Thresholds:
    """One threshold per chest label (the 14 classes and "No finding"), 0.5 unless given."""
    labels = {label: 0.5 for label in ALL_LABELS} | dict(values or {})
    return Thresholds(stage1=None, labels={k: float(labels[k]) for k in ALL_LABELS}, rule=rule)


def cached_batches(films: FilmCache, ids: Sequence[str], batch_size: int = 8):  # noqa: ANN201
    """``(ids, x [B, 1, side, side] in [0, 1], original sizes)`` over cached films."""
    for start in range(0, len(ids), batch_size):
        chunk = list(ids[start : start + batch_size])
        x = np.stack([films.images[i] for i in chunk]).astype(np.float32) / 255.0
        yield chunk, torch.from_numpy(x[:, None]), [films.sizes[i] for i in chunk]


def _truth(fused: pd.DataFrame, ids: Sequence[str]) -> pd.DataFrame:
    return fused[fused["image_id"].astype(str).isin(set(ids))][
        ["image_id", "class_id", "x_min", "y_min", "x_max", "y_max"]
    ]


def validate_detector(
    model: torch.nn.Module, films: FilmCache, fused: pd.DataFrame, val_ids: Sequence[str]
) -> tuple[dict[str, Any], Thresholds]:
    """``(metrics, per-class thresholds)`` of a detector on the validation films."""
    if not val_ids:
        return {"val_map_iou40": None, "val_images": 0}, fixed_thresholds()
    device = next(model.parameters()).device
    found: dict[str, Boxes] = {}
    for chunk, x, sizes in cached_batches(films, val_ids):
        found |= dict(zip(chunk, detect_batch(model, x.to(device), sizes)))
    pred = boxes_frame((i, films.sizes[i], b, None) for i, b in found.items())
    truth = _truth(fused, val_ids)
    score, per_class = mean_average_precision(match_all(pred, truth, list(val_ids)))
    calibrated = calibrate_thresholds(pred, truth, list(val_ids))
    log.info("validation mAP@0.4 %.4f on %d films", score or 0.0, len(val_ids))
    metrics = {
        "val_map_iou40": score, "val_images": len(val_ids),
        "val_ap": {ALL_LABELS[c]: v for c, v in per_class.items()},
    }  # fmt: skip
    return metrics, fixed_thresholds(calibrated, rule="per-class F1-best on validation (IoU 0.4)")


def validate_classifier(
    model: torch.nn.Module,
    spec: ModelSpec,
    films: FilmCache,
    fused: pd.DataFrame,
    val_ids: Sequence[str],
) -> tuple[dict[str, Any], Thresholds]:
    """``(metrics, thresholds)`` of the normal/abnormal classifier on the validation films;
    the "No finding" threshold is the F1-best cut on P(normal)."""
    if not val_ids:
        return {"val_auroc": None, "val_images": 0}, fixed_thresholds()
    device = next(model.parameters()).device
    probs = []
    for _, x, _ in cached_batches(films, val_ids):
        probs.append(classify_batch(model, x.to(device), spec.input.mean[0], spec.input.std[0]))
    p = np.concatenate(probs)
    abnormal = set(fused.loc[fused["class_id"] != NO_FINDING_ID, "image_id"].astype(str))
    y = np.array([i in abnormal for i in val_ids], int)
    auroc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None
    cuts = np.unique(1 - p)
    f1 = [
        (2 * ((1 - p >= c) & (y == 0)).sum()) / max(((1 - p) >= c).sum() + (y == 0).sum(), 1)
        for c in cuts
    ]
    normal_cut = float(cuts[int(np.argmax(f1))]) if len(cuts) else 0.5
    log.info("validation normal/abnormal AUROC %s on %d films", auroc, len(val_ids))
    return (
        {"val_auroc": auroc, "val_images": len(val_ids), "val_abnormal": int(y.sum())},
        fixed_thresholds(
            {NO_FINDING: normal_cut}, rule="No finding: F1-best P(normal) on validation"
        ),
    )
