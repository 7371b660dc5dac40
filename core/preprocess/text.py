"""Burned-in text, bright or dark, found as lines of characters in the cropped picture.

A stroke pixel alone proves nothing (vessels are dark, noise is bright); a line of
characters does. Candidate strokes (:mod:`core.preprocess.strokes`) become characters
(:mod:`core.preprocess.glyphs`), characters become lines and blocks
(:mod:`core.preprocess.lines`). Dark text competes with vessels and needs more evidence:
missing dark text is preferred to erasing a vessel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.preprocess.glyphs import Polarity, char_like, components
from core.preprocess.lines import TextLine, find_lines
from core.preprocess.params import DEFAULT_PARAMS, PreprocessParams
from core.preprocess.strokes import (
    background_bounds,
    contrast_masks,
    stroke_contrast,
    stroke_masks,
)

__all__ = ["Polarity", "TextLine", "TextDetection", "detect_text"]


@dataclass
class TextDetection:
    """Detected lines plus the stroke masks the fill step needs."""

    lines: list[TextLine]
    #: polarity -> uint8 0/1 mask of *sharp* stroke components (the only ones filled:
    #: a near-black piece of vessel inside a text box stays).
    masks: dict[str, np.ndarray]
    background: np.ndarray  # local (median) background estimate, uint8


def _lines_of(
    mask: np.ndarray, loose: np.ndarray, polarity: Polarity, params: PreprocessParams
) -> tuple[list[TextLine], np.ndarray]:
    """Lines of one polarity, and the mask of its sharp stroke components."""
    comps = components(mask, loose)
    boxes = comps.boxes
    shaped = char_like(comps, mask.shape, polarity, params, sharp=False)
    chars = boxes[shaped & comps.sharp, :4]
    unsharp = shaped & ~comps.sharp
    heights = boxes[:, 3] - boxes[:, 1]
    small = boxes[(heights < params.min_char_px) & (boxes[:, 4] >= 2) & comps.sharp, :4]
    lines = find_lines(chars, small, mask.shape, polarity, params, boxes[unsharp, :4])
    # Unsharp glyphs a line took in are filled with it (a glyph touching a vessel).
    taken = np.zeros(len(boxes), bool)
    for line in lines:
        x0, y0, x1, y1 = line.box
        taken |= ((boxes[:, 0] >= x0) & (boxes[:, 1] >= y0)
                  & (boxes[:, 2] <= x1) & (boxes[:, 3] <= y1))  # fmt: skip
    return lines, comps.mask_of(comps.sharp | (unsharp & taken))


def detect_text(
    picture: np.ndarray, params: PreprocessParams = DEFAULT_PARAMS, field: np.ndarray | None = None
) -> TextDetection:
    """Find lines of burned-in text anywhere in the cropped picture (``field``: uint8 0/1 of
    the field's pixels when the crop also holds surround)."""
    bounds = background_bounds(picture, params, field)
    contrast = stroke_contrast(picture, bounds[1], params)
    max_char = params.max_char_fraction * min(picture.shape)
    bright, dark = stroke_masks(picture, bounds, contrast, params.black_level, max_char)
    loose_bright, loose_dark = contrast_masks(picture, bounds[2], contrast)
    bright_lines, bright_sharp = _lines_of(bright, loose_bright, "bright", params)
    dark_lines, dark_sharp = _lines_of(dark, loose_dark, "dark", params)
    masks = {"bright": bright_sharp, "dark": dark_sharp}
    return TextDetection(bright_lines + dark_lines, masks, bounds[1])
