"""Which candidate stroke components look like characters.

A character is a connected component of plausible height and width whose edges fall
sharply onto background. That last test is what separates burned-in text from the
near-black pieces of a vessel: two pixels outside a character lies background (a crossing
vessel aside); two pixels outside a piece of vessel lies the paler rest of the vessel,
still darker than the background.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from core.preprocess.labelling import label_boxes
from core.preprocess.params import PreprocessParams

__all__ = ["Polarity", "Components", "components", "char_like"]

Polarity = Literal["bright", "dark"]

#: Largest share of the ring around a character's strokes that may share their polarity.
_MAX_RING_CONTRAST = 0.6
#: Widest character (width / height). Bright characters may touch into a word; dark ones
#: may not be much wider than a few letters, because a short piece of vessel is wide too.
_MAX_ASPECT = {"bright": 10.0, "dark": 3.0}
#: Least ink in a character's box: thinner than this is a line or a speck, not a glyph.
_MIN_FILL = 0.08
_SQUARE3 = np.ones((3, 3), np.uint8)
_SQUARE5 = np.ones((5, 5), np.uint8)


@dataclass(frozen=True)
class Components:
    """The 8-connected components of one stroke mask."""

    labels: np.ndarray  # int32 label image, 0 = background
    boxes: np.ndarray  # (n, 5) rows x0, y0, x1, y1, area for labels 1..n, end exclusive
    sharp: np.ndarray  # (n,) bool: edges fall onto background (see module docstring)


def components(mask: np.ndarray, loose: np.ndarray) -> Components:
    """Components of ``mask``, each judged sharp when at most ``_MAX_RING_CONTRAST`` of its
    outer ring lies in ``loose`` (any contrast of the strokes' polarity).

    The ring is the pixels exactly two steps outside the strokes, each credited to the
    component it surrounds (the largest label within two steps).
    """
    labels, boxes = label_boxes(mask)
    n = len(boxes) + 1
    ring = (cv2.dilate(mask, _SQUARE5) > 0) & (cv2.dilate(mask, _SQUARE3) == 0)
    # Labels dilate exactly as uint16 (half the memory traffic of float32) below 2**16.
    as_type = np.uint16 if n <= np.iinfo(np.uint16).max else np.float32
    owner = cv2.dilate(labels.astype(as_type), _SQUARE5)[ring].astype(np.int64)
    total = np.bincount(owner, minlength=n)
    same = np.bincount(owner, weights=loose[ring].astype(np.float64), minlength=n)
    share = (same / np.maximum(total, 1))[1:]
    return Components(labels, boxes, share <= _MAX_RING_CONTRAST)


def char_like(
    comps: Components,
    shape: tuple[int, int],
    polarity: Polarity,
    params: PreprocessParams,
    sharp: bool = True,
    side: int | None = None,
) -> np.ndarray:
    """Boolean per component: character-shaped, with sharp edges onto background, and clear
    of the edge of ``shape`` (a mark cut by the crop is a sliver of surround or anatomy: a
    burned-in character lies wholly inside the picture; a mark cut by a candidate region
    continues outside it). ``side``: the whole picture's shorter side, which sets the
    largest character (default: ``shape``'s). ``sharp=False`` drops the sharpness test:
    the shape alone."""
    b = comps.boxes
    w, h, area = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1], b[:, 4]
    side = min(shape) if side is None else side
    h_max = max(params.min_char_px + 1, params.max_char_fraction * side)
    inside = (b[:, 0] > 0) & (b[:, 1] > 0) & (b[:, 2] < shape[1]) & (b[:, 3] < shape[0])
    return (
        inside
        & (h >= params.min_char_px)
        & (h <= h_max)
        & (w <= _MAX_ASPECT[polarity] * h)
        & (area >= _MIN_FILL * w * h)
        & (comps.sharp if sharp else True)
    )
