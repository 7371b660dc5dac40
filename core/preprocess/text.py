"""Burned-in text, bright or dark, found as lines of characters in the cropped picture.

A stroke pixel alone proves nothing (vessels are dark, noise is bright); a line of
characters does. Candidate strokes (:mod:`core.preprocess.strokes`) become characters
(:mod:`core.preprocess.glyphs`), characters become lines and blocks
(:mod:`core.preprocess.lines`). Dark text competes with vessels and needs more evidence:
missing dark text is preferred to erasing a vessel.

Only the envelopes and the stroke cores are computed over the whole picture. Components
are labelled and judged inside candidate rectangles (:mod:`core.preprocess.regions`)
around the seeds a character needs, looked for on every second row and column: any
bright core pixel, and a dark core pixel on a *thin* dark structure (darker by the stroke
contrast than its closing with a square of ``_THIN`` of the shorter side: narrower than
that square). Burned-in strokes are one to a few pixels wide, so every dark glyph has
seeds, while the inside and the edges of a near-black vessel wider than the square do
not; this is what keeps the dark rectangles small. Lines are then formed over all
rectangles together, so a line may span several.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from core.case import Box
from core.preprocess.glyphs import Components, Polarity, char_like, components
from core.preprocess.lines import TextLine, find_lines
from core.preprocess.params import DEFAULT_PARAMS, PreprocessParams
from core.preprocess.regions import candidate_rects
from core.preprocess.strokes import (
    background_bounds,
    bright_core,
    bright_strokes,
    dark_core,
    dark_strokes,
    stroke_contrast,
)

__all__ = ["Polarity", "TextLine", "TextDetection", "detect_text"]

#: The closing square that tells a thin dark structure, as a fraction of the picture's
#: shorter side (at least ``_MIN_THIN`` seed-grid samples, odd): strokes up to about
#: 5 px wide at 1000 px pass, console fonts draw 1-4 px.
_THIN, _MIN_THIN = 1 / 150, 3
#: Seeds are looked for on every ``_STEP``-th row and column.
_STEP = 2


@dataclass
class TextDetection:
    """Detected lines plus the stroke masks the fill step needs."""

    lines: list[TextLine]
    #: polarity -> uint8 0/1 mask of *sharp* stroke components (the only ones filled:
    #: a near-black piece of vessel inside a text box stays), set only in and around the
    #: lines' boxes, where the fill looks.
    masks: dict[str, np.ndarray]


@dataclass(frozen=True)
class _Part:
    """The components of one candidate rectangle."""

    rect: Box
    comps: Components


def _lines_of(
    parts: list[_Part], shape: tuple[int, int], polarity: Polarity, params: PreprocessParams
) -> tuple[list[TextLine], np.ndarray]:
    """Lines of one polarity over all its rectangles, and the mask of its sharp stroke
    components (full picture size)."""
    side = min(shape)
    boxes, sharp, shaped = [np.zeros((0, 5), np.int64)], [np.zeros(0, bool)], [np.zeros(0, bool)]
    for part in parts:
        x0, y0, x1, y1 = part.rect
        boxes.append(part.comps.boxes + np.array([x0, y0, x0, y0, 0]))
        sharp.append(part.comps.sharp)
        shaped.append(char_like(part.comps, (y1 - y0, x1 - x0), polarity, params, False, side))
    b, sharp_, shaped_ = np.concatenate(boxes), np.concatenate(sharp), np.concatenate(shaped)
    chars = b[shaped_ & sharp_, :4]
    unsharp = shaped_ & ~sharp_
    heights = b[:, 3] - b[:, 1]
    small = b[(heights < params.min_char_px) & (b[:, 4] >= 2) & sharp_, :4]
    lines = find_lines(chars, small, shape, polarity, params, b[unsharp, :4])
    # Unsharp glyphs a line took in are filled with it (a glyph touching a vessel).
    taken = np.zeros(len(b), bool)
    for line in lines:
        x0, y0, x1, y1 = line.box
        taken |= (b[:, 0] >= x0) & (b[:, 1] >= y0) & (b[:, 2] <= x1) & (b[:, 3] <= y1)
    keep = sharp_ | (unsharp & taken)
    # The fill looks at the mask only in each line's box and the pixel around it.
    mask = np.zeros(shape, np.uint8)
    starts = np.cumsum([0] + [len(part.comps.boxes) for part in parts])
    for line in lines:
        lx0, ly0, lx1, ly1 = line.box
        lx0, ly0, lx1, ly1 = max(0, lx0 - 1), max(0, ly0 - 1), lx1 + 1, ly1 + 1
        for part, start, stop in zip(parts, starts[:-1], starts[1:]):
            x0, y0, x1, y1 = part.rect
            ix0, iy0, ix1, iy1 = max(lx0, x0), max(ly0, y0), min(lx1, x1), min(ly1, y1)
            if ix0 < ix1 and iy0 < iy1:
                table = np.concatenate(([0], keep[start:stop])).astype(np.uint8)
                labels = part.comps.labels[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
                mask[iy0:iy1, ix0:ix1] |= table[labels]
    return lines, mask


def _into_surround(line: TextLine, field: np.ndarray) -> TextLine:
    """``line`` with its box carried across the surround it runs into, left or right.

    A caption burned across the field's edge goes on in the surround, where text of the
    surround's own colour cannot be seen. Its box is extended over that surround, to where
    the field starts again or the picture ends: nothing there is anatomy, and the fill
    changes no pixel it does not find a stroke on.
    """
    x0, y0, x1, y1 = line.box
    band = field[y0:y1].mean(axis=0) < 0.5  # surround columns across the line's height
    reach = max(2, round(line.height / 2))
    if band[x1 : x1 + reach].any():
        x1 += int(np.argmin(band[x1:])) if not band[x1:].all() else len(band) - x1
    if band[max(0, x0 - reach) : x0].any():
        left = band[:x0][::-1]
        x0 -= int(np.argmin(left)) if not left.all() else x0
    return replace(line, box=(x0, y0, x1, y1))


def _full(half: np.ndarray, rect: Box) -> np.ndarray:
    """``rect`` of a full-size envelope, from its copy on the ``_STEP`` grid (nearest): the
    envelopes are smooth, and this costs a fraction of interpolating the whole picture."""
    x0, y0, x1, y1 = rect
    part = half[y0 // _STEP : -(-y1 // _STEP), x0 // _STEP : -(-x1 // _STEP)]
    return cv2.resize(part, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)


def detect_text(
    picture: np.ndarray, params: PreprocessParams = DEFAULT_PARAMS, field: np.ndarray | None = None
) -> TextDetection:
    """Find lines of burned-in text anywhere in the cropped picture (``field``: uint8 0/1 of
    the field's pixels when the crop also holds surround)."""
    h, w = picture.shape
    bg = background_bounds(picture, params, field)
    contrast = stroke_contrast(bg.sigma, params)
    max_char = params.max_char_fraction * min(h, w)
    # Seeds on every second row and column: a glyph is at least ``min_char_px`` tall, so
    # it always has stroke pixels there, at a quarter of the cost.
    half = (-(-w // _STEP), -(-h // _STEP))
    pic2 = cv2.resize(picture, half, interpolation=cv2.INTER_NEAREST)
    lower2, upper2 = (cv2.resize(b, half, interpolation=cv2.INTER_LINEAR)
                      for b in (bg.lower_small, bg.upper_small))  # fmt: skip
    k = max(_MIN_THIN, round(_THIN * min(h, w) / _STEP)) | 1
    closed = cv2.morphologyEx(pic2, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    dark_seeds = dark_core(pic2, lower2, contrast, params.black_level)
    dark_seeds &= (cv2.subtract(closed, pic2) > contrast).view(np.uint8)

    bright_parts, dark_parts = [], []
    for x0, y0, x1, y1 in candidate_rects(bright_core(pic2, upper2, contrast), (w, h), _STEP):
        pic, upper = picture[y0:y1, x0:x1], _full(upper2, (x0, y0, x1, y1))
        core = bright_core(pic, upper, contrast)
        strokes = bright_strokes(pic, upper, core, contrast)
        bright_parts.append(_Part((x0, y0, x1, y1), components(strokes, core)))
    for x0, y0, x1, y1 in candidate_rects(dark_seeds, (w, h), _STEP):
        rect = (x0, y0, x1, y1)
        pic, lower, upper = picture[y0:y1, x0:x1], _full(lower2, rect), _full(upper2, rect)
        cut = (x0 > 0, y0 > 0, x1 < w, y1 < h)
        core = dark_core(pic, lower, contrast, params.black_level)
        strokes = dark_strokes(pic, lower, core, contrast, params.black_level, max_char, cut)
        # Any darkening from the upper envelope: what a dark stroke may be attached to
        # (vessels only ever darken the field, so the upper envelope is the background).
        darker = (cv2.subtract(upper, pic) > contrast).view(np.uint8)
        dark_parts.append(_Part(rect, components(strokes, darker)))
    bright_lines, bright_mask = _lines_of(bright_parts, (h, w), "bright", params)
    dark_lines, dark_mask = _lines_of(dark_parts, (h, w), "dark", params)
    lines = bright_lines + dark_lines
    if field is not None:
        lines = [_into_surround(line, field) for line in lines]
    return TextDetection(lines, {"bright": bright_mask, "dark": dark_mask})
