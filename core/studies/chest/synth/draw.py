"""Drawing primitives shared by the anatomy and the lesions: anti-aliased shapes on
``uint8`` masks, smooth random fields, and clipped local windows.

Shapes are drawn with OpenCV at 1/8-pixel precision into ``uint8`` (its anti-aliasing works
on 8-bit images only) and turned into float densities by the caller. Random texture is
drawn on a coarse grid and upsampled, which is both smooth and cheap at 1024+ px.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["as_float", "ellipse", "extent_points", "fill", "noise_field", "stroke", "window"]

_SHIFT = 3
_K = 1 << _SHIFT


def _fixed(pts: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(pts, float).reshape(-1, 2) * _K).astype(np.int32)


def fill(canvas: np.ndarray, pts: np.ndarray, value: int = 255) -> np.ndarray:
    """Fill the polygon ``pts`` (N, 2 pixels) on a ``uint8`` canvas, in place; returns it."""
    cv2.fillPoly(canvas, [_fixed(pts)], int(value), cv2.LINE_AA, _SHIFT)
    return canvas


def stroke(canvas: np.ndarray, pts: np.ndarray, value: int, thickness: float) -> np.ndarray:
    """Draw the open polyline ``pts`` ``thickness`` pixels wide, in place."""
    cv2.polylines(canvas, [_fixed(pts)], False, int(value), max(1, int(round(thickness))),
                  cv2.LINE_AA, _SHIFT)  # fmt: skip
    return canvas


def ellipse(
    canvas: np.ndarray, centre: np.ndarray, axes: tuple[float, float], value: int = 255,
    angle: float = 0.0,
) -> np.ndarray:  # fmt: skip
    """Fill an ellipse (semi-axes in pixels, ``angle`` in degrees), in place."""
    c = tuple(int(v) for v in _fixed(centre)[0])
    ax = (max(1, int(round(axes[0] * _K))), max(1, int(round(axes[1] * _K))))
    cv2.ellipse(canvas, c, ax, float(angle), 0.0, 360.0, int(value), -1, cv2.LINE_AA, _SHIFT)
    return canvas


def as_float(mask: np.ndarray) -> np.ndarray:
    """``uint8`` mask -> float32 in 0..1."""
    return mask.astype(np.float32) * np.float32(1.0 / 255.0)


def noise_field(rng: np.random.Generator, shape: tuple[int, int], cells: float) -> np.ndarray:
    """Unit-sd smooth random field of ``shape`` (h, w) with about ``cells`` independent
    values across its longer side (drawn coarse, upsampled bicubically)."""
    h, w = shape
    scale = max(cells, 2.0) / max(h, w)
    gh, gw = max(2, int(np.ceil(h * scale)) + 1), max(2, int(np.ceil(w * scale)) + 1)
    grid = rng.standard_normal((gh, gw), dtype=np.float32)
    field = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    sd = float(field.std())
    return field / sd if sd > 0 else field


def window(
    shape: tuple[int, int], x0: float, y0: float, x1: float, y1: float
) -> tuple[slice, slice, int, int] | None:
    """Row/column slices of the box (x0, y0, x1, y1) clipped to ``shape`` (h, w), plus the
    window's top-left corner; ``None`` when nothing of it is on the canvas."""
    h, w = shape
    c0, r0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    c1, r1 = min(w, int(np.ceil(x1)) + 1), min(h, int(np.ceil(y1)) + 1)
    if c1 - c0 < 1 or r1 - r0 < 1:
        return None
    return slice(r0, r1), slice(c0, c1), c0, r0


def extent_points(patch: np.ndarray, x0: int, y0: int, frac: float = 0.2) -> np.ndarray:
    """Where ``|patch|`` reaches ``frac`` of its peak, as the corners of each row's first
    and last such pixel in canvas coordinates: the outline a lesion's box must cover, which
    stays exact when the film is later rotated (empty when the patch is flat)."""
    mag = np.abs(patch)
    peak = float(mag.max()) if mag.size else 0.0
    if peak <= 0:
        return np.zeros((0, 2))
    on = mag >= frac * peak
    rows = np.flatnonzero(on.any(axis=1))
    first = on[rows].argmax(axis=1)
    last = on.shape[1] - 1 - on[rows, ::-1].argmax(axis=1)
    ys, xa, xb = (y0 + rows).astype(float), (x0 + first).astype(float), (x0 + last + 1.0)
    corners = [(xa, ys), (xb, ys), (xa, ys + 1), (xb, ys + 1)]
    return np.concatenate([np.column_stack(c) for c in corners])
