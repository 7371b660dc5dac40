"""The chest study's detector families, built from a registry spec under one contract.

Families: torchvision Faster R-CNN and FCOS on a ResNet18-FPN
(:mod:`.torchvision_families`), EfficientDet from ``effdet`` (:mod:`.effdet_family`) and,
where the ``yolox`` package is installed, YOLOX (:mod:`.yolox_family`). Every built detector
follows the torchvision detection contract of :mod:`.base` (grey ``[B, 1, H, W]`` in
[0, 1]; a loss dict in train mode; per-image ``boxes/scores/labels`` in input pixels in
eval mode, labels 0..13), so one training loop, DDP and one evaluation serve them all.
Boxes go back to a film's original pixels with :meth:`core.studies.chest.film.Film.to_original`.

Importing this package registers each family's builder with
:func:`core.models.build.register_builder` and its weight layout with
:func:`core.models.pretrained.register_layout`. The effdet and YOLOX modules are imported
only when one of their models is built, so a process that never builds one never pays for
(or needs) those packages.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable

from torch import nn

from core.models.build import register_builder
from core.models.pretrained import WeightLayout, register_layout
from core.models.registry import ModelSpec, RegistryError
from core.studies.chest.detectors.base import (
    MAX_DETECTIONS,
    SCORE_FLOOR,
    Detections,
    DetectorContractError,
    Targets,
)
from core.studies.chest.detectors.torchvision_families import (
    FCOS_ARCH,
    FRCNN_ARCH,
    build_fasterrcnn,
    build_fcos,
)

__all__ = [
    "DETECTOR_ARCHS",
    "EFFDET_ARCHS",
    "FCOS_ARCH",
    "FRCNN_ARCH",
    "MAX_DETECTIONS",
    "SCORE_FLOOR",
    "YOLOX_ARCHS",
    "Detections",
    "DetectorContractError",
    "Targets",
    "yolox_available",
]

#: effdet and YOLOX architectures (their modules hold the name -> size tables).
EFFDET_ARCHS: tuple[str, ...] = ("effdet:efficientdet_d0", "effdet:tf_efficientdet_lite0")
YOLOX_ARCHS: tuple[str, ...] = ("yolox:yolox_nano", "yolox:yolox_tiny", "yolox:yolox_s")
#: Every detector architecture this package builds.
DETECTOR_ARCHS: tuple[str, ...] = (FRCNN_ARCH, FCOS_ARCH, *EFFDET_ARCHS, *YOLOX_ARCHS)


def yolox_available() -> bool:
    """Whether the ``yolox`` package is installed (it is built from source, docs/yolox.md)."""
    return importlib.util.find_spec("yolox") is not None


def _lazy(module: str, name: str) -> Callable[[ModelSpec], nn.Module]:
    """A builder that imports ``module`` (effdet, yolox) only when a model is built."""

    def build(spec: ModelSpec) -> nn.Module:
        try:
            mod = importlib.import_module(f"core.studies.chest.detectors.{module}")
        except ImportError as exc:
            raise RegistryError(f"{spec.key}: {spec.arch} needs a package not installed ({exc})")
        return getattr(mod, name)(spec)

    build.__name__ = f"build_{module}"
    return build


_RESNET18_FPN = WeightLayout(backbone="backbone.body.", stem="backbone.body.conv1.weight")
for _arch, _builder in ((FRCNN_ARCH, build_fasterrcnn), (FCOS_ARCH, build_fcos)):
    register_builder(_arch, _builder)
    register_layout(_arch, _RESNET18_FPN)
for _arch in EFFDET_ARCHS:
    register_builder(_arch, _lazy("effdet_family", "build_effdet"))
    register_layout(_arch, WeightLayout(backbone="backbone.", stem="backbone.conv_stem.weight"))
for _arch in YOLOX_ARCHS:
    register_builder(_arch, _lazy("yolox_family", "build_yolox"))
    register_layout(
        _arch,
        WeightLayout(
            backbone="backbone.backbone.", stem="backbone.backbone.stem.conv.conv.weight",
            stem_groups=4,
        ),
    )  # fmt: skip
