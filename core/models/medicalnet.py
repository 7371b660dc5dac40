"""Initialise the 2-D stage-1 ResNet18 from MedicalNet's 3-D ``resnet_18.pth``.

MedicalNet ("Med3D") ResNets were pretrained on 3-D medical volumes. Their checkpoint keys
carry DataParallel's ``module.`` prefix, convolutions are 5-D ``(out, in, d, h, w)`` (a
7x7x7 stem, 3x3x3 blocks, 1x1x1 shortcuts), and a segmentation head ``conv_seg`` sits where
a classifier would be. The original pipeline called ``load_state_dict(strict=False)`` on the
raw file and so silently loaded nothing.

Depth rule, **sum over depth**: ``W2d[o, i, h, w] = sum_d W3d[o, i, d, h, w]``. For a volume
that repeats the image along depth, ``V(d, h, w) = I(h, w)``, a 3-D convolution gives, at
every depth away from the borders, ``sum_d sum_hw W3d[d] I = sum_hw (sum_d W3d[d]) I``: the
2-D convolution with the summed kernel. Each layer's output is again depth-constant, and
batch-norm statistics per channel are unchanged, so the converted 2-D network on an image
reproduces the 3-D network on that image stacked into a volume. (Averaging would divide
every layer's response by the depth, which batch norm partly but not exactly undoes.)

Known differences, not fixable by conversion: MedicalNet's layer3/layer4 use dilation with
stride 1 where torchvision's use stride 2, and MedicalNet normalised each volume to zero
mean and unit variance, while stage 1 uses mean 0.5 / std 0.5. The weights are a starting
point for fine-tuning, not a ready classifier; the ``fc`` layer stays randomly initialised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from core.models.pretrained import LoadReport, load_into, read_state_dict, strip_prefix

__all__ = ["collapse_depth", "convert_medicalnet_state", "load_medicalnet"]

#: MedicalNet's segmentation decoder; it has no counterpart in a classifier.
_SEG_HEAD = "conv_seg."


def collapse_depth(weight: torch.Tensor) -> torch.Tensor:
    """``(out, in, d, h, w)`` -> ``(out, in, h, w)`` by summing over depth (see module doc)."""
    if weight.ndim != 5:
        raise ValueError(f"expected a 5-D convolution kernel, got shape {tuple(weight.shape)}")
    return weight.sum(dim=2)


def convert_medicalnet_state(
    state: Mapping[str, torch.Tensor], report: LoadReport
) -> dict[str, torch.Tensor]:
    """Strip ``module.``, drop the segmentation head, collapse every 5-D kernel to 2-D.

    Batch-norm tensors (weights, biases, running statistics, counters) are copied as they
    are. Dropped and converted keys are recorded in ``report``.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in strip_prefix(state).items():
        if key.startswith(_SEG_HEAD):
            report.skipped[key] = "MedicalNet segmentation head (no classifier counterpart)"
        elif value.ndim == 5:
            out[key] = collapse_depth(value)
            report.adapted.append(key)
        else:
            out[key] = value
    return out


def load_medicalnet(model: nn.Module, path: str | Path) -> LoadReport:
    """Load a local MedicalNet ``resnet_18.pth`` into a one-channel 2-D ResNet18.

    Returns the report (also logged). Raises
    :class:`~core.models.pretrained.NoMatchingWeights` when not one tensor fits, e.g. a
    ResNet50 file or a file that is not MedicalNet at all.
    """
    report = LoadReport(source=str(path))
    converted = convert_medicalnet_state(read_state_dict(path), report)
    load_into(model, converted, report)
    report.adapted = [k for k in report.adapted if k in report.loaded]
    return report
