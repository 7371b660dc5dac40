"""Build a torch module from a :class:`~core.models.registry.ModelSpec`.

Architectures outside this module (a study's detectors) plug in through
:func:`register_builder`; the registry's built-in modules register theirs on import, and
:func:`build_model` loads them before it dispatches, so a spec read from a bundle builds in
a fresh process. This module imports no study.

Never reaches for a hub: timm models are created with ``pretrained=False`` and torchvision
models with ``weights=None``, and every spec passes :func:`check_spec` first, so only the
architectures and arguments of :data:`core.models.spec_checks.ARCHITECTURES` reach timm
(a ``hf-hub:`` name or a ``checkpoint_path`` argument never does). Pretrained weights
come only from local files, through :mod:`core.models.medicalnet` and
:mod:`core.models.pretrained`, or from a trained stage-1 network through
:func:`load_stage1_stem`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import timm
import torch
from torch import nn
from torchvision.models import resnet18

from core.models.heads import CellMaxLinear
from core.models.registry import STEMS, ModelSpec, RegistryError, _load_builtin, get_spec
from core.models.spec_checks import ARCHITECTURES, SpecRefused, check_spec_dict

__all__ = [
    "STAGE1_STEM_LAYERS",
    "Builder",
    "register_builder",
    "build_model",
    "build_from_key",
    "check_spec",
    "stem_modules",
    "load_stage1_stem",
    "set_input_side",
    "classifier_head",
]

#: The stage-1 ResNet18 layers a location model can start from (the ResNet stem to layer2).
STAGE1_STEM_LAYERS = ("conv1", "bn1", "layer1", "layer2")


#: Builds the network of a spec (already checked); registered per architecture.
Builder = Callable[[ModelSpec], nn.Module]
_BUILDERS: dict[str, Builder] = {}


def register_builder(arch: str, fn: Builder) -> Builder:
    """Make :func:`build_model` build ``arch`` with ``fn``; returns ``fn``.

    The architecture must already be allow-listed in
    :data:`core.models.spec_checks.ARCHITECTURES` (with the arguments it may take), so a
    builder never widens what a bundle from someone else can ask for.
    """
    if arch not in ARCHITECTURES:
        raise RegistryError(f"{arch!r} is not in spec_checks.ARCHITECTURES: allow-list it first")
    _BUILDERS[arch] = fn
    return fn


def _registered_builder(arch: str) -> Builder | None:
    """The builder registered for ``arch``, importing the registry's built-in modules
    first (they register the builders of their studies)."""
    if arch not in _BUILDERS:
        _load_builtin()
    return _BUILDERS.get(arch)


def _resnet18(in_chans: int, num_classes: int, **kwargs: object) -> nn.Module:
    model = resnet18(weights=None, num_classes=num_classes, **kwargs)
    if in_chans != 3:
        model.conv1 = nn.Conv2d(in_chans, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


def _resnet_stem(in_chans: int, last: str) -> nn.Sequential:
    """ResNet18 layers up to ``last``, keeping their names so stage-1 weights map by name."""
    r = _resnet18(in_chans, 1)
    names = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
    keep = names[: names.index(last) + 1]
    return nn.Sequential(OrderedDict((n, getattr(r, n)) for n in keep))


def _torchvision_resnet18(spec: ModelSpec) -> nn.Module:
    """torchvision ResNet18 with the stem adapted to ``in_chans`` and a fresh head."""
    model = _resnet18(spec.input.in_chans, spec.num_outputs, **spec.arch_kwargs)
    if spec.head == "cell_max":
        model.avgpool = nn.Identity()
        model.fc = CellMaxLinear(model.fc.in_features, spec.num_outputs)
    return model


def _timm(spec: ModelSpec) -> nn.Module:
    name = spec.arch.split(":", 1)[1]
    model = timm.create_model(
        name,
        pretrained=False,
        num_classes=spec.num_outputs,
        in_chans=spec.input.in_chans,
        **spec.arch_kwargs,
    )
    if spec.stem is not None:
        last, channels, _ = STEMS[spec.stem]
        embed = model.patch_embed.proj.out_channels
        model.patch_embed.proj = nn.Sequential(
            OrderedDict(
                stem=_resnet_stem(spec.input.in_chans, last),
                proj=nn.Conv2d(channels, embed, kernel_size=1),
            )
        )
    if spec.head == "cell_max":
        model.head.global_pool = nn.Identity()
        model.head.fc = CellMaxLinear(model.head.fc.in_features, spec.num_outputs)
    return model


def check_spec(spec: ModelSpec) -> None:
    """Refuse (:class:`RegistryError`) a spec whose architecture, arguments, input or label
    count this app does not build; the same rules as reading a bundle's spec, applied here
    too because a spec can also be made in code."""
    try:
        check_spec_dict(spec.to_dict())
    except SpecRefused as exc:
        raise RegistryError(f"spec {spec.key!r} refused: {exc}") from exc


def build_model(spec: ModelSpec, *, seed: int | None = None) -> nn.Module:
    """A randomly initialised network for ``spec`` (train mode, CPU), after
    :func:`check_spec`.

    ``seed`` makes the initialisation reproducible without touching the global RNG state
    of the caller.
    """
    check_spec(spec)
    family, _, name = spec.arch.partition(":")
    with torch.random.fork_rng(enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        if spec.arch == "torchvision:resnet18":
            return _torchvision_resnet18(spec)
        if family == "timm" and name:
            return _timm(spec)
        builder = _registered_builder(spec.arch)
        if builder is not None:
            return builder(spec)
    raise RegistryError(f"{spec.key}: no builder for architecture {spec.arch!r}")


def build_from_key(key: str, *, seed: int | None = None, **spec_kwargs: object) -> nn.Module:
    """Shortcut: ``build_model(get_spec(key, **spec_kwargs))``."""
    return build_model(get_spec(key, **spec_kwargs), seed=seed)  # type: ignore[arg-type]


def stem_modules(model: nn.Module, spec: ModelSpec) -> dict[str, nn.Module]:
    """The modules of ``model`` that mirror the stage-1 ResNet18's conv1..layer2, by name.

    A torchvision ResNet18 has them at the top; a timm model with a ``resnet18`` stem has
    them inside its patch embedding. Anything else has none to share.
    """
    if spec.arch == "torchvision:resnet18":
        root = model
    elif spec.stem is not None:
        root = model.get_submodule("patch_embed.proj.stem")
    else:
        raise RegistryError(f"{spec.key}: has no ResNet18 stem to share with stage 1")
    return {n: root.get_submodule(n) for n in STAGE1_STEM_LAYERS}


def load_stage1_stem(model: nn.Module, spec: ModelSpec, stage1: nn.Module) -> int:
    """Copy the trained stage-1 network's conv1..layer2 into ``model``; tensors copied.

    Both must take the same input (channels and the stage-1 transform), else the copied
    filters would look at a different picture than the one they were trained on.
    """
    target = stem_modules(model, spec)
    copied = 0
    for name, module in target.items():
        state = stage1.get_submodule(name).state_dict()
        module.load_state_dict(state)
        copied += len(state)
    return copied


def set_input_side(model: nn.Module, spec: ModelSpec, side: int) -> None:
    """Let a timm SwinV2-CR take ``side`` x ``side`` inputs (patch training, then back).

    The weights do not depend on the input size (SwinV2-CR's relative position bias is a
    small network of log-spaced coordinates); only the attention masks and coordinate
    buffers are rebuilt, with the spec's window size kept. CNNs take any size as they are.
    """
    if hasattr(model, "set_input_size") and spec.arch.startswith("timm:"):
        model.set_input_size(img_size=(side, side), window_size=spec.arch_kwargs.get("window_size"))


def classifier_head(model: nn.Module) -> nn.Linear:
    """The final linear layer (timm's ``get_classifier()``, torchvision's ``fc``)."""
    head = model.get_classifier() if hasattr(model, "get_classifier") else model.fc
    if not isinstance(head, nn.Linear):
        raise RegistryError(f"classifier is a {type(head).__name__}, not a linear layer")
    return head
