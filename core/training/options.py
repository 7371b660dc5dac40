"""Everything a training run is told besides its data and profile, in one record."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.schema import ORIGINAL_GROUPS, CirculationGroups

__all__ = ["ThresholdRule", "InitWeights", "TrainOptions"]

#: ``original``: stage-1 median and 90th-percentile locations on training patients;
#: ``youden`` / ``sensitivity``: ROC rules on the same training predictions.
ThresholdRule = Literal["original", "youden", "sensitivity"]


@dataclass(frozen=True)
class InitWeights:
    """Local pretrained files; None trains that network from scratch."""

    medicalnet: Path | None = None  # stage 1: MedicalNet resnet_18.pth (3-D, converted)
    imagenet_timm: Path | None = None  # anterior: timm SwinV2-CR ImageNet weights
    imagenet_tv: Path | None = None  # posterior: torchvision ResNet18 ImageNet weights


@dataclass(frozen=True)
class TrainOptions:
    """Seed, resumption, initial weights, threshold rule, grouping and bookkeeping."""

    seed: int = 0
    resume: bool = False
    init: InitWeights = field(default_factory=InitWeights)
    threshold_rule: ThresholdRule = "original"
    target_sensitivity: float = 0.9
    groups: CirculationGroups = ORIGINAL_GROUPS
    #: Checkpoint folder; None: ``<bundle>.checkpoints`` beside the bundle (bundles refuse
    #: pickle files, and checkpoints are torch pickles read with ``weights_only=True``).
    checkpoints: Path | None = None
    device: str | None = None
    #: Bootstrap resamples for the validation metrics' confidence intervals.
    n_boot: int = 200
