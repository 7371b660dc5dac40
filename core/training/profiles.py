"""Training profiles: one frozen dataclass holds everything a run's quality and cost depend on.

``full`` is the original pipeline's sizes (stage 1 at 724x724, the full timm
``swinv2_cr_tiny_ns_224`` and torchvision ResNet18 at 224x224) trained on whole views with
their labels, meant for a GPU and real data. ``demo`` is what a 2-core CPU can learn from a
synthetic cohort in minutes with no pretrained weights, ``tiny`` the same at test size.

The demo recipe, and why (each measured on a separate 100-patient development cohort,
seed 11, never on the demo's held-out cohort):

* **Localised training** (:mod:`core.training.patches`). When the cohort carries the
  generator's ``truth.json``, each network trains on random crops labelled by whether an
  aneurysm centre lies inside, plus a per-cell target on its ``cell_max`` head. Whole-view
  training with view labels reached a view AUROC of 0.74 after 8 minutes; crops reached
  0.90 after 50 seconds, and heatmap peaks on 81 % of aneurysms instead of 0 %.
* **Stage 2 starts from stage 1.** Both location models take the stage-1 input, copy the
  trained stage-1 stem (conv1 to layer2) and keep it frozen: they learn where an aneurysm
  is, not what one looks like, from a few dozen examples per location.
* **bf16 autocast on CPUs that have it** (:func:`core.device.autocast`), about twice as
  fast as fp32 for these networks.
* **Locations weighed by stage 1** (``combine="joint_max"``): each view's location
  probabilities are multiplied by its stage-1 probability before the A/B max. The frozen-stem
  location networks say *where* an aneurysm would be far better than *whether* there is one,
  so alone they rank aneurysm-free patients by anatomy. On a 200-patient development cohort
  (seed 11) the location macro AUROC of three bundles went 0.775 -> 0.822, 0.681 -> 0.768
  and 0.702 -> 0.812 (19 locations defined), with the same networks.

Demo numbers say nothing about full-size models; the bundle records which profile made it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from core.models.aneurysm_models import Role, default_keys

__all__ = ["Flips", "StageConfig", "Augment", "Profile", "PROFILES", "get_profile"]

#: Flips of a training crop. ``dihedral`` (8 rotations and mirrors) suits stage 1, where
#: "is there an aneurysm" does not depend on orientation. ``horizontal`` suits the location
#: models: a mirrored view is the other side's view of the same anatomy, labels unchanged,
#: while up and down carry anatomy (the carotid enters from below).
Flips = Literal["none", "horizontal", "dihedral"]


@dataclass(frozen=True)
class StageConfig:
    """How one network is trained. ``size`` overrides the registry input side (None keeps it)."""

    key: str
    epochs: int
    batch_size: int
    lr: float
    size: int | None = None
    weight_decay: float = 1e-4
    #: Oversample rows with rare labels (square-root balancing); else a plain shuffle.
    balanced_sampling: bool = False
    #: Rows drawn per epoch (None: as many as the training set has).
    samples_per_epoch: int | None = None
    #: Grad-CAM layer written into the bundle (None keeps the registry's). Chosen on the
    #: validation split: at small inputs ``layer4`` is a coarse grid (6x6 at 192 px).
    cam_layer: str | None = None
    warmup_fraction: float = 0.05
    #: Localised training: crop side in model pixels (None trains on whole views). Used
    #: only when the cohort has aneurysm positions and the model a ``cell_max`` head.
    patch: int | None = None
    flips: Flips = "none"
    #: Weight of the per-cell loss beside the crop-level one (localised training).
    dense_weight: float = 1.0
    #: Start from the trained stage-1 network's stem (conv1..layer2) and keep it frozen.
    from_stage1: bool = False
    #: Localised training: the share of negative crops centred on the network's own false
    #: alarms, mined before every epoch after the first (:mod:`core.training.hard_negatives`).
    hard_negatives: float = 0.0


@dataclass(frozen=True)
class Augment:
    """Gentle geometric and intensity jitter: a DSA view is never upside down or mirrored
    in a way that changes which side it shows, so only small shifts/rotations/zooms."""

    shift: float = 0.04  # fraction of the side
    rotate: float = 8.0  # degrees
    scale: float = 0.08  # +/- fraction
    contrast: float = 0.15  # +/- gain around the mean
    brightness: float = 0.05  # +/- fraction of 255


@dataclass(frozen=True)
class Profile:
    """A complete training recipe; ``with_overrides`` derives CLI variants (``--epochs``)."""

    name: str
    stage1: StageConfig
    anterior: StageConfig
    posterior: StageConfig
    val_fraction: float = 0.2
    augment: Augment | None = Augment()
    stage1_pos_weight: bool = True
    num_workers: int = 0  # DataLoader workers; the cache already holds resized uint8 arrays
    cache_workers: int = 2  # processes decoding and preprocessing images once
    #: bf16 autocast on CPUs with native bf16 (core.device.autocast).
    cpu_bf16: bool = True
    #: Platt-scale the stage-1 logit on validation views (folded into the head), so that
    #: the mean of view probabilities in the patient score averages calibrated numbers.
    platt: bool = True
    #: How per-view location probabilities become the 21 columns (written to the bundle;
    #: :func:`core.schema.regenerate_locations`): ``max`` is the original A/B rule.
    combine: str = "max"

    def stage(self, role: Role) -> StageConfig:
        return {"stage1": self.stage1, "anterior": self.anterior, "posterior": self.posterior}[role]

    def with_overrides(self, *, epochs: int | None = None, **fields: Any) -> Profile:
        """A copy with ``epochs`` set on every stage and other top-level fields replaced."""
        p = replace(self, **fields)
        if epochs is not None:
            p = replace(
                p,
                **{
                    r: replace(p.stage(r), epochs=epochs)
                    for r in ("stage1", "anterior", "posterior")
                },
            )
        return p

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _keys(profile: str) -> dict[Role, str]:
    return default_keys(profile)  # type: ignore[arg-type]


_DEMO, _FULL, _TINY = _keys("demo"), _keys("full"), _keys("tiny")

#: Crops per optimiser step in localised training, and the steps of each stage: one epoch
#: is ``samples_per_epoch`` crops, and the validation score after each picks the best.
_CROPS = 64


def _crops(steps: int, batch: int = _CROPS) -> dict[str, int]:
    return {"batch_size": batch, "samples_per_epoch": steps * batch}


PROFILES: dict[str, Profile] = {
    # Sizes and steps chosen on the development cohort under the ~12-minute budget of the
    # 2-core CPU (make demo): 256 px matched 320 px in patient AUROC (0.92 vs 0.93) at 0.64x
    # the cost, and neither 384 px nor a stride-4 stem at 512 px found small sacs better;
    # the frozen-stem location models peak after 150-200 steps. Stage 1's second epoch
    # centres half its negative crops on its own false alarms (vessel loops, bends, blunt
    # trunk ends): on the development cohort (200 patients, seed 11, trained on 460) that
    # took the patient AUROC from 0.919 to 0.934 and the view AUROC of sacs of radius < 8 px
    # from 0.76 to 0.81.
    "demo": Profile(
        name="demo",
        stage1=StageConfig(
            _DEMO["stage1"], epochs=2, lr=2e-3, patch=96, flips="dihedral", hard_negatives=0.5,
            **_crops(200),
        ),  # fmt: skip
        anterior=StageConfig(
            _DEMO["anterior"], epochs=1, lr=1e-3, weight_decay=0.05, patch=128,
            flips="horizontal", from_stage1=True, **_crops(200, 32),
        ),  # fmt: skip
        posterior=StageConfig(
            _DEMO["posterior"], epochs=1, lr=1e-3, patch=96, flips="horizontal",
            from_stage1=True, **_crops(150),
        ),  # fmt: skip
        combine="joint_max",
    ),
    "full": Profile(
        name="full",
        stage1=StageConfig(_FULL["stage1"], epochs=30, batch_size=16, lr=5e-4),
        anterior=StageConfig(
            _FULL["anterior"],
            epochs=40,
            batch_size=32,
            lr=2e-4,
            weight_decay=0.05,
            balanced_sampling=True,
        ),
        posterior=StageConfig(
            _FULL["posterior"], epochs=40, batch_size=32, lr=5e-4, balanced_sampling=True
        ),
        num_workers=4,
        cache_workers=8,
        platt=False,
    ),
    "tiny": Profile(
        name="tiny",
        stage1=StageConfig(_TINY["stage1"], epochs=2, lr=1e-3, patch=32, flips="dihedral",
                           hard_negatives=0.5, **_crops(2, 8)),  # fmt: skip
        anterior=StageConfig(_TINY["anterior"], epochs=1, lr=1e-3, patch=32, flips="horizontal",
                             from_stage1=True, **_crops(3, 8)),  # fmt: skip
        posterior=StageConfig(_TINY["posterior"], epochs=1, lr=1e-3, patch=32,
                              flips="horizontal", from_stage1=True, **_crops(3, 8)),  # fmt: skip
        val_fraction=0.25,
        cache_workers=1,
        combine="joint_max",
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise KeyError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
