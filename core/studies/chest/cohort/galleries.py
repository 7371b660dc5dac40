"""Error galleries: the false positives and false negatives of one class, and their crops.

Lists come straight from a scored cohort at the thresholds (:mod:`.whatif`'s top-k), so
they move with every slider without rematching:

* **false positives** - kept boxes that matched no truth box, highest score first (the
  most confident mistakes are the ones a reader would see first);
* **false negatives** - truth boxes no kept box found, most agreed-on first (the fused
  truth's ``score`` is the share of readers behind the box), ties by film.

A crop (:func:`box_crop`) is the box with a margin, cut from the film's display pixels,
scaled to a fixed size, with the box drawn; the caller caches crops (the page does, per
film file, box and colour).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from core.studies.chest.classes import BOX_COLUMNS
from core.studies.chest.cohort.scoring import ScoredCohort
from core.studies.chest.layout import load_film

__all__ = ["CROP_SIDE", "box_crop", "error_list", "page_of"]

#: Side of a gallery crop in pixels.
CROP_SIDE = 192
_COLOURS = {"FP": (255, 160, 0), "FN": (0, 200, 255)}  # RGB


def error_list(scored: ScoredCohort, class_id: int, k: int, kind: str) -> pd.DataFrame:
    """``image_id, score, x_min..y_max`` of one class's errors at its top ``k`` boxes:
    ``kind`` ``FP`` (highest score first) or ``FN`` (most readers first)."""
    m = scored.matches[class_id]
    ids = np.asarray(scored.films.ids, dtype=object)
    if kind == "FP":
        rows = np.flatnonzero(~m.tp[:k])
        boxes, image, score = m.det_boxes[rows], m.det_image[rows], m.scores[rows]
    elif kind == "FN":
        found = m.matched[:k][m.tp[:k]]
        rows = np.setdiff1d(np.arange(m.n_truth), found)
        boxes, image = m.truth_boxes[rows], m.truth_image[rows]
        score = scored.truth_scores[class_id][rows]
        order = np.lexsort((ids[image].astype(str), -score))
        boxes, image, score = boxes[order], image[order], score[order]
    else:
        raise ValueError(f"kind is 'FP' or 'FN', not {kind!r}")
    frame = pd.DataFrame(boxes.reshape(-1, 4), columns=list(BOX_COLUMNS))
    frame.insert(0, "score", score.astype(float))
    frame.insert(0, "image_id", ids[image].astype(str) if len(image) else [])
    return frame


def page_of(frame: pd.DataFrame, page: int, per_page: int) -> pd.DataFrame:
    """Rows of one page (0-based; a page past the end gives the last one)."""
    last = max((len(frame) - 1) // per_page, 0)
    start = min(max(page, 0), last) * per_page
    return frame.iloc[start : start + per_page]


def box_crop(
    path: Path,
    original_size: tuple[int, int],
    box: tuple[float, float, float, float],
    kind: str,
    side: int = CROP_SIDE,
    margin: float = 0.5,
) -> np.ndarray:
    """An RGB ``side`` x ``side`` crop around ``box`` (original pixels) of the film at
    ``path``, with ``margin`` x the box's size around it (at least a tenth of the film),
    and the box drawn in the colour of ``kind`` (``FP`` / ``FN``)."""
    film = load_film(Path(path), original_size=tuple(original_size))
    pixels = film.pixels if film.pixels.ndim == 2 else cv2.cvtColor(film.pixels, cv2.COLOR_RGB2GRAY)
    sx, sy = film.scale
    x0, y0, x1, y1 = np.array(box, float) / [sx, sy, sx, sy]
    h, w = pixels.shape
    half = max(x1 - x0, y1 - y0) * (0.5 + margin)
    half = max(half, 0.05 * max(w, h), 4.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = int(max(cx - half, 0)), int(max(cy - half, 0))
    right, bottom = int(min(cx + half, w)), int(min(cy + half, h))
    crop = cv2.cvtColor(pixels[top:bottom, left:right], cv2.COLOR_GRAY2RGB)
    scale = side / max(crop.shape[0], crop.shape[1], 1)
    crop = cv2.resize(crop, (max(int(crop.shape[1] * scale), 1), max(int(crop.shape[0] * scale), 1)),
                      interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)  # fmt: skip
    canvas = np.zeros((side, side, 3), np.uint8)
    canvas[: crop.shape[0], : crop.shape[1]] = crop
    p0 = (int((x0 - left) * scale), int((y0 - top) * scale))
    p1 = (int((x1 - left) * scale), int((y1 - top) * scale))
    cv2.rectangle(canvas, p0, p1, _COLOURS.get(kind, (255, 255, 255)), 2)
    return canvas
