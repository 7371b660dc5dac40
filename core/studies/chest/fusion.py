"""Fusing the three readers' boxes of each film into one set: the chest study's ground truth.

VinBigData gives every film three readers who draw the same lesion with different boxes.
The competition's test labels were the readers' boxes fused, and the strongest teams
fused the training labels the same way, with weighted boxes fusion (WBF) or NMS from
``ensemble-boxes``. Here each reader is one "model" whose boxes all score 1.0, boxes are
normalised by the film's original size (the library wants ``[0, 1]``) and mapped back.

:data:`DEFAULT_FUSION` is THE setting ``evaluate`` fuses its ground truth with, and it is
reported in the evaluation JSON: WBF at IoU 0.4 (the range 0.33-0.4 the top teams used,
and the metric's own threshold, so boxes the metric would call the same finding merge)
with a tiny skip threshold (1e-4: no reader box is ever skipped, since all score 1.0).
A box marked by a single reader is kept (WBF scores it 1/3 with three readers), because
the competition's labels kept them. A film left with no box is "No finding", written as
the box ``0 0 1 1`` the submission format uses.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd
from ensemble_boxes import nms, weighted_boxes_fusion
from numpy.typing import ArrayLike

from core.studies.chest.annotations import Annotations
from core.studies.chest.classes import ALL_LABELS, BOX_COLUMNS, NO_FINDING_ID, TRAIN_COLUMNS

__all__ = [
    "DEFAULT_FUSION",
    "FUSED_COLUMNS",
    "METHODS",
    "NO_FINDING_BOX",
    "FusionError",
    "FusionSettings",
    "fuse_boxes",
    "fuse_readers",
    "fused_to_train",
    "iou_matrix",
]

Method = Literal["wbf", "nms", "union"]
METHODS: tuple[str, ...] = ("wbf", "nms", "union")
CONF_TYPES: tuple[str, ...] = ("avg", "max", "box_and_model_avg", "absent_model_aware_avg")
#: Columns of a fused table; ``n_readers`` is how many readers' boxes support each box.
FUSED_COLUMNS: tuple[str, ...] = (
    "image_id", "class_id", "class_name", "score", *BOX_COLUMNS, "n_readers",
)  # fmt: skip
#: The box a "No finding" truth or prediction carries in the competition's format.
NO_FINDING_BOX: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)


class FusionError(ValueError):
    """Fusion settings that ``ensemble-boxes`` would reject (it calls ``exit()`` instead)."""


@dataclass(frozen=True)
class FusionSettings:
    """How readers' boxes are fused; JSON-able with :meth:`to_dict`, and its fields are
    :func:`fuse_readers`' keywords (``fuse_readers(ann, **settings.to_dict())``)."""

    method: Method = "wbf"
    iou_thr: float = 0.4
    skip_box_thr: float = 1e-4
    conf_type: str = "avg"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise FusionError(f"unknown fusion method {self.method!r}; use one of {METHODS}")
        if not 0.0 <= self.iou_thr <= 1.0:
            raise FusionError(f"iou_thr {self.iou_thr} is not in [0, 1]")
        if not 0.0 <= self.skip_box_thr < 1.0:
            raise FusionError(f"skip_box_thr {self.skip_box_thr} is not in [0, 1)")
        if self.conf_type not in CONF_TYPES:
            raise FusionError(f"unknown conf_type {self.conf_type!r}; use one of {CONF_TYPES}")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


#: The fusion ``evaluate`` builds its default ground truth with (see the module docstring).
DEFAULT_FUSION = FusionSettings()


