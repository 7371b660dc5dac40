"""Draw what preprocessing did onto the original image, so a reader can check it.

The crop box is outlined; each masked text box is outlined and lightly filled so that it
stays visible on a busy background. The light fill is a tint, for the screen: the reader
can check that a box covers its text. Exports never draw on the original pixels but on
:func:`core.review.redact.redacted_case`, where text and margin are filled opaquely.
Colours are fixed here (not per call) so that every view, the page and the HTML report use
the same legend.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.case import Box, PreprocessRecord

__all__ = ["CROP_RGB", "TEXT_RGB", "to_rgb", "draw_preprocessing", "side_by_side"]

#: Outline colours (RGB): crop in green, masked text in amber.
CROP_RGB: tuple[int, int, int] = (64, 220, 120)
TEXT_RGB: tuple[int, int, int] = (255, 176, 32)
_TEXT_FILL_ALPHA = 0.25


def to_rgb(gray: np.ndarray) -> np.ndarray:
    """``uint8`` HxW grey -> HxWx3 RGB (a copy, never a view of the input)."""
    if gray.ndim == 3:
        return np.ascontiguousarray(gray[..., :3]).copy()
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


def _thickness(shape: tuple[int, ...]) -> int:
    """Line width that stays visible when a large image is shown small (~0.4 % of side)."""
    return max(2, round(max(shape[:2]) / 250))


def _rect(img: np.ndarray, box: Box, rgb: tuple[int, int, int], thickness: int) -> None:
    x0, y0, x1, y1 = box
    # Boxes are end-exclusive; cv2 rectangles include their far corner.
    cv2.rectangle(img, (int(x0), int(y0)), (int(x1) - 1, int(y1) - 1), rgb, thickness)


def _scaled(box: Box, f: float) -> Box:
    x0, y0, x1, y1 = box
    return (round(x0 * f), round(y0 * f), max(round(x0 * f) + 1, round(x1 * f)),
            max(round(y0 * f) + 1, round(y1 * f)))  # fmt: skip


def draw_preprocessing(
    original: np.ndarray, record: PreprocessRecord, height: int | None = None
) -> np.ndarray:
    """The original view in RGB with the crop box and masked text boxes drawn on it; with
    ``height``, shrunk to that height first and drawn there (a thumbnail costs a fraction
    of drawing at full resolution and shrinking after, and its lines stay crisp)."""
    f = 1.0
    if height is not None and original.shape[0] > height:
        f = height / original.shape[0]
        size = (max(1, round(original.shape[1] * f)), height)
        original = cv2.resize(original, size, interpolation=cv2.INTER_AREA)
    img = to_rgb(original)
    t = _thickness(img.shape)
    boxes = [_scaled(b, f) for b in record.text_boxes]
    if boxes:
        fill = img.copy()
        for x0, y0, x1, y1 in boxes:
            fill[y0:y1, x0:x1] = TEXT_RGB
        img = cv2.addWeighted(fill, _TEXT_FILL_ALPHA, img, 1 - _TEXT_FILL_ALPHA, 0)
        for box in boxes:
            _rect(img, box, TEXT_RGB, t)
    _rect(img, _scaled(record.crop, f), CROP_RGB, t)
    return img


def side_by_side(left: np.ndarray, right: np.ndarray, height: int, gap: int = 8) -> np.ndarray:
    """Two images scaled to one ``height`` and joined with a dark gap (RGB ``uint8``).

    Used for "original with boxes | cleaned crop": one picture per view keeps the grid
    aligned whatever the crop's aspect ratio.
    """
    parts = []
    for img in (to_rgb(left), to_rgb(right)):
        h, w = img.shape[:2]
        size = (max(1, round(w * height / h)), height)
        interp = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
        parts.append(cv2.resize(img, size, interpolation=interp))
    spacer = np.full((height, gap, 3), 14, np.uint8)
    return np.concatenate([parts[0], spacer, parts[1]], axis=1)
