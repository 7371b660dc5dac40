"""Heatmaps for chest detectors: EigenCAM, through pytorch-grad-cam.

A detector has no single class logit to take a gradient of, so the method that works for
every family without a target is EigenCAM: the first principal component of the
activations at the spec's ``cam_layer`` (the backbone's last stage), scaled to the input.
It shows where the backbone's dominant features are, **not** why a given box was
predicted: class-agnostic, one map per film. pytorch-grad-cam's Faster R-CNN box-score
target (Grad-CAM for one box) is the per-box alternative and belongs with the review page.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pytorch_grad_cam import EigenCAM
from torch import nn

from core.models.registry import ModelSpec

__all__ = ["METHOD", "LIMITS", "detector_eigencam"]

METHOD = "EigenCAM"
#: What the map can and cannot say, for the UI and reports.
LIMITS = (
    "EigenCAM shows the first principal component of the backbone's last-stage features: "
    "where the network's dominant features are, the same map for every box and class. It "
    "is not evidence for any one box."
)


class _AnyTarget:
    """EigenCAM takes no gradient, so its target is never evaluated; pytorch-grad-cam only
    needs one per image to skip taking an argmax of a detector's list of dicts."""

    def __call__(self, output: Any) -> torch.Tensor:
        return torch.zeros(())


def detector_eigencam(model: nn.Module, spec: ModelSpec, x: torch.Tensor) -> np.ndarray:
    """``(B, H, W)`` float32 maps in [0, 1] for ``x`` (``[B, 1, H, W]`` in [0, 1])."""
    layer = model.get_submodule(spec.cam_layer)
    was_training = model.training
    model.eval()
    try:
        with EigenCAM(model, [layer]) as cam:
            maps = cam(x, targets=[_AnyTarget() for _ in range(len(x))])
    finally:
        model.train(was_training)
    return np.asarray(maps, dtype=np.float32)
