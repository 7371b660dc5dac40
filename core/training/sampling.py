"""Class-imbalance handling: loss weights and a seeded, shardable, optionally weighted sampler.

Positive views are a minority for stage 1 and single locations are rare for stage 2. Two
tools, chosen per profile:

* ``pos_weight`` for the stage-1 BCE (negatives / positives, capped), so a positive view's
  error counts as much in total as the negatives';
* :class:`ShardedSampler`, which draws rows with weights (oversampling rows with rare
  labels) and shards them over DDP ranks. torch's ``WeightedRandomSampler`` cannot shard and
  ``DistributedSampler`` cannot weight; this one does both, and with one process it is the
  plain seeded sampler, so single-process and DDP runs share one code path.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler

__all__ = ["pos_weight", "balanced_row_weights", "ShardedSampler"]


def pos_weight(
    labels: np.ndarray, row_weights: np.ndarray | None = None, cap: float = 20.0
) -> np.ndarray:
    """Per column ``n_neg / n_pos`` clipped to ``[1, cap]``; 1 where a column has no positive.

    With ``row_weights`` (a weighted sampler's) the counts are the expected ones under that
    sampler, so oversampling and loss weighting do not both correct the same imbalance.
    """
    y = np.asarray(labels, dtype=float).reshape(len(labels), -1)
    w = np.ones(len(y)) if row_weights is None else np.asarray(row_weights, dtype=float)
    pos = (w[:, None] * y).sum(axis=0)
    neg = w.sum() - pos
    ratio = np.divide(neg, pos, out=np.ones_like(pos), where=pos > 0)
    return np.clip(ratio, 1.0, cap)


def balanced_row_weights(labels: np.ndarray, power: float = 0.5) -> np.ndarray:
    """Sampling weight per row: its rarest positive label's inverse frequency, to ``power``.

    All-negative rows count as one more "label" (the background). ``power=1`` balances the
    labels fully, which on classes with two examples means showing the same two images over
    and over; ``0.5`` (square-root balancing) is the usual gentler compromise. Weights sum
    to the number of rows.
    """
    y = np.asarray(labels, dtype=bool).reshape(len(labels), -1)
    freq = np.maximum(y.sum(axis=0), 1) / len(y)
    background = max(float((~y.any(axis=1)).mean()), 1.0 / len(y))
    inv = np.where(y, 1.0 / freq, 0.0).max(axis=1)
    w = np.where(y.any(axis=1), inv, 1.0 / background) ** power
    return w * (len(w) / w.sum())


class ShardedSampler(Sampler[int]):
    """Row indices for one rank and epoch: a seeded permutation, or weighted draws.

    Every rank draws the same global order from ``seed + epoch`` and keeps every
    ``world``-th index from ``rank``, padded so ranks get equal counts (as DDP needs). Call
    :meth:`set_epoch` before each epoch, exactly like ``DistributedSampler``.
    ``num_samples`` (default: all rows) shortens an epoch to that many draws, so that a
    weighted sampler can show every positive often without paying for every negative.
    """

    def __init__(
        self,
        n_rows: int,
        *,
        weights: np.ndarray | None = None,
        num_samples: int | None = None,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if n_rows < 1:
            raise ValueError("cannot sample from an empty dataset")
        self.n_rows, self.seed, self.rank, self.world = n_rows, seed, rank, world
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.double)
        self.num_samples = (
            min(num_samples or n_rows, n_rows) if weights is None else (num_samples or n_rows)
        )
        self.epoch = 0
        self.per_rank = -(-self.num_samples // world)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.per_rank

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        total = self.per_rank * self.world
        if self.weights is None:
            order = torch.randperm(self.n_rows, generator=g)[: self.num_samples]
            order = torch.cat([order, order[: total - len(order)]])
        else:
            order = torch.multinomial(self.weights, total, replacement=True, generator=g)
        return iter(order[self.rank :: self.world].tolist())
