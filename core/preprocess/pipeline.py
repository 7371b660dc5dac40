"""One image in, one cleaned image and its record out: crop, find text, fill, classify.

:func:`preprocess_image` returns ``(image, record)``: the caller decides what the image is
(a view of a case, a file on disk), so that this function needs nothing but pixels.
:func:`preprocess_view` wraps it for :class:`~core.case.ViewImage` into a
:class:`~core.case.CleanView`.
"""

from __future__ import annotations

import numpy as np

from core.case import CleanView, PreprocessRecord, ViewImage
from core.preprocess.fill import fill_text
from core.preprocess.kind import classify
from core.preprocess.margin import find_field
from core.preprocess.params import DEFAULT_PARAMS, PreprocessParams
from core.preprocess.regions import merge_boxes
from core.preprocess.text import detect_text

__all__ = ["preprocess_image", "preprocess_view", "merge_boxes"]


def preprocess_image(
    gray: np.ndarray, params: PreprocessParams = DEFAULT_PARAMS
) -> tuple[np.ndarray, PreprocessRecord]:
    """Crop the margin, fill burned-in text; return the cleaned crop and what was done.

    ``gray`` is uint8 HxW with vessels dark. Boxes in the record are in original-image
    coordinates, end exclusive. The returned image is ``gray[crop]`` except inside the
    text boxes, where only the text strokes were replaced.
    """
    if gray.dtype != np.uint8 or gray.ndim != 2:
        raise ValueError(f"preprocess_image needs 2-D uint8, got {gray.dtype} {gray.shape}")
    h, w = gray.shape
    field = find_field(gray, params)
    crop = field.crop
    x0, y0, x1, y1 = crop
    picture = gray[y0:y1, x0:x1]
    detection = detect_text(picture, params, field.mask((x1 - x0, y1 - y0)))
    cleaned = fill_text(picture, detection, params)
    boxes = merge_boxes(
        [(bx0 + x0, by0 + y0, bx1 + x0, by1 + y0) for bx0, by0, bx1, by1 in
         (line.box for line in detection.lines)]
    )  # fmt: skip
    kind = classify(crop, (w, h), boxes)
    record = PreprocessRecord(kind, crop, boxes, (w, h), field.surround, field.shape)
    return cleaned, record


def preprocess_view(view: ViewImage, params: PreprocessParams = DEFAULT_PARAMS) -> CleanView:
    """The case-record form of :func:`preprocess_image`."""
    image, record = preprocess_image(view.pixels, params)
    return CleanView(view.view, image, record)
