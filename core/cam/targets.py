"""Explicit CAM targets: one per image, never the library's "top class" default.

Stage 1 has one sigmoid output. Its target is the **raw logit** of that output (index 0),
whatever the prediction: the map shows evidence *for* an aneurysm. Not the sigmoid, whose
gradient vanishes for confident predictions; not the negated logit for negative
predictions, which would explain "no aneurysm" and invert the meaning of a warm colour.
A strongly negative view therefore gets a weak, possibly empty map, which is honest.

Stage 2 targets one location of the view's own model (anterior for I views, posterior for V
views), again by raw logit through ``ClassifierOutputTarget``.
"""

from __future__ import annotations

from typing import Sequence

from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from core.models.registry import ModelSpec

__all__ = ["stage1_targets", "location_index", "location_targets", "ClassifierOutputTarget"]


def stage1_targets(n: int) -> list[ClassifierOutputTarget]:
    """``n`` targets on the stage-1 positive logit (one per image of the batch)."""
    return [ClassifierOutputTarget(0) for _ in range(n)]


def location_index(spec: ModelSpec, base: str) -> int:
    """Output index of a base location (e.g. ``MCA``) in a stage-2 model."""
    if base not in spec.labels:
        raise ValueError(
            f"{spec.key} ({spec.role}) does not predict {base!r}; it predicts {spec.labels}"
        )
    return spec.labels.index(base)


def location_targets(spec: ModelSpec, bases: Sequence[str]) -> list[ClassifierOutputTarget]:
    """One target per image: ``bases[i]`` is the location explained for image ``i``."""
    return [ClassifierOutputTarget(location_index(spec, b)) for b in bases]