def iou_matrix(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """``(n, m)`` IoU of ``(n, 4)`` and ``(m, 4)`` boxes ``x_min, y_min, x_max, y_max``.

    Continuous areas, without the VOC devkit's "+1 pixel": coordinates are floats in
    original pixels, and the "No finding" box ``0 0 1 1`` must be a 1x1 box. The one IoU
    of the chest study (fusion support, reader agreement, the metric's matching).
    """
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def fuse_boxes(
    boxes: list[np.ndarray],
    scores: list[np.ndarray],
    labels: list[np.ndarray],
    settings: FusionSettings = DEFAULT_FUSION,
    weights: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fuse one image's per-source ``(n_i, 4)`` normalised boxes (one list entry per reader
    or model) -> ``(boxes, scores, labels)``. Also how a detector ensemble fuses
    (:mod:`ensemble`): ``weights`` (one per source, ``ensemble-boxes``' meaning) weigh WBF's
    averages and scale NMS scores; ``union`` takes none (:class:`FusionError`)."""
    if weights is not None:
        w = np.asarray(weights, float).ravel()
        if len(w) != len(boxes) or not np.all(np.isfinite(w) & (w >= 0)) or w.sum() <= 0:
            raise FusionError(f"weights {list(w)} are not {len(boxes)} non-negative numbers")
        if settings.method == "union":
            raise FusionError("the union keeps boxes as they are: it takes no weights")
    if not any(len(b) for b in boxes):
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=int)
    lists = [np.asarray(b, float).reshape(-1, 4) for b in boxes]
    s_lists = [np.asarray(s, float).ravel() for s in scores]
    l_lists = [np.asarray(v, int).ravel() for v in labels]
    if settings.method == "union":
        out = np.concatenate(lists), np.concatenate(s_lists), np.concatenate(l_lists)
    else:
        with warnings.catch_warnings():  # coordinates are already checked and in [0, 1]
            warnings.simplefilter("ignore")
            if settings.method == "wbf":
                out = weighted_boxes_fusion(
                    lists, s_lists, l_lists, weights=weights, iou_thr=settings.iou_thr,
                    skip_box_thr=settings.skip_box_thr, conf_type=settings.conf_type,
                )  # fmt: skip
            else:
                kept = [s >= settings.skip_box_thr for s in s_lists]
                out = nms(
                    [b[k] for b, k in zip(lists, kept)], [s[k] for s, k in zip(s_lists, kept)],
                    [v[k] for v, k in zip(l_lists, kept)], iou_thr=settings.iou_thr,
                    weights=weights,
                )  # fmt: skip
    fused, fused_scores, fused_labels = out
    return np.asarray(fused, float), np.asarray(fused_scores, float), np.asarray(fused_labels, int)


def _support(fused: np.ndarray, label: int, reader_boxes: list[np.ndarray],
             reader_labels: list[np.ndarray], iou_thr: float) -> int:  # fmt: skip
    """Readers with a same-class box overlapping ``fused`` at IoU > ``iou_thr`` (at least 1:
    a fused box always comes from some reader's box)."""
    n = sum(
        bool(np.any(iou_matrix(fused, b[lab == label]) > iou_thr))
        for b, lab in zip(reader_boxes, reader_labels)
    )
    return max(n, 1)


def fuse_readers(
    annotations: Annotations,
    method: Method = DEFAULT_FUSION.method,
    iou_thr: float = DEFAULT_FUSION.iou_thr,
    skip_box_thr: float = DEFAULT_FUSION.skip_box_thr,
    conf_type: str = DEFAULT_FUSION.conf_type,
) -> pd.DataFrame:
    """One row per fused box of every image (:data:`FUSED_COLUMNS`, original pixels).

    Every reader of an image is one source, including a reader who said "No finding" (so
    WBF's ``avg`` score is the share of readers behind a box). ``union`` keeps every
    reader's box as it is (``n_readers`` 1). An image with no box left, or no good row at
    all, gets one "No finding" row with the box ``0 0 1 1``, score 1.0 and ``n_readers``
    the readers who said so.
    """
    settings = FusionSettings(method, float(iou_thr), float(skip_box_thr), conf_type)
    table = annotations.boxes
    rad = table["rad_id"].astype(str).to_numpy()
    cls = table["class_id"].to_numpy(int)
    coords = table[list(BOX_COLUMNS)].to_numpy(float)
    by_image = (
        pd.Series(np.arange(len(table))).groupby(table["image_id"].astype(str).to_numpy()).indices
    )
    size = annotations.sizes[["width", "height"]].astype(float)
    rows: list[tuple] = []
    for image_id in annotations.image_ids:
        scale = np.tile(size.loc[image_id].to_numpy(), 2)
        rows_of = by_image.get(image_id, np.zeros(0, dtype=int))
        found = rows_of[cls[rows_of] != NO_FINDING_ID]
        per_reader = [found[rad[found] == r] for r in np.unique(rad[rows_of])]
        boxes = [coords[i] / scale for i in per_reader]
        labels = [cls[i] for i in per_reader]
        fused, scores, fused_labels = fuse_boxes(
            boxes, [np.ones(len(b)) for b in boxes], labels, settings
        )
        for box, score, label in zip(fused, scores, fused_labels):
            n = 1 if method == "union" else _support(box, label, boxes, labels, iou_thr)
            rows.append((image_id, int(label), float(score), *(box * scale), n))
        if not len(fused):
            n_normal = int((cls[rows_of] == NO_FINDING_ID).sum())
            rows.append((image_id, NO_FINDING_ID, 1.0, *NO_FINDING_BOX, n_normal))
    cols = [c for c in FUSED_COLUMNS if c != "class_name"]
    out = pd.DataFrame(rows, columns=cols)
    out.insert(2, "class_name", [ALL_LABELS[c] for c in out["class_id"]])
    return out.astype({"class_id": int, "n_readers": int})


def fused_to_train(fused: pd.DataFrame, rad_id: str = "fused") -> pd.DataFrame:
    """A fused table in ``train.csv`` layout (``rad_id`` "fused"), so every chest reader
    reads it back; "No finding" rows lose their ``0 0 1 1`` box as ``train.csv`` wants.
    ``score`` and ``n_readers`` follow the competition's columns."""
    out = fused.copy()
    out["rad_id"] = rad_id
    out.loc[out["class_id"] == NO_FINDING_ID, list(BOX_COLUMNS)] = np.nan
    return out[[*TRAIN_COLUMNS, "score", "n_readers"]]
