"""From cleaned crops to model input tensors, and the record of it that a bundle keeps.

The input spec of each model (size, channels, mean/std, stage-1 transform) comes from its
registry entry, so preprocessing is derived from the model and never written twice. The
pixel operations are :mod:`core.preprocess.transforms`, the same ones the trainer caches
(``core.training.data.model_array``): stage-1 transform at full resolution, then resize,
then ``(x / 255 - mean) / std``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch

from core.models.registry import InputSpec, ModelSpec
from core.preprocess.params import DEFAULT_PARAMS, RECORD_KEY
from core.preprocess.transforms import stage1_input, to_model_tensor

__all__ = ["STAGE1_TRANSFORM", "RESIZE_RULE", "model_batch", "preprocessing_record"]

#: What ``InputSpec.stage1_transform`` means, recorded in every bundle.
STAGE1_TRANSFORM = "cv2.bitwise_not then cv2.medianBlur(ksize=3), full resolution, before resize"
#: The one resize rule (core.preprocess.transforms.resize_square).
RESIZE_RULE = "cv2.resize to the model size: INTER_AREA when shrinking, INTER_LINEAR when enlarging"


def model_batch(
    images: Sequence[np.ndarray], spec: InputSpec, device: torch.device | None = None
) -> torch.Tensor:
    """Cleaned uint8 crops (any sizes) -> one normalised ``(N, C, H, W)`` float tensor,
    channels-last like the bundle's models (:func:`core.models.bundle.load_bundle`)."""
    if spec.size[0] != spec.size[1]:
        raise ValueError(f"models take square inputs; got {spec.size}")
    planes = [stage1_input(img) if spec.stage1_transform else img for img in images]
    arr = to_model_tensor(planes, spec.size[0], spec.mean, spec.std, spec.in_chans)
    x = torch.from_numpy(arr).to(device or "cpu")
    return x.contiguous(memory_format=torch.channels_last)


def preprocessing_record(specs: Mapping[str, ModelSpec]) -> dict[str, Any]:
    """The ``preprocessing`` field of ``bundle.json``: what a model's input went through."""
    return {
        RECORD_KEY: {"module": "core.preprocess", "params": DEFAULT_PARAMS.to_record()},
        "stage1_transform": STAGE1_TRANSFORM,
        "resize": RESIZE_RULE,
        "per_role": {
            role: {
                "stage1_transform": spec.input.stage1_transform,
                "size_hw": list(spec.input.size),
                "in_chans": spec.input.in_chans,
                "mean": list(spec.input.mean),
                "std": list(spec.input.std),
            }
            for role, spec in specs.items()
        },
    }
