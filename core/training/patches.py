"""Localised training: random crops of the cached views, labelled by the aneurysms inside.

A synthetic cohort knows where every aneurysm is (:mod:`core.sacs`). Training on crops
with that knowledge is far more sample-efficient than training on whole views with view
labels: a crop that holds an aneurysm is positive for its location, a crop that holds none
is negative, and every cell of the network's ``cell_max`` head gets its own target (1
where an aneurysm lies, 0 elsewhere). The network stays fully convolutional up to its
head, so at inference it reads the whole view and the view's logit is its most suspicious
cell (:mod:`core.models.heads`), exactly what the crops taught each cell.

Half the crops are centred (with jitter) on an aneurysm, drawn with weights that favour
rare locations (inverse square root of their frequency); the other half are drawn from
every view, placed away from any aneurysm (optionally a share of them on the network's
own false alarms: :mod:`core.training.hard_negatives`). Views whose labels name a location
that the generator did not draw in *that* view (label noise inherited from patient-level
labels, e.g. an ACOM aneurysm on a lateral view) have that location masked out of the loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from core.case import Box
from core.models.registry import InputSpec, ModelSpec
from core.preprocess.transforms import to_model_tensor
from core.sacs import Sac
from core.schema import split_location
from core.training.datasets import jitter_intensity
from core.training.profiles import Augment, Flips

__all__ = ["Target", "model_targets", "PatchDataset"]

#: The disk that marks a cell positive is at least this fraction of a cell in radius, so
#: that a small aneurysm still claims the cell it sits in.
_MIN_RADIUS_CELLS = 0.75
#: A negative crop is re-drawn this many times to avoid every aneurysm before giving up.
_NEGATIVE_TRIES = 20


@dataclass(frozen=True)
class Target:
    """A sac in model-input pixels; ``k`` is its output index, -1 if the model has none."""

    x: float
    y: float
    r: float
    k: int


def model_targets(
    sacs: Sequence[Sac], crop: Box, spec: ModelSpec
) -> tuple[Target, ...]:  # fmt: skip
    """Sacs of one view mapped into ``spec``'s input: the crop, resized to the model size."""
    x0, y0, x1, y1 = crop
    side = spec.input.size[0]
    sx, sy = side / (x1 - x0), side / (y1 - y0)
    out = []
    for s in sacs:
        if not (x0 <= s.x < x1 and y0 <= s.y < y1):
            continue  # cut away with the margin: the model never sees it
        base = split_location(s.location)[1]
        k = 0 if spec.role == "stage1" else (spec.labels.index(base) if base in spec.labels else -1)
        out.append(Target((s.x - x0) * sx, (s.y - y0) * sy, s.radius * (sx + sy) / 2, k))
    return tuple(out)


def _flip(img: np.ndarray, targets: list[Target], flips: Flips, rng: np.random.Generator):
    """A random flip (and for ``dihedral`` a quarter-turn rotation) of a square crop."""
    p = img.shape[0]
    if flips == "dihedral":
        for _ in range(int(rng.integers(4))):  # np.rot90 maps (x, y) to (y, p - 1 - x)
            img = np.rot90(img)
            targets = [Target(t.y, p - 1 - t.x, t.r, t.k) for t in targets]
    if flips in ("dihedral", "horizontal") and rng.random() < 0.5:
        img = img[:, ::-1]
        targets = [Target(p - 1 - t.x, t.y, t.r, t.k) for t in targets]
    return np.ascontiguousarray(img), targets


