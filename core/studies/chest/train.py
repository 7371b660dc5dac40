"""``train --study chest``: one chest network (a detector family or the normal/abnormal
classifier) trained on a labelled VinBigData folder and written as a bundle.

The readers' boxes are fused before training (the method is an option, recorded in the
bundle), films are split into training and validation sets stratified on normal vs
abnormal, decoded once at the model's input side, and trained through
:func:`core.studies.chest.train_loop.fit_chest` (progress bar, checkpoints, resume, DDP
under ``torchrun``). On the validation films the run then measures mAP@0.4 (detector) or
the normal/abnormal AUROC (classifier) and calibrates one score threshold per class, and
the bundle records all of it with the split, so later steps (the ensemble's rule) fit on
the same validation films and never on held-out data.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from core.models.build import build_model
from core.models.bundle import save_bundle
from core.models.registry import ModelSpec, get_spec
from core.studies import get_study
from core.studies.chest.augment import AUG_SETS
from core.studies.chest.classes import NO_FINDING_ID
from core.studies.chest.detectors import yolox_available
from core.studies.chest.dataset import (
    ChestClassifySet,
    ChestDetectionSet,
    FilmCache,
    collate,
    load_training_films,
)
from core.studies.chest.fusion import DEFAULT_FUSION, FusionSettings, fuse_readers
from core.studies.chest.layout import read_vinbigdata
from core.studies.chest.roles import CLASSIFIER, DETECTOR
from core.studies.chest.train_eval import validate_classifier, validate_detector
from core.studies.chest.train_loop import LoopConfig, classifier_step, detector_step, fit_chest
from core.training.distributed import init_distributed, seed_everything, shutdown_distributed
from core.training.loop import Progress

__all__ = ["MODELS", "ORIGIN_DETECTORS", "ChestTrainOptions", "split_films", "train_chest"]

log = logging.getLogger(__name__)

#: ``--model`` choice -> registry key. YOLOX is offered where its package built
#: (docs/yolox.md); FCOS is the one-stage stand-in everywhere.
MODELS: dict[str, str] = {
    "frcnn": "chest_frcnn",
    "effdet": "chest_effdet",
    "fcos": "chest_fcos",
    **({"yolox": "chest_yolox"} if yolox_available() else {}),
    "classifier": "chest_classifier",
}
#: The origin's three families: Faster R-CNN, EfficientDet and YOLOX (FCOS where YOLOX
#: is not installed).
ORIGIN_DETECTORS: tuple[str, ...] = ("frcnn", "effdet", "yolox" if "yolox" in MODELS else "fcos")
#: Learning rates that train each family from scratch on CPU without diverging.
DEFAULT_LR: dict[str, float] = {
    "frcnn": 1e-3,
    "effdet": 1e-3,
    "fcos": 5e-4,
    "yolox": 1e-3,
    "classifier": 1e-3,
}


@dataclass(frozen=True)
class ChestTrainOptions:
    """Everything ``train --study chest`` takes besides the folders."""

    model: str = "frcnn"
    aug: str = "original"
    side: int | None = None  # the registry entry's input side when None
    epochs: int = 6
    batch_size: int = 4
    lr: float | None = None
    seed: int = 0
    val_fraction: float = 0.2
    fusion: FusionSettings = DEFAULT_FUSION
    samples_per_epoch: int | None = None
    #: Detectors learn from abnormal films only (as many top teams did; the classifier and
    #: its rule speak for normal films). Validation keeps every film.
    abnormal_only: bool = False
    resume: bool = False
    checkpoints: Path | None = None
    device: str | None = None
    pretrained: Path | None = None  # local COCO/ImageNet weights (safetensors or .pth)
    #: A trained chest detector bundle whose ResNet18 backbone starts the classifier: on a
    #: small cohort its lesion features are worth far more than random filters.
    backbone_from: Path | None = None
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # recorded in the bundle's metrics

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown chest model {self.model!r}; choose from {sorted(MODELS)}")
        if self.aug not in AUG_SETS:
            raise ValueError(f"unknown augmentation set {self.aug!r}; choose from {AUG_SETS}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")


def split_films(
    fused: pd.DataFrame, image_ids: list[str], val_fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """Training and validation image ids, stratified on abnormal (any fused box) when both
    sides can hold both kinds; deterministic for a seed."""
    if val_fraction <= 0:
        return sorted(image_ids), []
    abnormal = set(fused.loc[fused["class_id"] != NO_FINDING_ID, "image_id"].astype(str))
    y = np.array([i in abnormal for i in image_ids], int)
    n_val = max(1, int(round(val_fraction * len(image_ids))))
    strat = y if np.bincount(y, minlength=2).min() >= 2 and n_val >= 2 else None
    train, val = train_test_split(
        list(image_ids), test_size=n_val, stratify=strat, random_state=seed
    )
    return sorted(train), sorted(val)


def _ids_digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def _init(spec: ModelSpec, opts: ChestTrainOptions) -> torch.nn.Module:
    model = build_model(spec, seed=opts.seed)
    if opts.pretrained is not None:
        from core.models.pretrained import load_detector_weights, load_imagenet

        load = load_imagenet if spec.role == CLASSIFIER else load_detector_weights
        report = load(model, spec, opts.pretrained)
        log.info("initialised from %s: %s", opts.pretrained, report.summary())
    if opts.backbone_from is not None:
        _backbone_into(model, opts.backbone_from)
    return model


def _backbone_into(model: torch.nn.Module, bundle_path: Path) -> None:
    """Copy a detector bundle's ResNet18 body (``backbone.body.*``) into the classifier."""
    from core.models.bundle import load_bundle
    from core.models.pretrained import LoadReport, load_into

    bundle = load_bundle(bundle_path, device="cpu")
    state = bundle.model(DETECTOR).state_dict()
    body = {
        k.removeprefix("backbone.body."): v
        for k, v in state.items()
        if k.startswith("backbone.body.")
    }
    report = load_into(model, body, LoadReport(source=f"{bundle_path} (detector backbone)"))
    log.info("classifier backbone from %s: %d tensors", bundle_path, len(report.loaded))


