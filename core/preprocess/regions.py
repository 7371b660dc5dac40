"""Candidate regions: the few rectangles of a picture where text can be, and box merging.

Labelling components and testing their rings costs time per *pixel*, yet burned-in text
covers a few percent of a view. So the costly steps run only on rectangles around the
*seed* pixels that could belong to a character (stroke cores; for dark text, cores next to
background, see :func:`core.preprocess.text.detect_text`): the picture is cut into
``TILE``-pixel tiles, tiles holding a seed are grown by one tile (so that a character's
fainter edge, and the background ring around it, are inside), and each connected group of
tiles gives its bounding rectangle. Overlapping rectangles are merged, so that no pixel is
looked at twice; when they cover most of the picture anyway, the whole picture is one
rectangle (fewer, larger calls are then cheaper than many small ones).
"""

from __future__ import annotations

import cv2
import numpy as np

from core.case import Box

__all__ = ["TILE", "candidate_rects", "merge_boxes"]

#: Tile side (px): about a character's height, so that growing by one tile reaches past it.
TILE = 16
#: Above this share of the picture, candidate rectangles give way to the whole picture.
_MAX_SHARE = 0.5
_SQUARE3 = np.ones((3, 3), np.uint8)


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def merge_boxes(boxes: list[Box]) -> tuple[Box, ...]:
    """Union overlapping boxes (both polarities can find one caption), top to bottom."""
    pending, merged = list(boxes), []
    while pending:
        box = pending.pop()
        hits = [m for m in merged if _overlaps(m, box)]
        if not hits:
            merged.append(box)
            continue
        merged = [m for m in merged if m not in hits]
        group = [box, *hits]
        pending.append((min(b[0] for b in group), min(b[1] for b in group),
                        max(b[2] for b in group), max(b[3] for b in group)))  # fmt: skip
    return tuple(sorted(merged, key=lambda b: (b[1], b[0])))


def candidate_rects(
    seeds: np.ndarray, size: tuple[int, int] | None = None, step: int = 1
) -> tuple[Box, ...]:
    """Disjoint rectangles ``(x0, y0, x1, y1)`` (end exclusive) of a picture of ``size``
    (width, height) that hold every seed with at least one tile of room around it; ``()``
    when ``seeds`` (uint8 0/1) is empty. ``seeds`` may be the picture subsampled every
    ``step`` pixels (``TILE`` a multiple of it); the rectangles are in picture pixels."""
    h, w = seeds.shape
    if not cv2.countNonZero(seeds):
        return ()
    width, height = (w * step, h * step) if size is None else size
    tile = TILE // step
    th, tw = -(-h // tile), -(-w // tile)
    padded = cv2.copyMakeBorder(seeds, 0, th * tile - h, 0, tw * tile - w,
                                cv2.BORDER_CONSTANT, value=0)  # fmt: skip
    # Area averaging at an integer factor is OpenCV's fast path; scaled to 255 first, one
    # seed pixel in a tile still averages to a non-zero value.
    tiles = cv2.resize(padded * np.uint8(255), (tw, th), interpolation=cv2.INTER_AREA)
    grown = cv2.dilate((tiles > 0).view(np.uint8), _SQUARE3)
    n, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    rects = [(int(x) * TILE, int(y) * TILE, min(width, int(x + bw) * TILE),
              min(height, int(y + bh) * TILE)) for x, y, bw, bh, _ in stats[1:n]]  # fmt: skip
    merged = merge_boxes(rects)
    if sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in merged) > _MAX_SHARE * height * width:
        return ((0, 0, width, height),)
    return merged
