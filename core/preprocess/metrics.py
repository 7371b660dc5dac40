"""Per-image preprocessing scores and their cohort summary (see :mod:`core.preprocess.score`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np

from core.case import Box, PreprocessRecord
from core.preprocess.truth import Truth

__all__ = [
    "TEXT_CONTRAST",
    "IOU_TARGET",
    "ImageScore",
    "box_iou",
    "box_mask",
    "reference_background",
    "score_image",
    "summarise",
]

#: Grey levels from the local background that make a pixel part of a glyph (or a vessel).
TEXT_CONTRAST = 40
#: A crop is right when its IoU with the truth reaches this.
IOU_TARGET = 0.98


@dataclass(frozen=True)
class ImageScore:
    name: str
    crop_iou: float
    kind_true: str
    kind_pred: str
    text_px: int  # glyph pixels in truth boxes
    text_masked: int  # of those, inside a predicted box
    outside_changed: int  # pixels changed outside predicted boxes (must be 0)
    outside_max_diff: int
    false_mask_vessel: int  # vessel pixels in predicted boxes but in no truth box
    changed_off_text: int  # pixels changed outside truth text boxes
    vessel_changed: int  # of those, vessel pixels: anatomy the fill actually altered


def box_iou(a: Box, b: Box) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_mask(
    shape: tuple[int, int], boxes: tuple[Box, ...], offset: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Boolean mask of ``boxes`` on an array of ``shape`` whose origin is ``offset``."""
    mask = np.zeros(shape, bool)
    ox, oy = offset
    for x0, y0, x1, y1 in boxes:
        mask[max(0, y0 - oy) : max(0, y1 - oy), max(0, x0 - ox) : max(0, x1 - ox)] = True
    return mask


def _text_pixels(raw: np.ndarray, bg: np.ndarray, boxes: tuple[Box, ...]) -> np.ndarray:
    """Glyph pixels of each truth box, in the box's own polarity (its commoner extreme)."""
    diff = raw.astype(np.int16) - bg
    out = np.zeros(raw.shape, bool)
    for box in boxes:
        inside = box_mask(raw.shape, (box,))
        bright = inside & (diff >= TEXT_CONTRAST)
        dark = inside & (diff <= -TEXT_CONTRAST)
        out |= bright if bright.sum() >= dark.sum() else dark
    return out


def reference_background(picture: np.ndarray) -> np.ndarray:
    """The score's fixed local background (uint8, full size): a median over 1/12 of the
    shorter side, on a copy subsampled to an 11-px window, scaled back bilinearly.

    Defined here, not borrowed from the detector, so that changing the detector never
    changes what the score calls a text pixel.
    """
    h, w = picture.shape
    scale = min(1.0, 11 / max(11, min(h, w) / 12))
    small = cv2.resize(picture, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_NEAREST)  # fmt: skip
    k = min(11, (min(small.shape) - 1) | 1)
    if k >= 3:
        small = cv2.medianBlur(small, k)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def score_image(
    raw: np.ndarray, truth: Truth, record: PreprocessRecord, cleaned: np.ndarray
) -> ImageScore:
    """Score one image's record and cleaned output against its truth."""
    h, w = raw.shape
    # Background of the true picture, spread over the whole frame for indexing.
    tx0, ty0, tx1, ty1 = truth.crop
    bg = np.zeros_like(raw)
    bg[ty0:ty1, tx0:tx1] = reference_background(raw[ty0:ty1, tx0:tx1])
    in_picture = box_mask(raw.shape, (truth.crop,))
    text = _text_pixels(raw, bg, truth.text_boxes) & in_picture
    pred_boxes = box_mask(raw.shape, record.text_boxes)
    truth_boxes = box_mask(raw.shape, truth.text_boxes)
    vessel = in_picture & (raw.astype(np.int16) - bg <= -TEXT_CONTRAST)

    x0, y0, x1, y1 = record.crop
    crop_raw = raw[y0:y1, x0:x1]
    if cleaned.shape != crop_raw.shape:
        changed = np.ones(crop_raw.shape, bool)
        diff = np.full(crop_raw.shape, 255, np.int16)
    else:
        diff = np.abs(cleaned.astype(np.int16) - crop_raw)
        changed = diff > 0
    outside = ~box_mask(crop_raw.shape, record.text_boxes, (x0, y0))
    off_text = ~box_mask(crop_raw.shape, truth.text_boxes, (x0, y0))
    return ImageScore(
        name=truth.path.name,
        crop_iou=box_iou(record.crop, truth.crop),
        kind_true=truth.kind,
        kind_pred=record.image_type,
        text_px=int(text.sum()),
        text_masked=int((text & pred_boxes).sum()),
        outside_changed=int((changed & outside).sum()),
        outside_max_diff=int(diff[outside].max()) if outside.any() else 0,
        false_mask_vessel=int((vessel & pred_boxes & ~truth_boxes).sum()),
        changed_off_text=int((changed & off_text).sum()),
        vessel_changed=int((changed & off_text & vessel[y0:y1, x0:x1]).sum()),
    )


