"""Heatmaps for chest detectors: EigenCAM, through pytorch-grad-cam.

A detector has no single class logit to take a gradient of, so the method that works for
every family without a target is EigenCAM: the first principal component of the
activations at the spec's ``cam_layer`` (the backbone's last stage), scaled to the input.
It shows where the backbone's dominant features are, **not** why a given box was
predicted: class-agnostic, one map per film. pytorch-grad-cam's Faster R-CNN box-score
target (Grad-CAM for one box, :func:`frcnn_box_gradcam`) is the per-box alternative for the
Faster R-CNN family: the gradient of that box's score (matched again by IoU and class)
with respect to the same layer.

Both hold the model's own lock (:func:`core.cam.engine.model_lock`) while their hooks are
on it: the bundle's models are shared by every session.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pytorch_grad_cam import EigenCAM, GradCAM
from pytorch_grad_cam.utils.model_targets import FasterRCNNBoxScoreTarget
from torch import nn

from core.cam.engine import model_lock
from core.models.model_thread import on_model_thread
from core.models.registry import ModelSpec

__all__ = [
    "METHOD",
    "LIMITS",
    "GRADCAM_METHOD",
    "GRADCAM_LIMITS",
    "BoxNotFound",
    "detector_eigencam",
    "frcnn_box_gradcam",
]

METHOD = "EigenCAM"
#: What the map can and cannot say, for the UI and reports.
LIMITS = (
    "EigenCAM shows the first principal component of the backbone's last-stage features: "
    "where the network's dominant features are, the same map for every box and class. It "
    "is not evidence for any one box."
)
GRADCAM_METHOD = "Grad-CAM (box score)"
GRADCAM_LIMITS = (
    "Grad-CAM for one box: the gradient of that box's score (the Faster R-CNN member's box "
    "of the same class at IoU > 0.5, plus that IoU) with respect to the backbone's last "
    "stage, averaged per channel. It is coarse (the last stage is 1/32 of the input), it "
    "shows the Faster R-CNN member only (not the fused ensemble), and a box that member "
    "does not find again has no map."
)


class BoxNotFound(ValueError):
    """The detector does not find the chosen box again, so there is no score to explain."""


class _AnyTarget:
    """EigenCAM takes no gradient, so its target is never evaluated; pytorch-grad-cam only
    needs one per image to skip taking an argmax of a detector's list of dicts."""

    def __call__(self, output: Any) -> torch.Tensor:
        return torch.zeros(())


@on_model_thread
def detector_eigencam(model: nn.Module, spec: ModelSpec, x: torch.Tensor) -> np.ndarray:
    """``(B, H, W)`` float32 maps in [0, 1] for ``x`` (``[B, 1, H, W]`` in [0, 1])."""
    layer = model.get_submodule(spec.cam_layer)
    with model_lock(model):
        was_training = model.training
        model.eval()
        try:
            with EigenCAM(model, [layer]) as cam:
                maps = cam(x, targets=[_AnyTarget() for _ in range(len(x))])
        finally:
            model.train(was_training)
    return np.asarray(maps, dtype=np.float32)


@on_model_thread
def frcnn_box_gradcam(
    model: nn.Module, spec: ModelSpec, x: torch.Tensor, box: np.ndarray, label: int,
    iou_threshold: float = 0.5,
) -> np.ndarray:  # fmt: skip
    """``(H, W)`` float32 Grad-CAM map in [0, 1] of one box's score, for ``x``
    (``[1, 1, H, W]`` in [0, 1]); ``box`` is ``x0 y0 x1 y1`` in ``x``'s pixels and
    ``label`` its class id (0-13). Raises :class:`BoxNotFound` when no output box of that
    class overlaps it by more than ``iou_threshold`` (there is no score to take a
    gradient of)."""
    layer = model.get_submodule(spec.cam_layer)
    target = FasterRCNNBoxScoreTarget([int(label)], [np.asarray(box, np.float32)], iou_threshold)
    with model_lock(model):
        was_training = model.training
        model.eval()
        try:
            with torch.enable_grad(), GradCAM(model, [layer]) as cam:
                maps = cam(x, targets=[target])
        except RuntimeError as err:  # the target is a constant 0: nothing to differentiate
            if "does not require grad" not in str(err):
                raise
            raise BoxNotFound(
                "the Faster R-CNN member does not find this box again (same class, IoU > "
                f"{iou_threshold:g}), so it has no score to explain"
            ) from None
        finally:
            model.train(was_training)
    return np.asarray(maps, dtype=np.float32)[0]
