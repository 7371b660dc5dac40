"""Candidate text-stroke pixels: far brighter, or near-black and far darker, than the
local background.

A global threshold fails on DSA: the background drifts across the picture, and white
top-hat alone fires on the light gap between two dark vessels. Comparing each pixel with a
*local median* does not: the median of a window much wider than a stroke is the background,
even over a line of characters, and a gap between vessels is background, not brighter.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.preprocess.labelling import label_boxes
from core.preprocess.params import DEFAULT_PARAMS, PreprocessParams

__all__ = [
    "background_bounds", "noise_sigma", "stroke_contrast", "stroke_masks", "contrast_masks"
]  # fmt: skip

#: Work size of the median: a window of ``background_window`` of the image is this many
#: pixels on the shrunken image, which keeps the median cheap at any resolution.
_MEDIAN_KSIZE = 11
#: Share of the shorter side the broad background spans, and how far below the picture's
#: median it may follow a vignetted field.
_BROAD, _VIGNETTE = 1 / 3, 0.12
#: Neighbourhood (on the shrunk image, about half a median window) of the envelopes.
_ENVELOPE_KSIZE = 5
#: How far (px) hysteresis may grow a stroke into weaker pixels.
_REACH = 2
_REACH_KERNEL = np.ones((2 * _REACH + 1, 2 * _REACH + 1), np.uint8)


def background_bounds(
    picture: np.ndarray,
    params: PreprocessParams = DEFAULT_PARAMS,
    field: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lower, median, upper)`` local background estimates, uint8, full size.

    The median runs on a copy shrunk so that its window spans ``background_window`` of the
    shorter side. The copy is *subsampled* (nearest), not averaged: averaging would smear a
    line of bold characters into a uniformly brighter band that the median then takes
    for background; subsampling keeps each sample either stroke or background. Where
    vessels crowd, the median sinks below the true background and plain background would
    pass for a bright stroke; ``upper`` (the highest median nearby) does not sink, so bright
    strokes are measured against it, and dark ones against ``lower`` for the same reason.
    A pocket of background walled in by vessels can sink every nearby median, so the
    envelopes are also held at least as far out as the *broad* background (the upper
    quartile over a third of the picture, :func:`_broad_background`): a stroke must stand out from its
    part of the picture, not just from its crowded neighbourhood, while vignetting (the
    field darkening towards its edge) is followed rather than taken for contrast.
    That hold applies inside the field only (``field``, uint8 0/1, when the crop holds
    surround, as a circular field's corners do): a flat grey surround is its own
    background, and text burned into it is measured against it.
    """
    h, w = picture.shape
    window = max(_MEDIAN_KSIZE, params.background_window * min(h, w))
    scale = min(1.0, _MEDIAN_KSIZE / window)
    small = cv2.resize(
        picture,
        (max(1, round(w * scale)), max(1, round(h * scale))),
        interpolation=cv2.INTER_NEAREST,
    )
    k = min(_MEDIAN_KSIZE, (min(small.shape) - 1) | 1)
    if k >= 3:
        small = cv2.medianBlur(small, k)
    near = np.ones((_ENVELOPE_KSIZE, _ENVELOPE_KSIZE), np.uint8)
    lower, upper = cv2.erode(small, near), cv2.dilate(small, near)
    inside = None
    if field is not None:
        inside = cv2.resize(field, small.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
        if not inside.any():
            inside = None
    # The broad background may follow vignetting down to ``_VIGNETTE`` below the picture's
    # median, not further: a dense vessel cloud sinks it too, and must not pass for one.
    overall = float(np.median(small if inside is None else small[inside]))
    broad = np.maximum(_broad_background(small, inside), np.uint8((1 - _VIGNETTE) * overall))
    if inside is None:
        lower, upper = np.minimum(lower, broad), np.maximum(upper, broad)
    else:
        lower = np.where(inside, np.minimum(lower, broad), lower)
        upper = np.where(inside, np.maximum(upper, broad), upper)
    return tuple(  # type: ignore[return-value]
        cv2.resize(b, (w, h), interpolation=cv2.INTER_LINEAR) for b in (lower, small, upper)
    )


def _broad_background(small: np.ndarray, inside: np.ndarray | None) -> np.ndarray:
    """The upper quartile of the local medians over about ``_BROAD`` of the picture, at
    ``small``'s size. Vessels only darken the field, so the upper quartile is background
    even in a dense vessel cloud, and a window this size still follows vignetting. Surround
    pixels (outside ``inside``) count as the field's overall median so they do not pull it.
    """
    fill = small if inside is None else np.where(inside, small, np.median(small[inside]))
    fill = fill.astype(np.uint8)
    h, w = small.shape
    f = max(1, round(min(h, w) * _BROAD / _MEDIAN_KSIZE))
    tiny = cv2.resize(fill, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_NEAREST)
    r = min(_MEDIAN_KSIZE // 2, (min(tiny.shape) - 1) // 2)
    if r >= 1:
        padded = cv2.copyMakeBorder(tiny, r, r, r, r, cv2.BORDER_REFLECT)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * r + 1, 2 * r + 1))
        flat = windows.reshape(*tiny.shape, -1)
        q = (9 * flat.shape[-1]) // 10
        tiny = np.partition(flat, q, axis=-1)[..., q]
    return cv2.resize(tiny, (w, h), interpolation=cv2.INTER_LINEAR)


