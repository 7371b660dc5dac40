"""The original team's preprocessing, kept as a yardstick for speed and accuracy.

1. Margin: from the image centre, walk along the middle row and the middle column outwards
   until the first dark pixel; the walk's ends are the crop.
2. Text: cover a fixed box (the top-left ``REF_BOX`` of the crop) with the mean of the
   background patch just below it.

Its known failures are why :mod:`core.preprocess.pipeline` exists: a vessel crossing the
middle row or column stops the walk early (over-cropping), a ruler or border line is never
seen, and text anywhere but the fixed box stays. It has no classifier; its record goes
through the same :func:`~core.preprocess.kind.classify`, so every cropped image counts as
``margin_text`` (it always covers the box).
"""

from __future__ import annotations

import numpy as np

from core.case import Box, PreprocessRecord
from core.preprocess.kind import classify

__all__ = ["REF_DARK", "REF_BOX", "reference_crop", "reference_preprocess"]

#: "Dark" for the walk: the original compared with a fixed grey level.
REF_DARK = 20
#: The fixed text box as fractions of the crop: ``(x0, y0, x1, y1)``.
REF_BOX = (0.0, 0.0, 0.3, 0.08)


def _walk(line: np.ndarray) -> tuple[int, int]:
    """``(start, end)`` of the non-dark run through the middle of ``line``."""
    mid = line.size // 2
    dark = line < REF_DARK
    before = np.flatnonzero(dark[:mid])
    after = np.flatnonzero(dark[mid:])
    start = int(before[-1]) + 1 if before.size else 0
    end = mid + int(after[0]) if after.size else line.size
    return start, max(end, start + 1)


def reference_crop(gray: np.ndarray) -> Box:
    """The original centre-walk crop, ``(x0, y0, x1, y1)`` end exclusive."""
    h, w = gray.shape
    x0, x1 = _walk(gray[h // 2, :])
    y0, y1 = _walk(gray[:, w // 2])
    return (x0, y0, x1, y1)


def reference_preprocess(gray: np.ndarray) -> tuple[np.ndarray, PreprocessRecord]:
    """Crop, then paint the fixed box with the mean of the patch below it (if cropped)."""
    h, w = gray.shape
    crop = reference_crop(gray)
    x0, y0, x1, y1 = crop
    out = gray[y0:y1, x0:x1].copy()
    boxes: tuple[Box, ...] = ()
    if crop != (0, 0, w, h):
        ch, cw = out.shape
        bx0, by0 = int(REF_BOX[0] * cw), int(REF_BOX[1] * ch)
        bx1, by1 = max(bx0 + 1, int(REF_BOX[2] * cw)), max(by0 + 1, int(REF_BOX[3] * ch))
        patch = out[by1 : min(ch, 2 * by1 - by0), bx0:bx1]
        if patch.size:
            out[by0:by1, bx0:bx1] = np.uint8(round(float(patch.mean())))
            boxes = ((bx0 + x0, by0 + y0, bx1 + x0, by1 + y0),)
    return out, PreprocessRecord(classify(crop, (w, h), boxes), crop, boxes, (w, h))
