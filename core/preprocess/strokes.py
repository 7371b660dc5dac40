"""Candidate text-stroke pixels: far brighter, or near-black and far darker, than the
local background.

A global threshold fails on DSA: the background drifts across the picture, and white
top-hat alone fires on the light gap between two dark vessels. Comparing each pixel with a
*local median* does not: the median of a window much wider than a stroke is the background,
even over a line of characters, and a gap between vessels is background, not brighter.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.preprocess.histstats import int_median
from core.preprocess.labelling import label_boxes
from core.preprocess.params import DEFAULT_PARAMS, PreprocessParams

__all__ = [
    "Background", "background_bounds", "stroke_contrast", "bright_core", "dark_core",
    "bright_strokes", "dark_strokes",
]  # fmt: skip

#: Work size of the median: a window of ``background_window`` of the image is this many
#: pixels on the shrunken image, which keeps the median cheap at any resolution.
_MEDIAN_KSIZE = 11
#: How far below the picture's median the envelopes' hold may follow a vignetted field.
_VIGNETTE = 0.12
#: The share of the shorter side over which the surface's cap looks for background.
_NEARBY = 1 / 3
#: The smooth background fit (:func:`_background_surface`): about this many samples a side,
#: rounds of dropping what lies below, and how far below (robust sigmas) is dropped.
_FIT_GRID, _FIT_ROUNDS, _FIT_K = 24, 3, 2.0
#: Neighbourhood (on the shrunk image, about half a median window) of the envelopes.
_ENVELOPE_KSIZE = 5
#: How far (px) hysteresis may grow a stroke into weaker pixels.
_REACH = 2
_REACH_KERNEL = np.ones((2 * _REACH + 1, 2 * _REACH + 1), np.uint8)
_SQUARE3 = np.ones((3, 3), np.uint8)
#: Which sides (left, top, right, bottom) of a region were cut out of the picture.
Cut = tuple[bool, bool, bool, bool]
_NO_CUT: Cut = (False, False, False, False)


@dataclass(frozen=True)
class Background:
    """The local background envelopes at the shrunk copy's size (brought to the size a
    caller needs with ``cv2.INTER_LINEAR``), and the picture's noise level."""

    lower_small: np.ndarray
    upper_small: np.ndarray
    #: Robust noise sigma: 1.4826 x MAD of the shrunk copy minus its local median.
    sigma: float


