"""Find the field inside its surround: the crop box of one angiogram, and what framed it.

Real DSA frames the field in black, white or grey, on one to four sides, as a rectangle, a
circle (an image intensifier) or a rounded shutter, with a soft or vignetted edge; thin
bright or dark things may sit in the surround (a ruler, border lines, a caption) and dark
vessels cross the field, some reaching its edge. So the crop works on *area*, never on a
single scan line, and in two passes:

1. **Coarse, on a copy shrunk to about** ``_WORK_SIDE`` **px** (area-averaged, so noise,
   ticks and strokes fade). The surround's level is the image's outer two-pixel strip
   (full resolution) farthest from the field's background (the upper quartile of the
   central half). Pixels on the field's side of a threshold between the two are field; a
   small opening drops what is thinner than a few pixels, a closing bridges vessels; the
   largest field component's convex hull is the field. A surround must be *flat and
   sharp-edged*: the field's outer ring must differ from the ring just outside it by a good
   part of the surround's contrast, which vignetting (a smooth fall-off) never does (a
   margin too thin for the coarse copy is judged the same way at full resolution). The
   shape follows from the field's fill of its bounding box and its corners.
2. **Exact, at full resolution, in a band around each coarse edge**: the same threshold,
   an opening with a square ``open_fraction`` of the shorter side (wider than ticks,
   border lines and caption strokes), and the first row (column) from the outside that
   holds a whole opened square of field. A thick vessel along the edge cannot move that
   edge unless it blots out the field along the whole side.

A near-black surround keeps the threshold ``dark_fraction`` of the background (clamped to
``dark_clamp``); a grey one sits just above its own level (``_GREY_STEP`` of the way to
the background, so that a vignetted field edge stays field); a white one uses the midpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.case import Box, FieldShape, Surround
from core.preprocess.histstats import grey_median, grey_percentile
from core.preprocess.params import DEFAULT_PARAMS, PreprocessParams

__all__ = ["Field", "background_level", "dark_threshold", "find_field", "find_crop"]

#: Shorter side of the coarse copy: fine enough for a 3-px margin band at 2k px.
_WORK_SIDE = 256
#: Least difference (grey levels) between the surround strip and the field background;
#: the early "no surround" answer from a strided sample keeps this guard band below it.
_MIN_SURROUND_CONTRAST, _ROUGH_GUARD = 25, 10
#: The field's edge must keep this share of the surround's contrast across it.
_EDGE_SHARPNESS = 0.3
#: Surround names by level: black (near-black, as burned-in black text) below, white above,
#: grey between.
_BLACK_BELOW, _WHITE_ABOVE = 45, 200
#: Outline rules (:func:`_shape`): a field filling less of its box than ``_CIRCLE_FILL``, or
#: with a corner gap of ``_CIRCLE_GAP`` of its shorter side, is circular; two corner gaps
#: of ``_ROUNDED_GAP`` coarse pixels make it rounded.
_CIRCLE_FILL, _CIRCLE_GAP, _ROUNDED_GAP = 0.93, 0.12, 3
#: A grey surround ends this share of the way (at least ``_MIN_STEP`` levels, four noise
#: sigmas) towards the field background: vignetting darkens the field's edge towards it.
_GREY_STEP, _MIN_STEP = 0.3, 15
#: Closing on the coarse copy: bridges vessels (up to ~7 coarse px) that cut the field.
_CLOSE = np.ones((7, 7), np.uint8)
_SQUARE3 = np.ones((3, 3), np.uint8)
_SQUARE7 = np.ones((7, 7), np.uint8)


@dataclass(frozen=True)
class Field:
    """The field's bounding box and what framed it."""

    crop: Box
    surround: Surround
    shape: FieldShape
    size: tuple[int, int]  # (width, height) of the whole image
    #: The field's outline (holes filled) on the coarse copy, over the whole image; None
    #: when there is no surround.
    outline: np.ndarray | None = None

    def mask(self, size: tuple[int, int]) -> np.ndarray | None:
        """uint8 0/1 of the field inside the crop, resized to ``size`` (width, height) of
        the cropped picture; None when the crop is all field (no surround, a rectangle)."""
        if self.outline is None or self.shape == "rectangular":
            return None
        x0, y0, x1, y1 = self.crop
        h, w = self.outline.shape
        sx, sy = w / self.size[0], h / self.size[1]
        part = self.outline[int(y0 * sy) : max(int(y0 * sy) + 1, int(np.ceil(y1 * sy))),
                            int(x0 * sx) : max(int(x0 * sx) + 1, int(np.ceil(x1 * sx)))]  # fmt: skip
        return cv2.resize(part, size, interpolation=cv2.INTER_NEAREST)


