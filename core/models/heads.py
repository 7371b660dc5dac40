"""Classifier heads: the original global-average head, and ``cell_max``.

``cell_max`` applies the linear classifier to every cell of the last feature map and takes
the maximum: one logit per output is the score of the most suspicious cell. It is the
head of a multiple-instance detector (an aneurysm is a small thing somewhere in the view,
and averaging over the view dilutes it), and it is what makes localised training possible:
the per-cell logits can be supervised where the position of an aneurysm is known
(:mod:`core.training.patches`), while the image logit stays their maximum. With this head
Grad-CAM on the last layer is the class-activation map of the cell logits, so its peak is
the cell that decided the score.

Parameters keep the names and shapes of a plain ``nn.Linear`` (``fc.weight``, ``fc.bias``),
so bundles and pretrained-weight loaders see the usual layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from torch import nn

__all__ = ["Head", "HEADS", "CellMaxLinear", "emit_cell_maps", "fold_affine"]

Head = Literal["avg", "cell_max"]
HEADS: tuple[str, ...] = ("avg", "cell_max")


class CellMaxLinear(nn.Linear):
    """``nn.Linear`` over every feature cell, then the max over cells.

    Accepts ``(B, C, H, W)`` or the flattened ``(B, C*H*W)`` that torchvision's ResNet hands
    its ``fc`` (channel-major, so ``view(B, C, H*W)`` recovers the cells). With
    :attr:`emit_map` set it returns the cell logits ``(B, K, H*W)`` instead, for training.
    """

    emit_map: bool = False

    def cell_logits(self, x: torch.Tensor) -> torch.Tensor:
        cells = x.flatten(2) if x.ndim == 4 else x.reshape(x.shape[0], self.in_features, -1)
        return torch.einsum("bcl,kc->bkl", cells, self.weight) + self.bias[None, :, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cells = self.cell_logits(x)
        return cells if self.emit_map else cells.amax(dim=2)


@contextmanager
def emit_cell_maps(model: nn.Module) -> Iterator[None]:
    """Within the block, ``model(x)`` returns cell logits ``(B, K, cells)`` (training only:
    never on a shared model)."""
    heads = [m for m in model.modules() if isinstance(m, CellMaxLinear)]
    if not heads:
        raise ValueError("model has no cell_max head")
    for h in heads:
        h.emit_map = True
    try:
        yield
    finally:
        for h in heads:
            h.emit_map = False


@torch.no_grad()
def fold_affine(head: nn.Linear, scale: float, shift: float) -> None:
    """Make the head output ``scale * logit + shift`` (Platt scaling folded into the weights).

    Exact for both heads when ``scale > 0``: the max over cells and the mean over cells
    commute with a positive affine map.
    """
    if scale <= 0:
        raise ValueError(f"a calibration scale must be positive, got {scale}")
    head.weight.mul_(scale)
    head.bias.mul_(scale).add_(shift)
