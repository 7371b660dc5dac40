"""The model-input steps, as pure functions on arrays, named so models and the app share them.

``stage1_input`` is the original pipeline's stage-1 transform. ``to_model_tensor`` is the
resize and normalisation every model applies last; models take ``size``, ``mean`` and
``std`` from their registry entry rather than repeating numbers here.

Interpolation: ``cv2.INTER_AREA`` when shrinking (it averages the source pixels under each
target pixel, so thin vessels fade instead of aliasing into broken dashes) and
``cv2.INTER_LINEAR`` when enlarging (INTER_AREA degenerates to nearest-neighbour there).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["stage1_input", "resize_square", "to_model_tensor"]


def stage1_input(gray: np.ndarray) -> np.ndarray:
    """``cv2.bitwise_not`` then ``cv2.medianBlur(3)``: vessels bright, speckle removed.

    Exactly the original stage-1 input transform, on uint8 HxW; returns a new array.
    """
    if gray.dtype != np.uint8 or gray.ndim != 2:
        raise ValueError(f"stage1_input needs 2-D uint8, got {gray.dtype} {gray.shape}")
    return cv2.medianBlur(cv2.bitwise_not(gray), 3)


def resize_square(gray: np.ndarray, size: int) -> np.ndarray:
    """Resize to ``size`` x ``size`` with INTER_AREA down and INTER_LINEAR up (see module)."""
    h, w = gray.shape[:2]
    interp = cv2.INTER_AREA if size < max(h, w) else cv2.INTER_LINEAR
    return cv2.resize(gray, (size, size), interpolation=interp)


def _per_channel(value: float | Sequence[float], channels: int) -> np.ndarray:
    arr = np.asarray(value, np.float32).reshape(-1)
    if arr.size not in (1, channels):
        raise ValueError(f"need 1 or {channels} values for mean/std, got {arr.size}")
    return np.broadcast_to(arr, (channels,)).reshape(channels, 1, 1)


def to_model_tensor(
    images: np.ndarray | Sequence[np.ndarray],
    size: int,
    mean: float | Sequence[float] = 0.5,
    std: float | Sequence[float] = 0.5,
    channels: int = 1,
) -> np.ndarray:
    """uint8 grey image(s) -> float32 ``(C, size, size)`` or ``(N, C, size, size)``.

    Pixels go to [0, 1], then ``(x - mean) / std`` per channel. ``channels=3`` repeats the
    grey plane for models built for RGB (ImageNet weights); ``mean``/``std`` may then hold
    three values. One 2-D array gives one 3-D tensor; a sequence or an ``(N, H, W)`` array
    gives a batch. Images of different sizes may share a batch: each is resized alone.
    """
    single = isinstance(images, np.ndarray) and images.ndim == 2
    batch = [images] if single else list(images)
    if not batch:
        raise ValueError("to_model_tensor needs at least one image")
    planes = np.stack([resize_square(img, size) for img in batch]).astype(np.float32) / 255.0
    out = np.repeat(planes[:, None], channels, axis=1)
    out = (out - _per_channel(mean, channels)) / _per_channel(std, channels)
    out = np.ascontiguousarray(out, dtype=np.float32)
    return out[0] if single else out
