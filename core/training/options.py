"""Everything a training run is told besides its data and profile, in one record."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.models.calibration import DEFAULT_TARGET, check_target
from core.models.threshold_rules import DEFAULT_RULE, RuleName, get_threshold_rule
from core.schema import ORIGINAL_GROUPS, CirculationGroups

__all__ = ["InitWeights", "TrainOptions"]


@dataclass(frozen=True)
class InitWeights:
    """Local pretrained files; None trains that network from scratch."""

    medicalnet: Path | None = None  # stage 1: MedicalNet resnet_18.pth (3-D, converted)
    imagenet_timm: Path | None = None  # anterior: timm SwinV2-CR ImageNet weights
    imagenet_tv: Path | None = None  # posterior: torchvision ResNet18 ImageNet weights


@dataclass(frozen=True)
class TrainOptions:
    """Seed, resumption, initial weights, threshold rule, grouping and bookkeeping.

    The threshold rule and its target are checked here, when the run is configured, so a
    typo fails at once rather than after hours of training.
    """

    seed: int = 0
    resume: bool = False
    init: InitWeights = field(default_factory=InitWeights)
    #: A name in :data:`core.models.threshold_rules.THRESHOLD_RULES`, fitted on the
    #: training-split patients.
    threshold_rule: RuleName = DEFAULT_RULE
    target_sensitivity: float = DEFAULT_TARGET
    groups: CirculationGroups = ORIGINAL_GROUPS
    #: Checkpoint folder; None: ``<bundle>.checkpoints`` beside the bundle (bundles refuse
    #: pickle files, and checkpoints are torch pickles read with ``weights_only=True``).
    checkpoints: Path | None = None
    device: str | None = None
    #: Bootstrap resamples for the validation metrics' confidence intervals.
    n_boot: int = 200

    def __post_init__(self) -> None:
        get_threshold_rule(self.threshold_rule)  # ThresholdRuleError names the known rules
        check_target(self.target_sensitivity)