class PatchDataset(Dataset):
    """Crops of ``images`` for one role: item ``(x, (crop_labels, cell_targets, mask))``.

    ``labels`` are the role table's rows (what the view is labelled with), ``targets`` the
    sacs drawn in each view. ``grid`` is the head's cells per side for a ``patch`` crop.
    The first units are one per sac (positive crops), the rest one per view (negative
    crops); :meth:`sample_weights` balances them for a weighted sampler.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        targets: Sequence[tuple[Target, ...]],
        spec: InputSpec,
        *,
        patch: int,
        grid: int,
        flips: Flips = "none",
        augment: Augment | None = None,
    ) -> None:
        if patch > images.shape[1]:
            raise ValueError(f"crop side {patch} exceeds the model input {images.shape[1]}")
        self.images, self.targets, self.spec = images, list(targets), spec
        self.labels = np.asarray(labels, dtype=np.float32).reshape(len(images), -1)
        self.patch, self.grid, self.flips, self.augment = patch, grid, flips, augment
        self.positives = [(r, t) for r, ts in enumerate(self.targets) for t in ts if t.k >= 0]
        #: ``(row, x, y)`` places of the network's own false alarms
        #: (:func:`core.training.hard_negatives.mine`) and the share of negative crops
        #: centred on one of them; empty until mined.
        self.hard: list[tuple[int, float, float]] = []
        self.hard_fraction = 0.0
        centres = (np.arange(grid) + 0.5) * patch / grid
        self._cx, self._cy = np.meshgrid(centres, centres)

    def __len__(self) -> int:
        return len(self.positives) + len(self.images)

    def sample_weights(self, positive_fraction: float = 0.5) -> np.ndarray:
        """Sampler weights: positives share ``positive_fraction``, rarer locations more."""
        if not self.positives:
            return np.ones(len(self))
        ks = np.array([t.k for _, t in self.positives])
        counts = np.bincount(ks)
        pos = 1.0 / np.sqrt(counts[ks])
        pos *= positive_fraction / pos.sum()
        neg = np.full(len(self.images), (1.0 - positive_fraction) / len(self.images))
        return np.concatenate([pos, neg]) * len(self)

    def _offset(self, i: int, rng: np.random.Generator) -> tuple[int, int, int]:
        """``(row, x0, y0)`` of crop ``i``: around its sac, or clear of every sac."""
        side, p = self.images.shape[1], self.patch
        if i < len(self.positives):
            row, t = self.positives[i]
            return (row, *self._around(t.x, t.y, rng))
        if self.hard and rng.random() < self.hard_fraction:
            row, hx, hy = self.hard[int(rng.integers(len(self.hard)))]
            ox, oy = self._around(hx, hy, rng)
            if not self._holds_sac(row, ox, oy):
                return row, ox, oy
        row = i - len(self.positives)
        for _ in range(_NEGATIVE_TRIES):
            ox, oy = (int(v) for v in rng.integers(0, side - p + 1, size=2))
            if not self._holds_sac(row, ox, oy):
                break
        return row, ox, oy

    def _around(self, x: float, y: float, rng: np.random.Generator) -> tuple[int, int]:
        """A crop's corner that holds ``(x, y)`` at a random place, clear of the edges."""
        side, p = self.images.shape[1], self.patch
        m = max(2, p // 12)
        ox, oy = (int(np.clip(c - rng.uniform(m, p - m), 0, side - p)) for c in (x, y))
        return ox, oy

    def _holds_sac(self, row: int, ox: int, oy: int) -> bool:
        """Whether the crop at ``(ox, oy)`` of view ``row`` touches any of its sacs."""
        p = self.patch
        return any(
            ox - t.r < t.x < ox + p + t.r and oy - t.r < t.y < oy + p + t.r
            for t in self.targets[row]
        )

    def _labels(self, row: int, moved: list[Target]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k_out = self.labels.shape[1]
        y = np.zeros(k_out, np.float32)
        dense = np.zeros((k_out, self.grid, self.grid), np.float32)
        cell = self.patch / self.grid
        for t in moved:
            if t.k < 0:
                continue
            if 0 <= t.x < self.patch and 0 <= t.y < self.patch:
                y[t.k] = 1.0
            reach = max(t.r, _MIN_RADIUS_CELLS * cell)
            dense[t.k][(self._cx - t.x) ** 2 + (self._cy - t.y) ** 2 <= reach**2] = 1.0
        drawn = {t.k for t in self.targets[row]}
        mask = np.array(
            [0.0 if self.labels[row, k] and k not in drawn else 1.0 for k in range(k_out)],
            np.float32,
        )
        return y, dense.reshape(k_out, -1), mask

    def __getitem__(self, i: int):
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,)).item()))
        row, ox, oy = self._offset(i, rng)
        p = self.patch
        crop = self.images[row, oy : oy + p, ox : ox + p]
        moved = [Target(t.x - ox, t.y - oy, t.r, t.k) for t in self.targets[row]]
        crop, moved = _flip(crop, moved, self.flips, rng)
        if self.augment is not None:
            crop = jitter_intensity(crop, self.augment, rng)
        y, dense, mask = self._labels(row, moved)
        s = self.spec
        x = to_model_tensor(crop, p, s.mean, s.std, s.in_chans)
        return torch.from_numpy(x), (torch.from_numpy(y), torch.from_numpy(dense),
                                     torch.from_numpy(mask))  # fmt: skip
