"""The few array conversions every decoder shares, so that PNG and DICOM agree.

- More than 8 bits without a display window: the *actual* value range is stretched to
  0..255. A 12-bit image stored in 16 bits would be nearly black if scaled by bit depth,
  and a DSA run rarely fills its nominal range. A constant image maps to 0.
- Colour to grey: ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B), the rule PIL and OpenCV
  use, so a grey image saved as RGB comes back unchanged.
- Transparency: composited over white. DSA backgrounds are light, and a fully transparent
  pixel carries no image; an opaque alpha channel changes nothing.
"""

from __future__ import annotations

import numpy as np

__all__ = ["to_uint8", "value_range", "luminance", "composite_over_white"]

_LUMA = np.array([0.299, 0.587, 0.114])


def value_range(arr: np.ndarray) -> tuple[float, float]:
    """``(min, max)`` of an array as floats."""
    return float(arr.min()), float(arr.max())


def to_uint8(arr: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``[lo, hi]`` linearly onto ``0..255`` (clipped, rounded); ``lo == hi`` gives 0."""
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    scaled = (arr.astype(np.float32) - np.float32(lo)) * np.float32(255.0 / (hi - lo))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of an ``...x3`` array, as float32 in the input's units."""
    return (rgb[..., :3].astype(np.float32) @ _LUMA.astype(np.float32)).astype(np.float32)


def composite_over_white(rgba: np.ndarray) -> np.ndarray:
    """Blend an 8-bit ``HxWx4`` array over white; returns float32 ``HxWx3``."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    return rgba[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
