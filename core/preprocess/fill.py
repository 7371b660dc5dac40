"""Fill detected text from its own surroundings, touching nothing outside the text boxes.

Only the characters' stroke pixels (grown by a couple of pixels for anti-aliasing and
JPEG ringing) are replaced, by Telea inpainting from the pixels around them, so the
local background and any vessel passing behind the text carry on through the gap. A
stroke component that leaves the line's box is not a character but something crossing
it (a vessel, for dark text) and is left alone.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.preprocess.labelling import label_boxes
from core.preprocess.params import DEFAULT_PARAMS, PreprocessParams
from core.preprocess.text import TextDetection

__all__ = ["fill_text"]


def _inside_strokes(mask: np.ndarray) -> np.ndarray:
    """The mask without components that touch its border (they continue outside)."""
    labels, boxes = label_boxes(mask)
    h, w = mask.shape
    x0, y0, x1, y1 = (boxes[:, i] for i in range(4))
    inside = np.concatenate(([False], (x0 > 0) & (y0 > 0) & (x1 < w) & (y1 < h)))
    return inside[labels].astype(np.uint8)


def fill_text(
    picture: np.ndarray, detection: TextDetection, params: PreprocessParams = DEFAULT_PARAMS
) -> np.ndarray:
    """A copy of ``picture`` with every detected line's strokes inpainted.

    Pixels outside the lines' boxes are guaranteed unchanged: each line is inpainted on a
    sub-image with room for the inpainting radius, and only its box is written back.
    """
    out = picture.copy()
    grow = np.ones((2 * params.fill_dilate + 1,) * 2, np.uint8)
    r = params.inpaint_radius
    h, w = picture.shape
    for line in detection.lines:
        x0, y0, x1, y1 = line.box
        # One pixel of the surroundings lets components that continue outside be seen.
        sx0, sy0, sx1, sy1 = max(0, x0 - 1), max(0, y0 - 1), min(w, x1 + 1), min(h, y1 + 1)
        strokes = _inside_strokes(detection.masks[line.polarity][sy0:sy1, sx0:sx1])
        strokes = cv2.dilate(strokes, grow)[y0 - sy0 : y1 - sy0, x0 - sx0 : x1 - sx0]
        if not strokes.any():
            continue
        # Inpaint with context around the box, then keep only the box.
        cx0, cy0, cx1, cy1 = max(0, x0 - r), max(0, y0 - r), min(w, x1 + r), min(h, y1 + r)
        region_mask = np.zeros((cy1 - cy0, cx1 - cx0), np.uint8)
        region_mask[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0] = strokes
        filled = cv2.inpaint(out[cy0:cy1, cx0:cx1], region_mask, r, cv2.INPAINT_TELEA)
        box = filled[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
        out[y0:y1, x0:x1] = np.where(strokes > 0, box, out[y0:y1, x0:x1])
    return out
