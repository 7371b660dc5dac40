"""CAM methods by name, adapted for a shared review app.

Each class in :data:`METHODS` is the pytorch-grad-cam method with three changes, made in one
mixin so every method gets them:

* **Raw maps.** ``scale_cam_image`` min-max normalises each map on its own, so colours
  cannot be compared across views. These classes return the ReLU'd map at the hooked
  layer's resolution, unnormalised; :mod:`core.cam.mapping` resizes and scales (per view or
  on a scale shared by all views).
* **Gradients start at the hooked layer.** The layer's output is detached into a leaf that
  requires grad, so backward never walks the backbone below it and never needs parameter
  gradients: bundle models stay frozen (``requires_grad=False``), CAM costs about one
  forward pass, and a shared model's parameters are never written to.
* **Exceptions propagate.** The library's ``__exit__`` swallows ``IndexError`` and prints;
  ours releases the hooks and lets every exception through.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM
from pytorch_grad_cam.activations_and_gradients import ActivationsAndGradients
from pytorch_grad_cam.base_cam import BaseCAM
from torch import nn

__all__ = ["METHODS", "DEFAULT_METHOD", "method_class"]


class _LeafActivations(ActivationsAndGradients):
    """Records the hooked output after making it a grad-requiring leaf (see module doc)."""

    def save_activation(self, module: nn.Module, input: Any, output: torch.Tensor) -> torch.Tensor:
        leaf = output.detach().requires_grad_(True)
        super().save_activation(module, input, leaf)
        return leaf  # a forward hook's return value replaces the output downstream


class _RawCamMixin(BaseCAM):
    """Overrides shared by every method; see the module docstring."""

    def __init__(
        self,
        model: nn.Module,
        target_layers: list[nn.Module],
        reshape_transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__(model, target_layers, reshape_transform)
        self.activations_and_grads.release()  # replace the library's hooks by ours
        self.activations_and_grads = _LeafActivations(model, target_layers, reshape_transform)

    def compute_cam_per_layer(
        self, input_tensor: torch.Tensor, targets: list[Any], eigen_smooth: bool
    ) -> list[np.ndarray]:
        acts = [a.cpu().numpy() for a in self.activations_and_grads.activations]
        grads = [g.cpu().numpy() for g in self.activations_and_grads.gradients]
        return [
            np.maximum(
                self.get_cam_image(
                    input_tensor, layer, targets, acts[i], grads[i] if i < len(grads) else None,
                    eigen_smooth,
                ),
                0,
            ).astype(np.float32)
            for i, layer in enumerate(self.target_layers)
        ]  # fmt: skip

    def aggregate_multi_layers(self, cam_per_target_layer: list[np.ndarray]) -> np.ndarray:
        return np.mean(np.stack(cam_per_target_layer, axis=1), axis=1)

    def __exit__(self, exc_type: Any, exc_value: Any, exc_tb: Any) -> bool:
        self.activations_and_grads.release()
        return False


def _raw(cls: type[BaseCAM]) -> type[BaseCAM]:
    return type(f"Raw{cls.__name__}", (_RawCamMixin, cls), {"__doc__": cls.__doc__})


#: Method name -> class. Names are what the UI and the CLI accept.
METHODS: dict[str, type[BaseCAM]] = {
    "gradcam": _raw(GradCAM),
    "gradcam++": _raw(GradCAMPlusPlus),
    "hirescam": _raw(HiResCAM),
    "eigencam": _raw(EigenCAM),
    "layercam": _raw(LayerCAM),
}
DEFAULT_METHOD = "gradcam"


def method_class(name: str) -> type[BaseCAM]:
    key = name.lower()
    if key not in METHODS:
        raise KeyError(f"unknown CAM method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[key]
