"""Connected components with their bounding boxes, fast on sparse masks."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["label_boxes"]


def label_boxes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected labels of ``mask``, and one row ``x0, y0, x1, y1, area`` (end exclusive)
    per component: row ``i`` describes label ``i + 1`` (0 is the background).

    Same as ``cv2.connectedComponentsWithStats`` but computed from the foreground pixels
    only, which is several times faster on sparse masks (OpenCV's stats pass visits every
    pixel and also computes centroids we do not use).
    """
    n, labels = cv2.connectedComponents(mask, connectivity=8)
    if n <= 1:
        return labels, np.zeros((0, 5), np.int64)
    # cv2.findNonZero is several times faster than np.nonzero on a large sparse mask.
    points = cv2.findNonZero(mask).reshape(-1, 2)
    xs, ys = points[:, 0], points[:, 1]
    lab = labels[ys, xs]
    order = np.argsort(lab, kind="stable")
    lab, xs, ys = lab[order], xs[order], ys[order]
    starts = np.searchsorted(lab, np.arange(1, n))
    boxes = np.stack([
        np.minimum.reduceat(xs, starts), np.minimum.reduceat(ys, starts),
        np.maximum.reduceat(xs, starts) + 1, np.maximum.reduceat(ys, starts) + 1,
        np.diff(np.append(starts, lab.size)),
    ], axis=1)  # fmt: skip
    return labels, boxes.astype(np.int64)
