"""Hard negatives: crops centred on the network's own false alarms in the training views.

Random negative crops are mostly plain vessel and background. The stage-1 false alarms on
held-back views are not random: a vessel loop seen end-on, a tortuous bend, a trunk that
ends in a rounded stump. Each is a small fraction of the view, so a uniform draw rarely
shows one. Before each epoch after the first, :func:`mine` runs the network over every
training view, keeps each view's most suspicious cell that lies clear of every aneurysm,
and hands the most suspicious of those to the crop dataset, which then centres a share of
its negative crops on them (:attr:`core.training.patches.PatchDataset.hard`).

Only for fully convolutional networks with a ``cell_max`` head (the demo stage 1), whose
cells map to places in the view. A resumed run mines again from the restored weights.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch import nn

from core.models.heads import emit_cell_maps
from core.training.datasets import ArrayDataset
from core.training.evaluate import predict_logits
from core.training.patches import PatchDataset

__all__ = ["mine"]

log = logging.getLogger(__name__)


def mine(
    model: nn.Module,
    data: PatchDataset,
    device: torch.device,
    *,
    keep: float = 0.5,
    batch: int = 32,
    cpu_bf16: bool = True,
) -> list[tuple[int, float, float]]:
    """``(row, x, y)`` of the most suspicious aneurysm-free cell of each training view, the
    ``keep`` fraction of views with the highest such cells, in model-input pixels.

    A cell is aneurysm-free when its centre lies farther than the sac's radius plus one
    cell from every sac of the view (the crop around it may still clip one; the dataset
    checks that before using it).
    """
    if not len(data.images):
        return []
    side = data.images.shape[1]
    views = ArrayDataset(data.images, data.labels, data.spec)
    with emit_cell_maps(model):  # (views, outputs, cells): the most suspicious output per cell
        cells = predict_logits(model, views, device, batch, cpu_bf16).max(axis=1)
    grid = math.isqrt(cells.shape[1])
    size = side / grid
    centres = (np.arange(grid) + 0.5) * size
    cx, cy = (a.ravel() for a in np.meshgrid(centres, centres))
    found: list[tuple[float, int, float, float]] = []
    for row, logits in enumerate(cells):
        free = np.ones(len(logits), bool)
        for t in data.targets[row]:
            free &= (cx - t.x) ** 2 + (cy - t.y) ** 2 > (t.r + size) ** 2
        if free.any():
            best = int(np.argmax(np.where(free, logits, -np.inf)))
            found.append((float(logits[best]), row, float(cx[best]), float(cy[best])))
    found.sort(reverse=True)
    chosen = found[: max(1, round(keep * len(found)))] if found else []
    if chosen:
        log.info(
            "hard negatives: %d of %d views, cell logits %.2f to %.2f",
            len(chosen), len(found), chosen[-1][0], chosen[0][0],
        )  # fmt: skip
    return [(row, x, y) for _, row, x, y in chosen]
