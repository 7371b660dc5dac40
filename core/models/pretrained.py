"""Initialise a network from a local ImageNet weight file (timm or torchvision).

Nothing here downloads: the user gives a path. Files are read with safetensors, or with
``torch.load(weights_only=True)`` for ``.pth``/``.pt`` (tensors only, no code execution).
Tensors are matched by name after stripping wrapper prefixes; an RGB stem is adapted to the
model's channel count by timm's ``adapt_input_conv`` (a one-channel stem sums the RGB
kernels, so a grey image gives the response the RGB network gave to the same grey image);
the ImageNet classifier head, whose shape differs, is dropped. The report says what loaded,
and a file from which nothing loads raises :class:`NoMatchingWeights`.

Detectors (:func:`load_detector_weights`) take a local COCO file of the same family (names
as the model's own) or an ImageNet classifier file of its backbone (names without the
backbone's prefix, which is added); each detector architecture says where its backbone and
stem sit with a :class:`WeightLayout`, registered by the module that builds it.
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

from core.models.registry import ModelSpec, _load_builtin

__all__ = [
    "WeightsError",
    "NoMatchingWeights",
    "LoadReport",
    "read_state_dict",
    "strip_prefix",
    "load_into",
    "load_imagenet",
    "WeightLayout",
    "register_layout",
    "adapt_stem",
    "load_detector_weights",
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


@dataclass(frozen=True)
class WeightLayout:
    """Where a detector's parts sit in its state dict, for mapping pretrained files.

    ``backbone`` prefixes the tensors of its classification backbone (an ImageNet file
    names them without it); ``stem`` is the first convolution's weight, the one tensor
    whose input channels may differ (RGB file, grey model); ``stem_groups`` is how many
    RGB copies that convolution sees side by side (YOLOX's ``Focus`` stacks 4 shifted
    copies of the image, so its 12 RGB channels become 4 grey ones).
    """

    backbone: str
    stem: str
    stem_groups: int = 1


_LAYOUTS: dict[str, WeightLayout] = {}


def register_layout(arch: str, layout: WeightLayout) -> WeightLayout:
    """Say where ``arch``'s backbone and stem are (called by the module that builds it)."""
    _LAYOUTS[arch] = layout
    return layout


def adapt_stem(weight: torch.Tensor, in_chans: int, groups: int = 1) -> torch.Tensor:
    """A first-convolution weight for ``in_chans`` input channels (in ``groups`` side-by-side
    copies): each group's RGB kernels are adapted by timm's ``adapt_input_conv`` (summed
    for one channel)."""
    out, file_chans = weight.shape[:2]
    if file_chans % groups or in_chans % groups:
        raise WeightsError(f"stem of {file_chans} channels cannot split into {groups} groups")
    parts = weight.reshape(out, groups, file_chans // groups, *weight.shape[2:]).unbind(1)
    return torch.cat([adapt_input_conv(in_chans // groups, p) for p in parts], dim=1)


def load_detector_weights(model: nn.Module, spec: ModelSpec, path: str | Path) -> LoadReport:
    """Initialise a detector built from ``spec`` from a local COCO or ImageNet weight file.

    Tensors are matched by name, as the file names them (a detector checkpoint of the same
    family) or under the backbone's prefix (a classifier checkpoint of the backbone),
    whichever fits more; the stem is adapted to the model's channels; class-specific
    heads, whose shapes differ (91 or 80 COCO classes against 14), are skipped and said so.
    """
    if spec.arch not in _LAYOUTS:
        _load_builtin()
    layout = _LAYOUTS.get(spec.arch)
    if layout is None:
        raise WeightsError(f"{spec.arch}: no weight layout registered for this architecture")
    state = strip_prefix(read_state_dict(path))
    target = model.state_dict()
    prefixed = {layout.backbone + k: v for k, v in state.items()}
    if sum(k in target for k in prefixed) > sum(k in target for k in state):
        state = prefixed
    report = LoadReport(source=str(path))
    stem = layout.stem
    if stem in state and stem in target and state[stem].shape[1] != target[stem].shape[1]:
        try:
            state[stem] = adapt_stem(state[stem], target[stem].shape[1], layout.stem_groups)
            report.adapted.append(stem)
        except (WeightsError, NotImplementedError) as exc:
            report.skipped[stem] = f"stem not adaptable ({exc})"
    return load_into(model, state, report)
