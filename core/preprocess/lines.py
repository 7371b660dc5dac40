"""Characters into lines, lines into blocks: the evidence that a mark is burned-in text.

A line is characters side by side: vertical extents overlapping, heights within a factor
of two, gaps under ``line_gap`` heights. A line with enough characters is text on its own
(two for bright text; more for dark text, which competes with vessels). A shorter line
("DSA", or a line whose thin glyphs broke apart) is text only as part of a *block*: next
to an accepted line of the same polarity, of the same height, and aligned with it on the
left or the right, as consoles stack their annotations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.case import Box
from core.preprocess.glyphs import Polarity
from core.preprocess.params import PreprocessParams

__all__ = ["TextLine", "find_lines"]

#: A block's lines are at most this many character heights apart, top to top (line pitch
#: is commonly 1.7-3 cap heights).
_BLOCK_STEP = 3.5
#: Heights of lines in one block agree within this factor.
_BLOCK_HEIGHT = 1.35
#: Height ratio (either way) of a loose mark to the line it joins.
_LOOSE_HEIGHT = 1.4
#: Fewest characters a dark line needs to join a block (bright: one).
_MIN_BLOCK_CHARS = {"bright": 1, "dark": 2}


@dataclass(frozen=True)
class TextLine:
    """One detected line of characters, in picture (cropped) coordinates."""

    box: Box  # padded, end exclusive
    polarity: Polarity
    chars: int
    height: float


def _group(chars: np.ndarray, line_gap: float) -> np.ndarray:
    """Line label per character: connected components of the "same line" relation."""
    x0, y0, x1, y1 = (chars[:, i, None].astype(np.float32) for i in range(4))
    h = y1 - y0
    hmin, hmax = np.minimum(h, h.T), np.maximum(h, h.T)
    overlap = np.minimum(y1, y1.T) - np.maximum(y0, y0.T)
    gap = np.maximum(x0.T - x1, x0 - x1.T)
    same = (overlap >= 0.5 * hmin) & (hmax <= 2.0 * hmin) & (gap <= line_gap * hmax)
    labels = np.arange(len(chars))
    while True:  # min-label propagation with pointer jumping
        new = np.minimum(np.where(same, labels[None, :], labels.size).min(axis=1), labels)
        new = new[new]
        if np.array_equal(new, labels):
            return labels
        labels = new


def _char_count(members: np.ndarray, polarity: Polarity) -> int:
    """Characters in a line. A wide bright component is a word of touching letters and
    counts one per height of width; a dark one counts once, since a short straight piece
    of vessel is just as wide."""
    if polarity == "dark":
        return len(members)
    w, h = members[:, 2] - members[:, 0], members[:, 3] - members[:, 1]
    return int(np.maximum(1, w // np.maximum(h, 1)).sum())


def _grow(box: np.ndarray, small: np.ndarray, reach: float) -> np.ndarray:
    """Extend a line box by the small marks beside it: dots, punctuation, lower case of a
    tiny font. A mark joins when its centre is inside the line's band and it is within
    ``reach`` of the box's ends; the box grows until nothing more joins."""
    if len(small) == 0:
        return box
    cy = (small[:, 1] + small[:, 3]) / 2
    in_band = small[(cy >= box[1]) & (cy <= box[3])]
    while True:
        near = (in_band[:, 2] >= box[0] - reach) & (in_band[:, 0] <= box[2] + reach)
        grown = box.copy()
        if near.any():
            grown[0] = min(box[0], in_band[near, 0].min())
            grown[2] = max(box[2], in_band[near, 2].max())
        if np.array_equal(grown, box):
            return box
        box = grown


def _grow_loose(box: np.ndarray, loose: np.ndarray, med: float, reach: float) -> np.ndarray:
    """Extend a line box by character-shaped marks that failed only the sharpness test
    (a glyph touching a vessel): of the line's height (within ``_LOOSE_HEIGHT``), their top
    and bottom on the line's (within a quarter height), next to its ends."""
    if len(loose) == 0:
        return box
    h = loose[:, 3] - loose[:, 1]
    tol = 0.25 * med
    ok = ((h >= med / _LOOSE_HEIGHT) & (h <= med * _LOOSE_HEIGHT)
          & (loose[:, 1] >= box[1] - tol) & (loose[:, 3] <= box[3] + tol))  # fmt: skip
    return _grow(box, loose[ok], reach)


def _in_block(line: TextLine, accepted: list[TextLine]) -> bool:
    """Is ``line`` stacked on (or under) an accepted line, like the rest of a block?"""
    x0, y0, x1, y1 = line.box
    for a in accepted:
        low, h = sorted((line.height, a.height))
        if h > _BLOCK_HEIGHT * low:
            continue
        close = abs(y0 - a.box[1]) <= _BLOCK_STEP * h
        aligned = abs(x0 - a.box[0]) <= h or abs(x1 - a.box[2]) <= h
        if close and aligned:
            return True
    return False


def find_lines(
    chars: np.ndarray,
    small: np.ndarray,
    shape: tuple[int, int],
    polarity: Polarity,
    params: PreprocessParams,
    loose: np.ndarray | None = None,
) -> list[TextLine]:
    """Text lines from character boxes ``chars``, small marks ``small`` and character-shaped
    but unsharp marks ``loose`` (each ``(n, 4)``); only ``chars`` make a line."""
    if len(chars) == 0:
        return []
    labels = _group(chars, params.line_gap)
    need = params.min_chars_bright if polarity == "bright" else params.min_chars_dark
    h_img, w_img = shape
    strong, weak = [], []
    for lab in np.unique(labels):
        members = chars[labels == lab]
        count = _char_count(members, polarity)
        med = float(np.median(members[:, 3] - members[:, 1]))
        # A row of characters has a common top or baseline; scattered marks do not.
        if count > 1 and min(members[:, 1].std(), members[:, 3].std()) > 0.25 * med:
            continue
        core = np.array([members[:, 0].min(), members[:, 1].min(),
                         members[:, 2].max(), members[:, 3].max()])  # fmt: skip
        reach = params.line_gap * med
        grown = _grow(core, small, reach)
        if loose is not None:
            grown = _grow(_grow_loose(grown, loose, med, reach), small, reach)
        x0, y0, x1, y1 = grown.tolist()
        pad = max(2, int(round(params.box_pad * med)))
        box = (max(0, x0 - pad), max(0, y0 - pad), min(w_img, x1 + pad), min(h_img, y1 + pad))
        line = TextLine(box, polarity, count, med)
        if count >= need:
            strong.append(line)
        elif count >= _MIN_BLOCK_CHARS[polarity]:
            weak.append(line)
    accepted, changed = strong, True
    while changed:  # a block may stack several short lines under one long one
        joining = [w for w in weak if _in_block(w, accepted)]
        weak = [w for w in weak if w not in joining]
        accepted, changed = accepted + joining, bool(joining)
    return accepted
