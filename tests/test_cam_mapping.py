"""CAM maps back to original image coordinates, and the two colour scales."""

from __future__ import annotations

import numpy as np
import pytest

from core.cam.mapping import peak_in_original, scale_maps, to_crop, to_original
from core.case import PreprocessRecord

# A 300x200 (w x h) original whose picture is the crop x 40..240, y 30..180.
RECORD = PreprocessRecord("margin", (40, 30, 240, 180), (), (300, 200))


def test_map_lands_inside_the_crop_and_is_zero_outside() -> None:
    cam = np.zeros((3, 4), np.float32)
    cam[0, 3] = 1.0  # top-right cell of the layer grid
    full = to_original(cam, RECORD)
    assert full.shape == (200, 300)
    assert full[:30].max() == 0 and full[180:].max() == 0
    assert full[:, :40].max() == 0 and full[:, 240:].max() == 0
    y, x = np.unravel_index(np.argmax(full), full.shape)
    assert 190 <= x < 240 and 30 <= y < 80  # the top-right part of the crop
    assert to_crop(cam, RECORD).shape == (150, 200)


def test_peak_in_original_coordinates() -> None:
    cam = np.zeros((3, 4), np.float32)
    cam[2, 0] = 2.0  # bottom-left
    x, y = peak_in_original(cam, RECORD)  # type: ignore[misc]
    assert 40 <= x < 90 and 130 <= y < 180
    assert peak_in_original(np.zeros((3, 4), np.float32), RECORD) is None


def test_scales() -> None:
    weak, strong = np.full((2, 2), 0.1), np.array([[0.0, 1.0], [2.0, 4.0]])
    weak[0, 0] = 0.2
    per_view = scale_maps([weak, strong], "per_view")
    assert per_view[0].max() == 1.0 and per_view[1].max() == 1.0
    shared = scale_maps([weak, strong], "shared")
    assert shared[1].max() == 1.0 and shared[0].max() == pytest.approx(0.05)
    assert scale_maps([np.zeros((2, 2))], "per_view")[0].max() == 0
    with pytest.raises(ValueError):
        scale_maps([weak], "global")  # type: ignore[arg-type]
