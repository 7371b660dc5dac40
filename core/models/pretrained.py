"""Initialise a network from a local ImageNet weight file (timm or torchvision).

Nothing here downloads: the user gives a path. Files are read with safetensors, or with
``torch.load(weights_only=True)`` for ``.pth``/``.pt`` (tensors only, no code execution).
Tensors are matched by name after stripping wrapper prefixes; an RGB stem is adapted to the
model's channel count by timm's ``adapt_input_conv`` (a one-channel stem sums the RGB
kernels, so a grey image gives the response the RGB network gave to the same grey image);
the ImageNet classifier head, whose shape differs, is dropped. The report says what loaded,
and a file from which nothing loads raises :class:`NoMatchingWeights`.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from timm.models import adapt_input_conv
from timm.models.swin_transformer_v2_cr import checkpoint_filter_fn as swinv2_cr_filter
from torch import nn

from core.models.registry import ModelSpec

__all__ = [
    "WeightsError",
    "NoMatchingWeights",
    "LoadReport",
    "read_state_dict",
    "strip_prefix",
    "load_into",
    "load_imagenet",
]

log = logging.getLogger(__name__)

#: The first convolution of each architecture: the only tensor whose channels may differ.
_STEMS = {
    "torchvision:resnet18": "conv1.weight",
    "timm:swinv2_cr_tiny_ns_224": "patch_embed.proj.weight",
}
_WRAPPERS = ("state_dict", "model", "model_state_dict")


class WeightsError(ValueError):
    """A weight file cannot be read as a flat mapping of tensors."""


class NoMatchingWeights(WeightsError):
    """Not one tensor of the file fits the model: wrong file or wrong architecture."""


@dataclass
class LoadReport:
    """What a weight file contributed to a model, tensor by tensor."""

    source: str
    loaded: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)  # loaded after a conversion
    skipped: dict[str, str] = field(default_factory=dict)  # file key -> reason
    missing: list[str] = field(default_factory=list)  # model keys left at initialisation

    @property
    def n_loaded(self) -> int:
        return len(self.loaded)

    def summary(self) -> str:
        return (
            f"{self.source}: loaded {self.n_loaded} tensors ({len(self.adapted)} adapted), "
            f"skipped {len(self.skipped)}, left {len(self.missing)} model tensors as initialised"
        )


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a local ``.safetensors`` or ``.pth``/``.pt`` file, unwrapped."""
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"{p}: no such weight file")
    try:
        if p.suffix == ".safetensors":
            state: object = load_file(str(p))
        else:
            state = torch.load(p, map_location="cpu", weights_only=True)
    except (SafetensorError, pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise WeightsError(f"{p}: cannot read weights ({exc})") from exc
    while isinstance(state, dict):
        inner = next((state[w] for w in _WRAPPERS if isinstance(state.get(w), dict)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, dict):
        raise WeightsError(f"{p}: expected a mapping of tensors, got {type(state).__name__}")
    tensors = {str(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise WeightsError(f"{p}: no tensors in file")
    return tensors


def strip_prefix(
    state: Mapping[str, torch.Tensor], prefix: str = "module."
) -> dict[str, torch.Tensor]:
    """Drop a DataParallel-style prefix wherever it occurs at the start of a key."""
    return {k.removeprefix(prefix): v for k, v in state.items()}


def load_into(
    model: nn.Module,
    converted: Mapping[str, torch.Tensor],
    report: LoadReport,
) -> LoadReport:
    """Copy the tensors of ``converted`` whose name and shape fit; fill in the report.

    Raises :class:`NoMatchingWeights` when nothing fits, because a silent no-op load is
    the failure this project exists to avoid (the original pipeline loaded nothing).
    """
    target = model.state_dict()
    accepted = {}
    for key, value in converted.items():
        if key in report.skipped:
            continue
        if key not in target:
            report.skipped[key] = "no such tensor in the model"
        elif value.shape != target[key].shape:
            report.skipped[key] = f"shape {tuple(value.shape)} != model {tuple(target[key].shape)}"
        else:
            accepted[key] = value.to(target[key].dtype)
    if not accepted:
        raise NoMatchingWeights(
            f"{report.source}: none of its {len(converted)} tensors fits the model "
            f"(first skipped: {next(iter(report.skipped.items()), None)})"
        )
    model.load_state_dict(accepted, strict=False)
    report.loaded = sorted(accepted)
    report.missing = sorted(k for k in target if k not in accepted)
    log.info(report.summary())
    return report


def load_imagenet(model: nn.Module, spec: ModelSpec, path: str | Path) -> LoadReport:
    """Initialise ``model`` (built from ``spec``) from a local timm/torchvision ImageNet file."""
    state = strip_prefix(read_state_dict(path))
    if spec.arch.startswith("timm:swinv2_cr"):
        state = swinv2_cr_filter(state, model)  # old 'head.'/tau naming of released files
    report = LoadReport(source=str(path))
    stem = _STEMS.get(spec.arch)
    target = model.state_dict()
    if stem in state and stem in target and state[stem].shape[1] != target[stem].shape[1]:
        state[stem] = adapt_input_conv(target[stem].shape[1], state[stem])
        report.adapted.append(stem)
    return load_into(model, state, report)