def _failures(named: list[tuple[str, float]], target: float, n: int = 10) -> list[list[object]]:
    """The ``n`` worst ``[file, value]`` pairs below ``target``, worst first."""
    below = sorted((v, name) for name, v in named if v < target)
    return [[name, round(v, 4)] for v, name in below[:n]]


def summarise(scores: list[ImageScore]) -> dict[str, object]:
    """Cohort summary of per-image scores, JSON-ready."""
    if not scores:
        return {"images": 0}
    ious = np.array([s.crop_iou for s in scores])
    kinds = Counter((s.kind_true, s.kind_pred) for s in scores)
    confusion: dict[str, dict[str, int]] = {}
    for (t, p), n in sorted(kinds.items()):
        confusion.setdefault(t, {})[p] = n
    text_px = sum(s.text_px for s in scores)
    masked = sum(s.text_masked for s in scores)
    with_text = [s for s in scores if s.text_px]
    per_image_text = [(s.name, s.text_masked / s.text_px) for s in with_text]
    return {
        "images": len(scores),
        "crop_iou_ge_0.98": round(float(np.mean(ious >= IOU_TARGET)), 4),
        "crop_iou_mean": round(float(ious.mean()), 4),
        "crop_iou_min": round(float(ious.min()), 4),
        "crop_failures": _failures([(s.name, s.crop_iou) for s in scores], IOU_TARGET),
        "kind_accuracy": round(float(np.mean([s.kind_true == s.kind_pred for s in scores])), 4),
        "kind_confusion": confusion,
        "text_pixels": text_px,
        "text_pixels_masked": round(masked / text_px, 4) if text_px else None,
        "text_images_below_0.98": int(sum(f < 0.98 for _, f in per_image_text)),
        "text_failures": _failures(per_image_text, 0.98),
        "kind_failures": [
            [s.name, s.kind_true, s.kind_pred] for s in scores if s.kind_true != s.kind_pred
        ][:10],  # fmt: skip
        "outside_boxes_changed_images": int(sum(s.outside_changed > 0 for s in scores)),
        "outside_boxes_max_abs_diff": int(max(s.outside_max_diff for s in scores)),
        "false_mask_vessel_pixels": int(sum(s.false_mask_vessel for s in scores)),
        "false_mask_images": int(sum(s.false_mask_vessel > 0 for s in scores)),
        "changed_off_text_pixels": int(sum(s.changed_off_text for s in scores)),
        "changed_off_text_images": int(sum(s.changed_off_text > 0 for s in scores)),
        "vessel_pixels_changed": int(sum(s.vessel_changed for s in scores)),
        "vessel_changed_images": int(sum(s.vessel_changed > 0 for s in scores)),
    }
