"""The aneurysm study's networks in the model registry: stage 1, anterior, posterior.

Three sizes per family:

* ``*_full``: the original pipeline (ResNet18 at 724x724 for stage 1, timm
  ``swinv2_cr_tiny_ns_224`` and torchvision ResNet18 at 224x224 for stage 2).
* ``*_demo``: the same families made to learn on a 2-core CPU in minutes from a synthetic
  cohort, with no pretrained weights to start from. All three see the stage-1 input (so
  the location models can start from the trained stage-1 network) at 256 px and use the
  ``cell_max`` head (:mod:`core.models.heads`). The demo SwinV2-CR is a *hybrid*: its
  patch embedding is the stem of a ResNet18 (conv1 to layer2, stride 8) followed by three
  narrow SwinV2-CR stages; a SwinV2 trained from scratch on a few hundred images learns
  nothing in that budget (measured: location macro AUROC 0.55 against 0.86 for the
  hybrid). **Demo != full architecture**; numbers from a demo bundle say nothing about the
  full models.
* ``*_tiny``: 64-pixel versions of the demo entries, for unit tests only.
"""

from __future__ import annotations

from typing import Any, Literal

from core.models.heads import Head
from core.models.registry import InputSpec, ModelSpec, register
from core.schema import ORIGINAL_GROUPS, CirculationGroups
from core.studies.aneurysm import ROLES

__all__ = ["Role", "ROLES", "STAGE1_LABELS", "SWINV2_CR", "RESNET18", "default_keys"]

#: The type of the aneurysm study's roles (``core.studies.aneurysm.ROLES`` lists them).
Role = Literal["stage1", "anterior", "posterior"]
STAGE1_LABELS: tuple[str, ...] = ("Aneurysm",)

#: timm name of the original anterior model; the demo/tiny variants override its widths.
SWINV2_CR = "timm:swinv2_cr_tiny_ns_224"
#: torchvision ResNet18 (the stage-1 variant gets a one-channel stem and one logit).
RESNET18 = "torchvision:resnet18"
#: Grey-scale stats for ImageNet-initialised stage-2 models (mean of the RGB stats), so an
#: RGB stem whose kernels are summed to one channel sees inputs on the scale it expects.
_GREY_MEAN, _GREY_STD = (0.449,), (0.226,)


Size = tuple[int, int]
Groups = CirculationGroups


def default_keys(profile: Literal["full", "demo", "tiny"]) -> dict[Role, str]:
    """The registry key per role for a profile: ``{"stage1": "stage1_resnet18_demo", ...}``."""
    keys = {
        "stage1": "stage1_resnet18",
        "anterior": "anterior_swinv2_cr",
        "posterior": "posterior_resnet18",
    }
    return {role: f"{k}_{profile}" for role, k in keys.items()}  # type: ignore[misc]


# ---- builders: one per family ---------------------------------------------------------


def _stage1_input(size: Size) -> InputSpec:
    """The stage-1 input: bitwise_not and medianBlur(3), the original 0.5/0.5 normalisation."""
    return InputSpec(size=size, in_chans=1, mean=(0.5,), std=(0.5,), stage1_transform=True)


def _stage1_resnet(key: str, size: Size, note: str, head: Head = "avg") -> ModelSpec:
    """Binary ResNet18, one input channel, one logit."""
    return ModelSpec(
        key=key, arch=RESNET18, role="stage1", labels=STAGE1_LABELS, input=_stage1_input(size),
        cam_layer="layer4", note=note, head=head,
    )  # fmt: skip


def _posterior_resnet(
    key: str, size: Size, groups: Groups, note: str, input: InputSpec | None = None,
    head: Head = "avg",
) -> ModelSpec:  # fmt: skip
    grey = InputSpec(size=size, in_chans=1, mean=_GREY_MEAN, std=_GREY_STD)
    return ModelSpec(
        key=key, arch=RESNET18, role="posterior", labels=groups.posterior, input=input or grey,
        cam_layer="layer4", note=note, head=head,
    )  # fmt: skip