def background_bounds(
    picture: np.ndarray,
    params: PreprocessParams = DEFAULT_PARAMS,
    field: np.ndarray | None = None,
) -> Background:
    """``lower`` and ``upper`` local background envelopes, and the noise.

    The median runs on a copy shrunk so that its window spans ``background_window`` of the
    shorter side. The copy is *subsampled* (nearest), not averaged: averaging would smear a
    line of bold characters into a uniformly brighter band that the median then takes
    for background; subsampling keeps each sample either stroke or background. Each sample
    is its block's centre, never the picture's outermost row or column: a soft field edge
    leaves surround-coloured pixels there, which the median (replicating its border) would
    spread along the whole edge as background. Where
    vessels crowd, the median sinks below the true background and plain background would
    pass for a bright stroke; ``upper`` (the highest median nearby) does not sink, so bright
    strokes are measured against it, and dark ones against ``lower`` for the same reason.
    A pocket of background walled in by vessels can sink every nearby median, so the
    envelopes are also held at least as far out as the *broad* background (a smooth surface
    fitted to the medians from above, :func:`_background_surface`): a stroke must stand out
    from its part of the picture, not just from its crowded neighbourhood, while vignetting
    (the field darkening towards its edge) is followed rather than taken for contrast.
    When the crop holds surround (``field``, uint8 0/1, as a circular field's corners do),
    the field's envelopes come from field samples only (the surround's samples replaced by
    the smooth surface) and the hold applies inside the field only: a flat grey surround
    is its own background, and text burned into it is measured against it. The noise is measured on
    the shrunk copy against its median: the subsampled pixels are picture pixels, so their
    spread about the local median is the picture's, at a fraction of the cost.
    """
    h, w = picture.shape
    window = max(_MEDIAN_KSIZE, params.background_window * min(h, w))
    scale = min(1.0, _MEDIAN_KSIZE / window)
    small = cv2.resize(
        picture,
        (max(1, round(w * scale)), max(1, round(h * scale))),
        interpolation=cv2.INTER_NEAREST_EXACT,
    )
    raw = small
    k = min(_MEDIAN_KSIZE, (min(small.shape) - 1) | 1)
    if k >= 3:
        small = cv2.medianBlur(small, k)
    d = raw.astype(np.int16) - small
    sigma = 1.4826 * int_median(np.abs(d - round(int_median(d))))
    near = np.ones((_ENVELOPE_KSIZE, _ENVELOPE_KSIZE), np.uint8)
    inside = None
    if field is not None:
        inside = cv2.resize(field, small.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
        if not inside.any() or inside.all():
            inside = None
    # The surface is a quadratic: where the medians of a corner lie below it (taken for
    # vessel-darkened), it is extrapolated there and may bend far above any background
    # near that corner (measured: 226 against medians of 180 beside a corner caption,
    # whose 240-level glyphs then failed). It is capped by the brightest median within a
    # third of the picture, which a vignetted corner's lower surface never meets.
    surface = np.minimum(
        np.clip(_background_surface(small, inside), 0, 255).astype(np.uint8),
        _bright_nearby(small, inside),
    )
    surround = None
    if inside is not None:
        # The field's medians from field samples only: near a circle's or a shutter's edge
        # the window reaches into the surround, whose level would drag them towards it.
        surround = small
        small = cv2.medianBlur(np.where(inside, raw, surface), k) if k >= 3 else raw
    lower, upper = cv2.erode(small, near), cv2.dilate(small, near)
    # The broad background may follow vignetting down to ``_VIGNETTE`` below the picture's
    # median, not further: a dense vessel cloud sinks it too, and must not pass for one.
    overall = int_median(small if inside is None else small[inside])
    broad = np.maximum(surface, np.uint8((1 - _VIGNETTE) * overall))
    lower, upper = np.minimum(lower, broad), np.maximum(upper, broad)
    if surround is not None:
        # Along the field's edge (one coarse sample either side of the outline), a stroke
        # must stand out from both backgrounds: the outline is coarse, and a sliver of
        # surround or a soft edge inside it is no stroke.
        lower_s, upper_s = cv2.erode(surround, near), cv2.dilate(surround, near)
        edge = cv2.morphologyEx(inside.view(np.uint8), cv2.MORPH_GRADIENT, _SQUARE3) > 0
        lower = np.where(edge, np.minimum(lower, lower_s), np.where(inside, lower, lower_s))
        upper = np.where(edge, np.maximum(upper, upper_s), np.where(inside, upper, upper_s))
    return Background(lower, upper, sigma)


def _bright_nearby(small: np.ndarray, inside: np.ndarray | None) -> np.ndarray:
    """The brightest local median within about ``_NEARBY`` of the picture, at ``small``'s
    size, after a 3x3 median on a coarse copy (one odd sample, such as a window full of a
    bold caption, does not count); surround samples count as the field's median."""
    fill = small if inside is None else np.where(inside, small, np.uint8(int_median(small[inside])))
    h, w = small.shape
    f = max(1, round(min(h, w) * _NEARBY / _MEDIAN_KSIZE))
    tiny = cv2.resize(fill, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_NEAREST)
    if min(tiny.shape) >= 3:
        tiny = cv2.medianBlur(tiny, 3)
    r = min(_MEDIAN_KSIZE // 2, (min(tiny.shape) - 1) // 2)
    if r >= 1:
        tiny = cv2.dilate(tiny, np.ones((2 * r + 1, 2 * r + 1), np.uint8))
    return cv2.resize(tiny, (w, h), interpolation=cv2.INTER_LINEAR)


def _background_surface(small: np.ndarray, inside: np.ndarray | None) -> np.ndarray:
    """A smooth background surface at ``small``'s size: a quadratic in x and y fitted to
    the local medians from above (float32).

    Vignetting and slow drift are smooth, vessels and their clouds are local and only
    darken the field: the fit starts from the brighter half of the medians and drops, each
    round, what lies more than ``_FIT_K`` robust sigmas below the surface. A percentile over
    a wide window would not do: where a vignetted field falls off towards a corner, a
    window reaching towards the centre takes the brighter centre for the corner's
    background. Surround pixels (outside ``inside``) take no part.
    """
    h, w = small.shape
    step = max(1, min(h, w) // _FIT_GRID)
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    x, y = (xs.ravel() / w - 0.5).astype(np.float32), (ys.ravel() / h - 0.5).astype(np.float32)
    basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    v = small[::step, ::step].ravel().astype(np.float32)
    ok = np.ones(v.size, bool) if inside is None else inside[::step, ::step].ravel()
    use = ok & (v >= np.median(v[ok]))
    coef = np.zeros(6, np.float32)
    for _ in range(_FIT_ROUNDS):
        if use.sum() < 6:
            break
        a = basis[use].astype(np.float64)  # six unknowns: normal equations, not an SVD
        coef = np.linalg.solve(a.T @ a + 1e-9 * np.eye(6), a.T @ v[use]).astype(np.float32)
        resid = v - basis @ coef
        sigma = max(1.0, 1.4826 * float(np.median(np.abs(resid[use]))))
        use = ok & (resid > -_FIT_K * sigma)
    gx = (np.arange(w, dtype=np.float32) / w - 0.5)[None, :]
    gy = (np.arange(h, dtype=np.float32) / h - 0.5)[:, None]
    c0, cx, cy, cxx, cxy, cyy = coef
    return c0 + cx * gx + cy * gy + cxx * gx * gx + cxy * gx * gy + cyy * gy * gy


def stroke_contrast(sigma: float, params: PreprocessParams = DEFAULT_PARAMS) -> float:
    """Least difference from the local background that makes a stroke: above the noise."""
    return max(float(params.min_contrast), params.noise_k * sigma)


def _exceeds(a: np.ndarray, b: np.ndarray, by: float) -> np.ndarray:
    """``a - b > by`` as a bool array, with uint8 saturating arithmetic (no int16 copy)."""
    return cv2.subtract(a, b) > by


def _hysteresis(
    strong: np.ndarray, weak: np.ndarray, max_side: float = np.inf, cut: Cut = _NO_CUT
) -> np.ndarray:
    """uint8 mask: ``strong`` plus the components of ``strong | weak`` that hold a
    ``strong`` pixel and span at most ``max_side`` pixels both ways. With a finite
    ``max_side``, a component touching a ``cut`` side (left, top, right, bottom: where the
    region was cut out of the picture) continues outside and is not taken."""
    labels, boxes = label_boxes((strong | weak).view(np.uint8))
    keep = np.zeros(len(boxes) + 1, bool)
    keep[labels[strong]] = True
    keep[0] = False
    if max_side < np.inf:
        h, w = strong.shape
        x0, y0, x1, y1 = (boxes[:, i] for i in range(4))
        keep[1:] &= (x1 - x0 <= max_side) & (y1 - y0 <= max_side)
        for side, touches in zip(cut, (x0 == 0, y0 == 0, x1 == w, y1 == h)):
            if side:
                keep[1:] &= ~touches
    return (strong | keep[labels]).view(np.uint8)


def bright_core(picture: np.ndarray, upper: np.ndarray, contrast: float) -> np.ndarray:
    """uint8 0/1: brighter than the upper local background by ``contrast``."""
    return _exceeds(picture, upper, contrast).view(np.uint8)


def dark_core(
    picture: np.ndarray, lower: np.ndarray, contrast: float, black_level: int
) -> np.ndarray:
    """uint8 0/1: darker than the lower local background by ``contrast`` *and* at most
    ``black_level``, because contrast-filled vessels are dark too and are only rarely as
    black as a burned-in character."""
    return (_exceeds(lower, picture, contrast) & (picture <= black_level)).view(np.uint8)


def bright_strokes(
    picture: np.ndarray, upper: np.ndarray, core: np.ndarray, contrast: float
) -> np.ndarray:
    """uint8 0/1 bright strokes of a region: ``core`` grown, as in Canny's hysteresis, into
    touching pixels with half the contrast, so that thin anti-aliased strokes stay whole
    characters instead of specks. Only weak pixels near a core take part: a stroke's blur
    is that wide, and the noise further out would only cost time."""
    strong = core.view(bool)
    near = cv2.dilate(core, _REACH_KERNEL).view(bool)
    return _hysteresis(strong, _exceeds(picture, upper, contrast / 2) & near)


def dark_strokes(
    picture: np.ndarray,
    lower: np.ndarray,
    core: np.ndarray,
    contrast: float,
    black_level: int,
    max_char: float,
    cut: Cut = _NO_CUT,
) -> np.ndarray:
    """uint8 0/1 dark strokes of a region: ``core`` grown into half-contrast pixels up to
    ``2 * black_level`` only where the result stays character-sized (``max_char`` px):
    grown freely, dark characters would run into the vessels they come near."""
    weak = _exceeds(lower, picture, contrast / 2) & (picture <= 2 * black_level)
    return _hysteresis(core.view(bool), weak, max_char, cut)