def train_chest(
    data: Path, out: Path, opts: ChestTrainOptions, progress: Progress | None = None
) -> Path | None:
    """Train one chest network on ``data`` and write its bundle to ``out`` (rank 0);
    returns the bundle path, or None on other ranks."""
    info = init_distributed(opts.device)
    seed_everything(opts.seed)
    annotations = read_vinbigdata(data)
    fused = fuse_readers(annotations, **opts.fusion.to_dict())
    ids = [str(i) for i in annotations.image_ids]
    train_ids, val_ids = split_films(fused, ids, opts.val_fraction, opts.seed)
    spec = get_spec(MODELS[opts.model], **({} if opts.side is None else {"size": opts.side}))
    side = spec.input.size[0]
    films = load_training_films(
        data, train_ids + val_ids, side, sizes=annotations.sizes, progress=info.is_main
    )
    train_ids = [i for i in train_ids if i in films]
    val_ids = [i for i in val_ids if i in films]
    if opts.abnormal_only and opts.model != CLASSIFIER:
        abnormal = set(fused.loc[fused["class_id"] != NO_FINDING_ID, "image_id"].astype(str))
        train_ids = [i for i in train_ids if i in abnormal]
        log.info("training the detector on the %d abnormal training films", len(train_ids))
    model = _init(spec, opts)
    lr = opts.lr or DEFAULT_LR[opts.model]
    cfg = LoopConfig(
        epochs=opts.epochs,
        batch_size=opts.batch_size,
        lr=lr,
        samples_per_epoch=opts.samples_per_epoch,
    )
    checkpoint = (opts.checkpoints or out.with_name(out.name + ".checkpoints")) / f"{opts.model}.pt"
    role = CLASSIFIER if opts.model == CLASSIFIER else DETECTOR
    if role == CLASSIFIER:
        train_set = ChestClassifySet(films, fused, train_ids, opts.aug, opts.seed)
        mean, std = spec.input.mean[0], spec.input.std[0]
        step = lambda net, batch, dev: classifier_step(
            net, ((batch[0] - mean) / std, batch[1]), dev
        )  # noqa: E731
        coll = None
    else:
        train_set = ChestDetectionSet(films, fused, train_ids, opts.aug, opts.seed)
        step, coll = detector_step, collate
    weights = getattr(train_set, "sample_weights", None) if opts.aug == "+oversample" else None
    if (
        opts.aug == "+oversample" and weights is None
    ):  # the classifier set: the same rare-class rule
        from core.studies.chest.sampling import oversample_weights

        weights = oversample_weights(fused, train_set.image_ids)
    result = fit_chest(
        model, train_set, cfg=cfg, step=step, info=info, seed=opts.seed, sample_weights=weights,
        collate=coll, checkpoint=checkpoint, resume=opts.resume, progress=progress,
        desc=f"{opts.model}/{opts.aug}",
    )  # fmt: skip
    if not info.is_main:
        shutdown_distributed(info)
        return None
    model = result.model.eval()
    if role == CLASSIFIER:
        metrics, thresholds = validate_classifier(model, spec, films, fused, val_ids)
    else:
        metrics, thresholds = validate_detector(model, films, fused, val_ids)
    metrics |= {
        "history": result.history, "train_seconds": round(result.seconds, 1),
        "train_images_per_s": round(result.images_per_s * info.world, 3), "world": info.world,
        **opts.extra,
    }  # fmt: skip
    path = save_bundle(
        out, {role: model.cpu()}, {role: spec}, thresholds,
        schema=get_study("chest").schema, name=opts.name or out.name,
        preprocessing={"resize": f"whole film to {side}x{side}, aspect not kept, INTER_AREA", "scale": "[0, 1]", "side": side},
        training_data=_fingerprint(data, films, train_ids, val_ids, opts),
        metrics=metrics,
        settings={"family": opts.model, "augmentation": opts.aug, "reader_fusion": opts.fusion.to_dict(), "side": side},
        notes=f"chest {opts.model}, augmentation {opts.aug}, {opts.epochs} epochs at {side} px",
        overwrite=True,
    )  # fmt: skip
    shutdown_distributed(info)
    return path


def _fingerprint(
    data: Path, films: FilmCache, train_ids: list[str], val_ids: list[str], opts: ChestTrainOptions
) -> dict[str, Any]:
    """What the network was trained on: enough to refit on the same validation films."""
    return {
        "folder": data.name, "images": len(train_ids) + len(val_ids), "train_images": len(train_ids),
        "train_ids_sha256": _ids_digest(train_ids), "val_ids": val_ids,
        "skipped": dict(films.problems), "seed": opts.seed, "val_fraction": opts.val_fraction,
        "reader_fusion": opts.fusion.to_dict(), "augmentation": opts.aug,
        "abnormal_only": opts.abnormal_only and opts.model != CLASSIFIER,
    }  # fmt: skip
