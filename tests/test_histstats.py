"""Histogram order statistics equal NumPy's to the last bit (core.preprocess.histstats):
preprocessing decisions compare them with thresholds, so "close" would not be the same
crop."""

from __future__ import annotations

import numpy as np
import pytest

from core.preprocess.histstats import grey_median, grey_percentile, int_median


@pytest.mark.parametrize("n", [1, 2, 3, 7, 400, 15001])
def test_percentiles_and_medians_are_numpys(n: int) -> None:
    rng = np.random.default_rng(n)
    for low, high in ((0, 256), (100, 103), (0, 2), (255, 256)):
        grey = rng.integers(low, high, n).astype(np.uint8)
        for q in (0, 0.5, 25, 33.3, 50, 75, 90, 99.9, 100):
            assert grey_percentile(grey, q) == float(np.percentile(grey, q)), (low, high, q)
        assert grey_median(grey) == float(np.median(grey))
        signed = rng.integers(-255, 600, n)
        assert int_median(signed) == float(np.median(signed))


def test_views_of_an_image_as_preprocessing_takes_them() -> None:
    image = np.random.default_rng(0).integers(0, 256, (301, 257)).astype(np.uint8)
    for part in (image[75:226, 64:193], image[::4, ::3], image[:2], image[:, -2:], image):
        assert grey_percentile(part, 75) == float(np.percentile(part, 75))
        assert grey_median(part) == float(np.median(part))
    # The large-array path (bincount instead of calcHist) agrees too.
    big = np.random.default_rng(1).integers(0, 256, 1 << 24, dtype=np.uint8)
    assert grey_percentile(big, 75) == float(np.percentile(big, 75))


def test_wrong_input_is_refused() -> None:
    with pytest.raises(TypeError, match="uint8"):
        grey_median(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="no values"):
        grey_percentile(np.zeros(0, np.uint8), 50)
