"""How one network is trained: on whole views, or localised on crops, and with what frozen.

:func:`plan_role` decides per network. Localised training (:mod:`core.training.patches`)
needs three things: the stage asks for it (``StageConfig.patch``), the cohort knows where
its aneurysms are (``truth.json``), and the model has a ``cell_max`` head whose cells can
be supervised. Otherwise the network trains on whole views with their labels, as the
original pipeline did, and the plan says why.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from core.models.build import set_input_side
from core.models.heads import emit_cell_maps
from core.models.registry import ModelSpec
from core.training.losses import AsymmetricLoss, LocalisedLoss
from core.training.profiles import StageConfig

__all__ = ["RolePlan", "plan_role", "cell_grid", "frozen_eval", "crop_mode", "localised_loss"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RolePlan:
    """Whether a network trains localised, and the reason in words (kept in the bundle)."""

    localised: bool
    reason: str


def plan_role(cfg: StageConfig, spec: ModelSpec, has_positions: bool) -> RolePlan:
    if cfg.patch is None:
        return RolePlan(False, "whole views with view labels (profile)")
    if not has_positions:
        return RolePlan(False, "whole views with view labels: the cohort has no truth.json")
    if spec.head != "cell_max":
        return RolePlan(False, f"whole views with view labels: {spec.key} has a {spec.head} head")
    return RolePlan(True, f"localised: {cfg.patch}-px crops with per-cell targets (truth.json)")


@torch.no_grad()
def cell_grid(model: nn.Module, spec: ModelSpec, patch: int) -> int:
    """Cells per side of the head's map for a ``patch``-pixel crop (one dry forward)."""
    was_training = model.training
    model.eval()
    set_input_side(model, spec, patch)
    try:
        with emit_cell_maps(model):
            cells = model(torch.zeros(1, spec.input.in_chans, patch, patch)).shape[-1]
    finally:
        set_input_side(model, spec, spec.input.size[0])
        model.train(was_training)
    side = math.isqrt(cells)
    if side * side != cells:
        raise ValueError(f"{spec.key}: {cells} head cells for a square crop")
    return side


def _frozen_in_eval(frozen: Sequence[nn.Module]) -> None:
    """Frozen layers keep the batch-norm statistics they were trained with."""
    for module in frozen:
        module.eval()


@contextmanager
def frozen_eval(frozen: Sequence[nn.Module]) -> Iterator[None]:
    """A training epoch on whole views: frozen layers stay in eval mode."""
    _frozen_in_eval(frozen)
    yield


@contextmanager
def crop_mode(
    model: nn.Module, spec: ModelSpec, patch: int, frozen: Sequence[nn.Module]
) -> Iterator[None]:
    """A localised training epoch: crop-sized inputs, cell logits out, frozen layers in eval;
    the model is back to whole-view inputs and one logit per output afterwards."""
    _frozen_in_eval(frozen)
    set_input_side(model, spec, patch)
    try:
        with emit_cell_maps(model):
            yield
    finally:
        set_input_side(model, spec, spec.input.size[0])


def localised_loss(spec: ModelSpec, dense_weight: float) -> LocalisedLoss:
    """BCE for stage 1 and Asymmetric Loss for the location models, per crop, plus cells.

    Crops are drawn balanced (half positive), so stage 1 needs no ``pos_weight`` here.
    """
    image: nn.Module
    if spec.role == "stage1":
        image = nn.BCEWithLogitsLoss(reduction="none")
    else:
        image = AsymmetricLoss(gamma_neg=4.0, gamma_pos=1.0, clip=0.05, reduction="none")
    return LocalisedLoss(image, dense_weight)