def noise_sigma(picture: np.ndarray, background: np.ndarray) -> float:
    """Robust noise level (1.4826 x MAD of picture - background) on a 1-in-16 subsample."""
    d = picture[::4, ::4].astype(np.int16) - background[::4, ::4]
    return float(1.4826 * np.median(np.abs(d - np.median(d))))


def stroke_contrast(
    picture: np.ndarray, background: np.ndarray, params: PreprocessParams = DEFAULT_PARAMS
) -> float:
    """Least difference from the local background that makes a stroke: above the noise."""
    return max(float(params.min_contrast), params.noise_k * noise_sigma(picture, background))


def _exceeds(a: np.ndarray, b: np.ndarray, by: float) -> np.ndarray:
    """``a - b > by`` as a bool array, with uint8 saturating arithmetic (no int16 copy)."""
    return cv2.subtract(a, b) > by


def _hysteresis(strong: np.ndarray, weak: np.ndarray, max_side: float = np.inf) -> np.ndarray:
    """uint8 mask: ``strong`` plus the components of ``strong | weak`` that hold a
    ``strong`` pixel and span at most ``max_side`` pixels both ways."""
    labels, boxes = label_boxes((strong | weak).view(np.uint8))
    keep = np.zeros(len(boxes) + 1, bool)
    keep[labels[strong]] = True
    keep[0] = False
    keep[1:] &= (boxes[:, 2] - boxes[:, 0] <= max_side) & (boxes[:, 3] - boxes[:, 1] <= max_side)
    return (strong | keep[labels]).view(np.uint8)


def stroke_masks(
    picture: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray],
    contrast: float,
    black_level: int,
    max_char: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``(bright, dark)`` uint8 0/1 masks of candidate stroke pixels.

    Bright: above the upper local background by ``contrast``. Dark: below the lower one by
    the same *and* at most ``black_level``, because contrast-filled vessels are dark too and
    are only rarely as black as a burned-in character. The bright mask then grows, as in
    Canny's hysteresis, into touching pixels with half the contrast, so that thin
    anti-aliased strokes stay whole characters instead of specks. The dark one grows only
    where the result stays character-sized (``max_char`` px): grown freely, dark
    characters would run into the vessels they come near.
    """
    lower, _, upper = bounds
    bright_core = _exceeds(picture, upper, contrast)
    # Only weak pixels near a core take part: a stroke's blur is that wide, and the noise
    # further out would only cost time.
    near = cv2.dilate(bright_core.view(np.uint8), _REACH_KERNEL).view(bool)
    bright = _hysteresis(bright_core, _exceeds(picture, upper, contrast / 2) & near)
    dark = _exceeds(lower, picture, contrast) & (picture <= black_level)
    weak = _exceeds(lower, picture, contrast / 2) & (picture <= 2 * black_level)
    return bright, _hysteresis(dark, weak, max_char)


def contrast_masks(
    picture: np.ndarray, upper: np.ndarray, contrast: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(brighter, darker)`` uint8 0/1 masks: any contrast from the upper background.

    Looser supersets of :func:`stroke_masks`, used to see what a stroke is attached to.
    Vessels only ever darken the field, so the upper envelope is the best estimate of the
    true background; against the median, a pale vessel in a crowded region would pass
    for background.
    """
    brighter = _exceeds(picture, upper, contrast)
    darker = _exceeds(upper, picture, contrast)
    return brighter.view(np.uint8), darker.view(np.uint8)
