"""Losses of the two stages: BCE for stage 1, Asymmetric Loss for the location heads.

Asymmetric Loss (Ridnik et al., ICCV 2021, "Asymmetric Loss For Multi-Label
Classification"), with ``p = sigmoid(logit)`` and the shifted probability
``p_m = max(p - clip, 0)``::

    L+ = (1 - p) ** gamma_pos * log(p)           # positives: mild focusing
    L- = p_m ** gamma_neg * log(1 - p_m)         # negatives: hard focusing and shifting
    loss = -(y * L+ + (1 - y) * L-)

Most location labels are 0, so easy negatives would swamp the few positives; the strong
negative focusing (gamma_neg=4) and the probability shift (negatives with p < clip cost
nothing) remove them from the gradient. The original pipeline used 4 / 1 / 0.05.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AsymmetricLoss", "asymmetric_loss", "stage1_loss", "LocalisedLoss"]

Reduction = Literal["mean", "sum", "none"]


def asymmetric_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma_neg: float = 4.0,
    gamma_pos: float = 1.0,
    clip: float = 0.05,
    eps: float = 1e-8,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Element-wise ASL of the module docstring, reduced over all elements.

    ``eps`` only guards ``log(0)``. ``mean`` averages over batch and labels (the paper's code
    sums; the mean keeps the learning rate independent of batch size and label count).
    """
    y = targets.to(logits.dtype)
    p = torch.sigmoid(logits.float())
    p_m = (p - clip).clamp(min=0) if clip > 0 else p
    pos = y * (1 - p).pow(gamma_pos) * torch.log(p.clamp(min=eps))
    neg = (1 - y) * p_m.pow(gamma_neg) * torch.log((1 - p_m).clamp(min=eps))
    loss = -(pos + neg)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class AsymmetricLoss(nn.Module):
    """Module form of :func:`asymmetric_loss` with the original pipeline's defaults."""

    def __init__(
        self,
        gamma_neg: float = 4.0,
        gamma_pos: float = 1.0,
        clip: float = 0.05,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.gamma_neg, self.gamma_pos, self.clip, self.reduction = (
            gamma_neg,
            gamma_pos,
            clip,
            reduction,
        )

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return asymmetric_loss(
            logits, targets, self.gamma_neg, self.gamma_pos, self.clip, reduction=self.reduction
        )


def stage1_loss(pos_weight: float | None = None) -> nn.Module:
    """BCE on the single stage-1 logit; ``pos_weight`` up-weights the rarer positive views."""
    weight = None if pos_weight is None else torch.tensor([float(pos_weight)])
    return nn.BCEWithLogitsLoss(pos_weight=weight)


class LocalisedLoss(nn.Module):
    """The loss of localised training (:mod:`core.training.patches`).

    Given cell logits ``(B, K, cells)`` and ``(crop_labels, cell_targets, mask)``: the
    ``image_loss`` of each crop's logit (the max over its cells, as at inference) plus
    ``dense_weight`` times a BCE on every cell, positive cells weighted ``cell_pos_weight``
    (an aneurysm covers a few cells of many). ``mask`` (B, K) drops labels the crop cannot
    vouch for. Given plain logits ``(B, K)`` and labels (validation on whole views), it is
    the ``image_loss`` alone. ``image_loss`` must not reduce (``reduction="none"``).
    """

    def __init__(
        self, image_loss: nn.Module, dense_weight: float = 1.0, cell_pos_weight: float = 4.0
    ) -> None:
        super().__init__()
        self.image_loss, self.dense_weight = image_loss, dense_weight
        self.register_buffer("cell_pos_weight", torch.tensor(float(cell_pos_weight)))

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor | tuple[torch.Tensor, ...]
    ) -> torch.Tensor:
        if isinstance(target, torch.Tensor):
            return self.image_loss(pred, target).mean()
        labels, cells, mask = target
        per_crop = self.image_loss(pred.amax(dim=2), labels) * mask
        dense = F.binary_cross_entropy_with_logits(
            pred, cells, pos_weight=self.cell_pos_weight, reduction="none"
        ) * mask[:, :, None]
        kept = mask.sum().clamp(min=1.0)
        return per_crop.sum() / kept + self.dense_weight * dense.sum() / (kept * pred.shape[2])
