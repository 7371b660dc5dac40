"""Find the picture inside a dark margin: the crop box of one DSA image.

The picture is a large light-grey rectangle; the margin is near-black (JPEG noise keeps it
anywhere in about 0-40). Thin bright things may sit in the margin: a tick-mark ruler,
border lines, a caption. Thin dark things cross the picture: vessels, some reaching the
edge. So the crop works on *area*, never on a single scan line:

1. mark pixels brighter than half the picture's background level;
2. open that mask with a square a few pixels wide, which deletes every bright structure
   thinner than the square (ticks, lines, caption strokes, noise) and keeps the picture
   rectangle exactly;
3. project the mask on rows and columns: a margin row is ~0 % bright, a picture row is
   bright wherever no vessel crosses it, so a low threshold (a fifth of the best row) lets
   even thick vessels along the edge stay inside the crop;
4. keep the longest run of bright rows (columns), joined across vessel-wide gaps, then
   redo the projections inside that span so that the other axis's margins do not dilute
   them.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.case import Box
from core.preprocess.params import DEFAULT_PARAMS, PreprocessParams

__all__ = ["background_level", "dark_threshold", "find_crop"]

#: Widest gap (fraction of the axis) across which two pieces of picture are one picture:
#: wider than any vessel, narrower than any margin worth the name.
_MAX_GAP = 0.04


def background_level(gray: np.ndarray) -> float:
    """Median of the central half of the image: the picture background for any sane margin.

    Vessels are thin and sparse, so they do not move the median.
    """
    h, w = gray.shape
    return float(np.median(gray[h // 4 : h - h // 4 or h, w // 4 : w - w // 4 or w]))


def dark_threshold(background: float, params: PreprocessParams = DEFAULT_PARAMS) -> int:
    """Grey level below which a pixel may belong to the margin."""
    lo, hi = params.dark_clamp
    return int(np.clip(params.dark_fraction * background, lo, hi))


def _runs(keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (exclusive) of the runs of ``True`` in ``keep``."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], keep.astype(np.int8), [0]))))
    return edges[::2], edges[1::2]


def _picture_span(profile: np.ndarray, keep_fraction: float, k: int) -> tuple[int, int]:
    """``(start, end)`` of the picture along one axis; (0, 0) if there is none.

    The longest run of rows (columns) whose bright share is near the best one's, joined
    across narrow gaps to further pieces of picture: a vessel running the whole length of
    the image empties a few rows, and must split neither the picture nor the crop. Pieces
    are only joined across at most ``_MAX_GAP`` of the axis, and must be at least two
    opening widths wide (the opening has already removed thinner bright marks).
    """
    best = float(profile.max()) if profile.size else 0.0
    if best <= 0:
        return 0, 0
    starts, ends = _runs(profile >= keep_fraction * best)
    i = j = int(np.argmax(ends - starts))
    max_gap, min_piece = _MAX_GAP * profile.size, 2 * k
    while i > 0 and starts[i] - ends[i - 1] <= max_gap and ends[i - 1] - starts[i - 1] >= min_piece:
        i -= 1
    while (j < len(starts) - 1 and starts[j + 1] - ends[j] <= max_gap
           and ends[j + 1] - starts[j + 1] >= min_piece):  # fmt: skip
        j += 1
    return int(starts[i]), int(ends[j])


def _snap(crop: Box, size: tuple[int, int], m: int) -> Box:
    """Give back sides whose margin is too thin to be one (JPEG edge blur, not a border)."""
    w, h = size
    x0, y0, x1, y1 = crop
    return (
        0 if x0 < m else x0,
        0 if y0 < m else y0,
        w if w - x1 < m else x1,
        h if h - y1 < m else y1,
    )


def find_crop(gray: np.ndarray, params: PreprocessParams = DEFAULT_PARAMS) -> Box:
    """Crop box ``(x0, y0, x1, y1)`` of the picture, end exclusive; the full image if none.

    A blank image (nothing brighter than the margin threshold) is returned whole: there is
    no picture to crop to, and cutting it to nothing would hide the problem downstream.
    """
    h, w = gray.shape
    bright = (gray > dark_threshold(background_level(gray), params)).astype(np.uint8)
    k = max(5, int(round(min(h, w) * params.open_fraction))) | 1  # odd: no shift
    bright = cv2.morphologyEx(bright, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))

    keep = params.keep_fraction
    r0, r1 = _picture_span(bright.mean(axis=1, dtype=np.float32), keep, k)
    c0, c1 = _picture_span(bright.mean(axis=0, dtype=np.float32), keep, k)
    if r1 <= r0 or c1 <= c0:
        return (0, 0, w, h)
    # Second pass: each axis measured only across the other axis's picture span.
    r0b, r1b = _picture_span(bright[:, c0:c1].mean(axis=1, dtype=np.float32), keep, k)
    c0b, c1b = _picture_span(bright[r0:r1, :].mean(axis=0, dtype=np.float32), keep, k)
    if r1b <= r0b or c1b <= c0b:
        return (0, 0, w, h)
    return _snap((c0b, r0b, c1b, r1b), (w, h), params.min_margin)