def background_level(gray: np.ndarray) -> float:
    """The field background: the upper quartile of the central half of the image.

    The central half is field for any sane margin. Vessels only darken the field, and a
    dense vessel cloud can cover half of the centre, where a median would take the cloud
    for background; the upper quartile still lands on background.
    """
    h, w = gray.shape
    return grey_percentile(gray[h // 4 : h - h // 4 or h, w // 4 : w - w // 4 or w], 75)


def dark_threshold(background: float, params: PreprocessParams = DEFAULT_PARAMS) -> int:
    """Grey level below which a pixel may belong to a dark surround."""
    lo, hi = params.dark_clamp
    return int(np.clip(params.dark_fraction * background, lo, hi))


def _field_mask(img: np.ndarray, level: float, bg: float, params: PreprocessParams) -> np.ndarray:
    """uint8 0/1: pixels on the field's side of the surround/field threshold."""
    if level < bg:
        t = dark_threshold(bg, params)
        if level >= t / 2:  # a grey surround, not a near-black one: just above it
            t = max(t, level + max(_MIN_STEP, _GREY_STEP * (bg - level)))
        return (img > t).view(np.uint8)
    return (img < (level + bg) / 2).view(np.uint8)


def _surround_level(
    gray: np.ndarray, bg: float, contrast: float = _MIN_SURROUND_CONTRAST
) -> float | None:
    """The outer strip level farthest from the background, if at least ``contrast`` away
    from it: far enough to be a surround.

    Strips of the full-resolution image, ``min_margin`` wide in spirit (two pixels), so
    that a margin a few pixels wide is seen, not averaged into the field.
    """
    strips = (gray[:2], gray[-2:], gray[:, :2], gray[:, -2:])
    levels = [grey_median(s) for s in strips]
    level = max(levels, key=lambda v: abs(v - bg))
    return level if abs(level - bg) >= contrast else None


def _largest_filled(mask: np.ndarray) -> np.ndarray | None:
    """uint8 0/1 convex hull of the largest component of ``mask``; None when empty.

    Fields are convex (rectangles, circles, rounded shutters), so the hull fills what dark
    vessels cut out of the field, holes and bays at its edge alike.
    """
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, [hull], -1, 1, cv2.FILLED)
    return filled


def _sharp_edge(small: np.ndarray, field: np.ndarray, level: float, bg: float) -> bool | None:
    """Is the field's edge a step to the surround (not a smooth vignetting slope)? None
    when the surround is too thin to judge on the coarse copy (see :func:`_sharp_at`)."""
    # Rings 1-3 coarse pixels either side, skipping the boundary pixels themselves (which
    # average field and surround).
    inner = cv2.erode(field, _SQUARE3, borderValue=1) & ~cv2.erode(field, _SQUARE7, borderValue=1)
    outer = cv2.dilate(field, _SQUARE7) & ~cv2.dilate(field, _SQUARE3)
    if not outer.any():
        return None
    if not inner.any():
        return False
    step = abs(grey_median(small[inner > 0]) - grey_median(small[outer > 0]))
    return step >= _EDGE_SHARPNESS * abs(bg - level)


def _sharp_at(gray: np.ndarray, crop: Box, level: float, bg: float) -> bool:
    """The same test at full resolution, for a thin rectangular margin: the few pixels
    just outside the crop's cut sides against those two to six pixels inside."""
    h, w = gray.shape
    x0, y0, x1, y1 = crop
    outside, inside = [], []
    if y0:
        outside.append(gray[max(0, y0 - 4) : y0, x0:x1].ravel())
        inside.append(gray[y0 + 2 : y0 + 6, x0:x1].ravel())
    if y1 < h:
        outside.append(gray[y1 : y1 + 4, x0:x1].ravel())
        inside.append(gray[max(0, y1 - 6) : y1 - 2, x0:x1].ravel())
    if x0:
        outside.append(gray[y0:y1, max(0, x0 - 4) : x0].ravel())
        inside.append(gray[y0:y1, x0 + 2 : x0 + 6].ravel())
    if x1 < w:
        outside.append(gray[y0:y1, x1 : x1 + 4].ravel())
        inside.append(gray[y0:y1, max(0, x1 - 6) : x1 - 2].ravel())
    if not outside:
        return False
    step = abs(grey_median(np.concatenate(inside)) - grey_median(np.concatenate(outside)))
    return step >= _EDGE_SHARPNESS * abs(bg - level)


def _corner_gap(field: np.ndarray, corner: tuple[int, int], step: tuple[int, int]) -> int:
    """Pixels along the diagonal from a bounding-box corner to the first field pixel."""
    (x, y), (dx, dy) = corner, step
    n = min(field.shape) // 2
    diag = field[y + dy * np.arange(n), x + dx * np.arange(n)]
    hits = np.flatnonzero(diag)
    return int(hits[0]) if hits.size else n


def _shape(field: np.ndarray, box: Box) -> FieldShape:
    """Rectangular, rounded or circular, from the field's fill of its bounding box and how
    far its corners lie from the box's corners (along the diagonal, coarse pixels).

    A circle fills at most ~85 % of its box even when the image cuts off its top and
    bottom, and leaves ~0.2 of its diameter free at a free corner; a rounded shutter fills
    over 95 % and leaves a few pixels at every corner; a rectangle leaves none.
    """
    x0, y0, x1, y1 = box
    part = field[y0:y1, x0:x1]
    h, w = part.shape
    gaps = sorted((_corner_gap(part, (0, 0), (1, 1)), _corner_gap(part, (w - 1, 0), (-1, 1)),
                   _corner_gap(part, (0, h - 1), (1, -1)),
                   _corner_gap(part, (w - 1, h - 1), (-1, -1))), reverse=True)  # fmt: skip
    if part.mean() < _CIRCLE_FILL or gaps[0] >= _CIRCLE_GAP * min(h, w):
        return "circular"
    return "rounded" if gaps[1] >= _ROUNDED_GAP else "rectangular"


def _first_solid(mask: np.ndarray, k: int) -> int:
    """Index of the first row of ``mask`` holding ``k`` opened field pixels; len if none."""
    rows = np.flatnonzero(np.count_nonzero(mask, axis=1) >= k)
    return int(rows[0]) if rows.size else mask.shape[0]


def _refine(gray: np.ndarray, coarse: tuple[float, ...], s: float, level: float, bg: float,
            params: PreprocessParams) -> Box:  # fmt: skip
    """Each coarse edge, exact: the first solid row (column) from outside in its band."""
    h, w = gray.shape
    k = max(5, int(round(min(h, w) * params.open_fraction))) | 1  # odd: no shift
    # The coarse box is off by up to a coarse pixel, plus what the closing bridged.
    reach = int(np.ceil((2 + _CLOSE.shape[0]) * s)) + k
    kernel = np.ones((k, k), np.uint8)
    x0, y0, x1, y1 = (int(round(v)) for v in coarse)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)

    def band(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        part = _field_mask(gray[r0:r1, c0:c1], level, bg, params)
        return cv2.morphologyEx(part, cv2.MORPH_OPEN, kernel, borderType=cv2.BORDER_REPLICATE)

    top0, bot1 = max(0, y0 - reach), min(h, y1 + reach)
    left0, right1 = max(0, x0 - reach), min(w, x1 + reach)
    top = top0 + _first_solid(band(top0, min(h, y0 + reach), x0, x1), k)
    bottom = bot1 - _first_solid(band(max(0, y1 - reach), bot1, x0, x1)[::-1], k)
    left = left0 + _first_solid(band(y0, y1, left0, min(w, x0 + reach)).T, k)
    right = right1 - _first_solid(band(y0, y1, max(0, x1 - reach), right1).T[::-1], k)
    if bottom <= top or right <= left:
        return (x0, y0, x1, y1)
    return _snap((left, top, right, bottom), (w, h), params.min_margin)


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


def _surround_name(level: float) -> Surround:
    if level < _BLACK_BELOW:
        return "black"
    return "white" if level > _WHITE_ABOVE else "grey"


def find_field(gray: np.ndarray, params: PreprocessParams = DEFAULT_PARAMS) -> Field:
    """The field's crop box ``(x0, y0, x1, y1)`` (end exclusive), surround and shape.

    The full image (surround ``none``, shape ``full``) when no flat, sharp-edged surround is
    found, including for a blank image: cutting it to nothing would hide the problem.
    """
    h, w = gray.shape
    whole = Field((0, 0, w, h), "none", "full", (w, h))
    # Most views have no surround: a strided sample of the central half settles that
    # without the coarse copy, when the strips are nowhere near the contrast a surround
    # needs (the guard band covers the sample's noise against the area-averaged copy).
    step = max(1, min(h, w) // _WORK_SIDE)
    rough = background_level(gray[::step, ::step])
    strips = _surround_level(gray, rough, _MIN_SURROUND_CONTRAST - _ROUGH_GUARD)
    if strips is None:
        return whole
    s = max(1.0, min(h, w) / _WORK_SIDE)
    small = cv2.resize(gray, (max(8, round(w / s)), max(8, round(h / s))),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    sy, sx = h / small.shape[0], w / small.shape[1]
    bg = background_level(small)
    level = _surround_level(gray, bg)
    if level is None:
        return whole
    mask = cv2.morphologyEx(_field_mask(small, level, bg, params), cv2.MORPH_OPEN, _SQUARE3)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _CLOSE)  # fields are convex
    field = _largest_filled(mask)
    sharp = None if field is None else _sharp_edge(small, field, level, bg)
    if field is None or sharp is False:
        return whole
    bx, by, bw, bh = cv2.boundingRect(field)
    coarse_box = (bx, by, bx + bw, by + bh)
    coarse = (bx * sx, by * sy, (bx + bw) * sx, (by + bh) * sy)
    crop = _refine(gray, coarse, max(sx, sy), level, bg, params)
    if crop == (0, 0, w, h) or (sharp is None and not _sharp_at(gray, crop, level, bg)):
        return whole
    return Field(crop, _surround_name(level), _shape(field, coarse_box), (w, h), field)


def find_crop(gray: np.ndarray, params: PreprocessParams = DEFAULT_PARAMS) -> Box:
    """Crop box ``(x0, y0, x1, y1)`` of the field, end exclusive; the full image if none."""
    return find_field(gray, params).crop