def _anterior_swin(
    key: str, size: Size, groups: Groups, note: str, input: InputSpec | None = None,
    head: Head = "avg", stem: str | None = None, **widths: Any,
) -> ModelSpec:  # fmt: skip
    """timm SwinV2-CR. CAM hooks the last block of the last stage, which is channels-last
    (B, H, W, C) in timm 1.0.31 (checked empirically; the stage itself returns NCHW), hence
    the ``bhwc_to_bchw`` reshape."""
    depths = widths.get("depths", (2, 2, 6, 2))
    grey = InputSpec(size=size, in_chans=1, mean=_GREY_MEAN, std=_GREY_STD)
    return ModelSpec(
        key=key, arch=SWINV2_CR, role="anterior", labels=groups.anterior, input=input or grey,
        cam_layer=f"stages.{len(depths) - 1}.blocks.{depths[-1] - 1}",
        cam_reshape="bhwc_to_bchw", arch_kwargs={"img_size": size, **widths}, note=note,
        head=head, stem=stem,
    )  # fmt: skip


# ---- entries ---------------------------------------------------------------------------

_DEMO_NOTE = (
    "demo profile: same families, 256-px stage-1 input, cell_max heads; not the full model"
)
#: The tiny entries are the demo entries at 64 px and the narrowest widths, so the unit
#: tests exercise what the demo bundle runs (heads, hybrid stem, shared stage-1 input).
_TINY_NOTE = "unit-test size only (64-pixel input)"
_HYBRID = "resnet18:layer2"


@register
def stage1_resnet18_full(size: Size = (724, 724), groups: Groups = ORIGINAL_GROUPS) -> ModelSpec:
    note = "original: ResNet18, 1 channel, 724x724 (MedicalNet init optional)"
    return _stage1_resnet("stage1_resnet18_full", size, note)


@register
def stage1_resnet18_demo(size: Size = (256, 256), groups: Groups = ORIGINAL_GROUPS) -> ModelSpec:
    return _stage1_resnet("stage1_resnet18_demo", size, _DEMO_NOTE, head="cell_max")


@register
def stage1_resnet18_tiny(size: Size = (64, 64), groups: Groups = ORIGINAL_GROUPS) -> ModelSpec:
    return _stage1_resnet("stage1_resnet18_tiny", size, _TINY_NOTE, head="cell_max")


@register
def anterior_swinv2_cr_full(size: Size = (224, 224), groups: Groups = ORIGINAL_GROUPS) -> ModelSpec:
    note = "original: timm swinv2_cr_tiny_ns_224"
    return _anterior_swin("anterior_swinv2_cr_full", size, groups, note)


@register
def anterior_swinv2_cr_demo(size: Size = (256, 256), groups: Groups = ORIGINAL_GROUPS) -> ModelSpec:
    return _anterior_swin(
        "anterior_swinv2_cr_demo", size, groups,
        _DEMO_NOTE + " (hybrid: ResNet18 stem to layer2, then SwinV2-CR stages 64-128-256 wide)",
        input=_stage1_input(size), head="cell_max", stem=_HYBRID,
        patch_size=8, window_size=4, embed_dim=64, depths=(2, 2, 2), num_heads=(2, 4, 8),
    )  # fmt: skip


@register
def anterior_swinv2_cr_tiny(size: Size = (64, 64), groups: Groups = ORIGINAL_GROUPS) -> ModelSpec:
    return _anterior_swin(
        "anterior_swinv2_cr_tiny", size, groups, _TINY_NOTE,
        input=_stage1_input(size), head="cell_max", stem=_HYBRID,
        patch_size=8, window_size=4, embed_dim=16, depths=(1, 1, 1), num_heads=(1, 1, 2),
    )  # fmt: skip


@register
def posterior_resnet18_full(size: Size = (224, 224), groups: Groups = ORIGINAL_GROUPS) -> ModelSpec:
    note = "original: torchvision resnet18 at 224x224"
    return _posterior_resnet("posterior_resnet18_full", size, groups, note)


@register
def posterior_resnet18_demo(size: Size = (256, 256), groups: Groups = ORIGINAL_GROUPS) -> ModelSpec:
    return _posterior_resnet(
        "posterior_resnet18_demo", size, groups, _DEMO_NOTE,
        input=_stage1_input(size), head="cell_max",
    )  # fmt: skip


@register
def posterior_resnet18_tiny(size: Size = (64, 64), groups: Groups = ORIGINAL_GROUPS) -> ModelSpec:
    return _posterior_resnet(
        "posterior_resnet18_tiny", size, groups, _TINY_NOTE,
        input=_stage1_input(size), head="cell_max",
    )  # fmt: skip
