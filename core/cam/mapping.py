"""CAM maps back to the original image frame, and colour scales.

Model input = the preprocessing crop resized to the model size, so the hooked layer's grid
spans the crop exactly. A map is resized from the layer grid to the crop size (one
bilinear resize, pixel centres aligned as ``cv2.resize`` does) and placed at the crop
offset in a frame of the original size; outside the crop the map is 0 (the model never saw
those pixels).

Scaling: ``per_view`` min-max normalises each map alone (pytorch-grad-cam's convention:
colours compare *within* a view only); ``shared`` divides every map by the largest raw
value of the set, so a view with weak evidence looks weak next to a strong one.
"""

from __future__ import annotations

from typing import Literal, Sequence

import cv2
import numpy as np

from core.case import PreprocessRecord

__all__ = ["Scale", "to_crop", "to_original", "peak_in_original", "scale_maps"]

Scale = Literal["per_view", "shared"]


def to_crop(cam: np.ndarray, record: PreprocessRecord) -> np.ndarray:
    """A layer-resolution map resized to the crop (``(crop_h, crop_w)``, float32)."""
    x0, y0, x1, y1 = record.crop
    return cv2.resize(cam.astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)


def to_original(cam: np.ndarray, record: PreprocessRecord) -> np.ndarray:
    """A layer-resolution map in original image coordinates (``(H, W)``, 0 outside the crop)."""
    width, height = record.original_size
    x0, y0, x1, y1 = record.crop
    out = np.zeros((height, width), dtype=np.float32)
    out[y0:y1, x0:x1] = to_crop(cam, record)
    return out


def peak_in_original(cam: np.ndarray, record: PreprocessRecord) -> tuple[int, int] | None:
    """``(x, y)`` of the map's maximum in original pixel coordinates (pointing game).

    None for an all-zero map: no evidence points anywhere, and a made-up peak at the crop
    corner would count as a (meaningless) miss or, worse, a hit.
    """
    if not np.any(cam > 0):
        return None
    crop = to_crop(cam, record)
    y, x = np.unravel_index(int(np.argmax(crop)), crop.shape)
    return int(x) + record.crop[0], int(y) + record.crop[1]


def scale_maps(maps: Sequence[np.ndarray], scale: Scale = "per_view") -> list[np.ndarray]:
    """Maps in [0, 1] for display; an all-zero map stays all zero."""
    if scale == "shared":
        top = max((float(m.max()) for m in maps), default=0.0)
        return [m / top if top > 0 else np.zeros_like(m) for m in maps]
    if scale != "per_view":
        raise ValueError(f"unknown CAM scale {scale!r}; use 'per_view' or 'shared'")
    out = []
    for m in maps:
        lo, hi = float(m.min()), float(m.max())
        out.append((m - lo) / (hi - lo) if hi > lo else np.zeros_like(m))
    return out
