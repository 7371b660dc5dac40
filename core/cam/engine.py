"""Run a CAM method on a batch for a registry model: one call, explicit targets, raw maps.

Thread safety: pytorch-grad-cam keeps activations and gradients in hooks on the model
itself, so two concurrent calls on one shared model would mix their tensors. Every call
here holds that model's own lock from hook registration to hook removal; different models
run in parallel. Hooks are always released, also when the forward or backward raises.

The same forward pass yields the model outputs, so the stage-1 CAM call also gives the
stage-1 scores: no separate scoring pass.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from core.cam.methods import DEFAULT_METHOD, method_class
from core.cam.reshape import get_reshape
from core.models.registry import ModelSpec

__all__ = ["CamBatch", "compute_cams", "model_lock", "hook_count"]

_LOCKS: "weakref.WeakKeyDictionary[nn.Module, threading.Lock]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model: nn.Module) -> threading.Lock:
    """The lock that serialises hook-based work on one model instance."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.Lock()
        return lock


def hook_count(model: nn.Module) -> int:
    """Forward/backward hooks currently registered anywhere in ``model`` (tests, audits)."""
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        for m in model.modules()
    )


@dataclass(frozen=True)
class CamBatch:
    """Maps for a batch: ``raw`` is ``(N, h, w)`` at the hooked layer's resolution, ReLU'd
    and *not* normalised; ``logits`` ``(N, outputs)`` come from the same forward pass."""

    raw: np.ndarray
    logits: np.ndarray
    method: str
    layer: str


def compute_cams(
    model: nn.Module,
    spec: ModelSpec,
    inputs: torch.Tensor,
    targets: Sequence[Any],
    *,
    method: str = DEFAULT_METHOD,
) -> CamBatch:
    """CAMs for ``inputs`` (N, C, H, W) on ``model``'s ``spec.cam_layer``.

    ``targets`` must hold exactly one target per image (see :mod:`core.cam.targets`).
    The model must be in eval mode: batch norm in train mode would couple the images.
    """
    if len(targets) != inputs.shape[0]:
        raise ValueError(
            f"need one target per image: {len(targets)} targets, {inputs.shape[0]} images"
        )
    if model.training:
        raise ValueError("CAM needs a model in eval mode (train-mode batch norm mixes images)")
    cls = method_class(method)
    layer = model.get_submodule(spec.cam_layer)
    reshape = get_reshape(spec.cam_reshape)

    def to_float(t: torch.Tensor) -> torch.Tensor:
        # Under bf16/fp16 autocast the hooked activations and gradients are half
        # precision, which the library turns into NumPy arrays: fp32 first.
        return (t if reshape is None else reshape(t)).float()

    with model_lock(model), torch.enable_grad():
        with cls(model=model, target_layers=[layer], reshape_transform=to_float) as cam:
            raw = cam(input_tensor=inputs, targets=list(targets))
            logits = cam.outputs.detach().float().cpu().numpy()
    return CamBatch(np.asarray(raw, dtype=np.float32), logits, method, spec.cam_layer)
