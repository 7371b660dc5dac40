"""Connected components with their bounding boxes."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["label_boxes"]


def label_boxes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected labels of ``mask``, and one row ``x0, y0, x1, y1, area`` (end exclusive)
    per component: row ``i`` describes label ``i + 1`` (0 is the background).

    OpenCV's block-based algorithm (BBDT) gathers the statistics in the labelling pass
    itself; on stroke masks it is about twice as fast as the default algorithm, or as
    labelling first and collecting boxes from the foreground pixels afterwards. The labels
    are the same, in raster order.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_BBDT
    )
    x, y, w, h, area = (stats[1:n, i].astype(np.int64) for i in range(5))
    return labels, np.stack([x, y, x + w, y + h, area], axis=1)
