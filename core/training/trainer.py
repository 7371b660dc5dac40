"""Train the three networks on a labelled K-Ium folder and write a bundle.

Order: cache every view once; split patients; train stage 1 (BCE) and Platt-scale it on
the validation views; then the anterior and posterior location models (Asymmetric Loss),
which may start from the stage-1 stem; then :mod:`core.training.finish` calibrates
thresholds on the training patients, scores the validation patients and writes the bundle.
Each network trains on whole views or localised on crops (:mod:`core.training.localised`).
Under torchrun every rank trains; rank 0 alone calibrates and writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from torch import nn

from core.models.build import build_model, classifier_head, load_stage1_stem, stem_modules
from core.models.medicalnet import load_medicalnet
from core.models.pretrained import load_imagenet
from core.models.aneurysm_models import ROLES, Role
from core.models.registry import ModelSpec, get_spec
from core.training.data import TrainingData, load_training_data
from core.training.distributed import (
    DistInfo,
    init_distributed,
    seed_everything,
    shutdown_distributed,
)
from core.training.finish import finish_bundle
from core.training.hard_negatives import mine
from core.training.localised import cell_grid, crop_mode, frozen_eval, localised_loss, plan_role
from core.training.loop import Progress, fit
from core.training.losses import AsymmetricLoss, stage1_loss
from core.training.options import TrainOptions
from core.training.patches import PatchDataset
from core.training.pipeline import patient_score_fn
from core.training.platt import platt_scale
from core.training.profiles import Profile
from core.training.sampling import balanced_row_weights, pos_weight
from core.training.split import PatientSplit, split_patients

__all__ = ["train_bundle"]

log = logging.getLogger(__name__)

#: Share of the progress bar per phase (caching is image decoding, the rest is training).
_PHASES = {"cache": 0.15, "stage1": 0.45, "anterior": 0.17, "posterior": 0.17, "calibrate": 0.06}


@dataclass(frozen=True)
class _Run:
    """One rank's view of the run: recipe, options, data, split and where it stands."""

    profile: Profile
    opts: TrainOptions
    info: DistInfo
    data: TrainingData
    split: PatientSplit
    checkpoints: Path
    progress: Progress | None


def _spec(profile: Profile, role: Role, opts: TrainOptions) -> ModelSpec:
    """The registry spec at the profile's input size, with its CAM layer if it names one."""
    cfg = profile.stage(role)
    spec = get_spec(cfg.key, size=cfg.size, groups=opts.groups)
    return spec if cfg.cam_layer is None else replace(spec, cam_layer=cfg.cam_layer)


def _initialise(role: Role, model: nn.Module, spec: ModelSpec, opts: TrainOptions) -> str | None:
    """Load the user's local pretrained file for this role, if any; the report's summary."""
    init = opts.init
    path = {
        "stage1": init.medicalnet,
        "anterior": init.imagenet_timm,
        "posterior": init.imagenet_tv,
    }
    if path[role] is None:
        return None
    if role == "stage1":
        report = load_medicalnet(model, path[role])
    else:
        report = load_imagenet(model, spec, path[role])
    log.info("%s init: %s", role, report.summary())
    return report.summary()


def _phase(progress: Progress | None, phase: str) -> Progress | None:
    """``progress`` rescaled to this phase's share of the whole run."""
    if progress is None:
        return None
    names = list(_PHASES)
    start = sum(_PHASES[n] for n in names[: names.index(phase)])
    return lambda f, msg: progress(start + _PHASES[phase] * f, msg)


def _stem_from_stage1(model: nn.Module, spec: ModelSpec, stage1: nn.Module) -> list[nn.Module]:
    """Copy the trained stage-1 stem into ``model`` and freeze it; the frozen modules."""
    copied = load_stage1_stem(model, spec, stage1)
    frozen = list(stem_modules(model, spec).values())
    for module in frozen:
        module.requires_grad_(False)
    log.info("%s: stem conv1..layer2 from stage 1 (%d tensors), frozen", spec.role, copied)
    return frozen


def _mine_hard(
    train_set: PatchDataset, share: float, run: _Run, model: nn.Module, epoch: int
) -> None:
    """Before every epoch after the first: centre ``share`` of the negative crops on the
    network's current false alarms."""
    if epoch == 0:
        return
    train_set.hard = mine(model, train_set, run.info.device, cpu_bf16=run.profile.cpu_bf16)
    train_set.hard_fraction = share


def _train_role(
    run: _Run, role: Role, spec: ModelSpec, stage1: nn.Module | None
) -> tuple[nn.Module, dict[str, object]]:
    """Build, initialise and fit one network; returns it (best epoch) and its summary."""
    cfg, opts, data, split = run.profile.stage(role), run.opts, run.data, run.split
    model = build_model(spec, seed=opts.seed + ROLES.index(role))
    init_note = _initialise(role, model, spec, opts)
    frozen: list[nn.Module] = []
    if cfg.from_stage1:
        if stage1 is None:
            raise ValueError(f"{role}: from_stage1 needs the stage-1 network trained first")
        frozen = _stem_from_stage1(model, spec, stage1)
        init_note = "stem conv1..layer2 copied from the trained stage 1, frozen"
    plan = plan_role(cfg, spec, data.sacs is not None)
    before_epoch = None
    log.info("%s: %s", role, plan.reason)
    val_set = data.dataset(spec, split.val) if split.val else None
    if plan.localised:
        assert cfg.patch is not None
        grid = cell_grid(model, spec, cfg.patch)
        train_set = data.patch_dataset(
            spec, split.train, patch=cfg.patch, grid=grid, flips=cfg.flips,
            augment=run.profile.augment,
        )  # fmt: skip
        weights = train_set.sample_weights()
        loss: nn.Module = localised_loss(spec, cfg.dense_weight)
        context = partial(crop_mode, model, spec, cfg.patch, frozen)
        if cfg.hard_negatives:
            before_epoch = partial(_mine_hard, train_set, cfg.hard_negatives, run)
    else:
        train_set = data.dataset(spec, split.train, run.profile.augment)
        labels = train_set.labels.numpy()
        weights = balanced_row_weights(labels) if cfg.balanced_sampling else None
        if role == "stage1":
            use_pw = run.profile.stage1_pos_weight
            loss = stage1_loss(float(pos_weight(labels, weights)[0]) if use_pw else None)
        else:
            loss = AsymmetricLoss(gamma_neg=4.0, gamma_pos=1.0, clip=0.05)
        context = partial(frozen_eval, frozen)
    val_table, _ = data.role_table(role, split.val)
    truth = data.train.set_index("Index")
    result = fit(
        model,
        train_set,
        val_set,
        cfg=cfg,
        loss_fn=loss,
        score_fn=patient_score_fn(role, val_table, truth, opts.groups),
        info=run.info,
        seed=opts.seed,
        sample_weights=weights,
        checkpoint=run.checkpoints / f"{role}.pt",
        resume=opts.resume,
        num_workers=run.profile.num_workers,
        progress=_phase(run.progress, role),
        desc=role,
        train_context=context,
        cpu_bf16=run.profile.cpu_bf16,
        before_epoch=before_epoch,
    )
    summary = {
        "rows_train": len(train_set),
        "rows_val": 0 if val_set is None else len(val_set),
        "best_epoch": result.best_epoch,
        "best_val_score": result.best_score,
        "history": result.history,
        "init": init_note,
        "training": plan.reason,
    }
    if isinstance(train_set, PatchDataset) and cfg.hard_negatives:
        summary["hard_negatives"] = {"share": cfg.hard_negatives, "places": len(train_set.hard)}
    model = result.model.eval()
    if role == "stage1" and run.profile.platt:
        head = classifier_head(model)
        summary["platt"] = platt_scale(model, head, val_set, run.info, run.profile.cpu_bf16)
    return model, summary


def train_bundle(
    data_dir: str | Path,
    out_dir: str | Path,
    profile: Profile,
    opts: TrainOptions = TrainOptions(),
    progress: Progress | None = None,
) -> Path | None:
    """Train and write a bundle to ``out_dir``; returns its path on rank 0, None elsewhere."""
    out = Path(out_dir)
    ckpt = opts.checkpoints or out.with_name(out.name + ".checkpoints")
    info = init_distributed(opts.device)
    try:
        seed_everything(opts.seed)
        specs = {r: _spec(profile, r, opts) for r in ROLES}
        if progress is not None:
            progress(0.0, "decoding and preprocessing images")
        workers = 1 if info.active else profile.cache_workers
        data = load_training_data(data_dir, specs, info=info, workers=workers, groups=opts.groups)
        split = split_patients(data.train, profile.val_fraction, opts.seed)
        log.info("patients: %d train, %d validation", len(split.train), len(split.val))
        run = _Run(profile, opts, info, data, split, Path(ckpt), progress)
        trained: dict[Role, tuple[nn.Module, dict[str, object]]] = {}
        for role in ROLES:  # stage 1 first: the location models may start from it
            stage1 = trained["stage1"][0] if "stage1" in trained else None
            trained[role] = _train_role(run, role, specs[role], stage1)
        if not info.is_main:
            return None
        if progress is not None:
            progress(1.0 - _PHASES["calibrate"], "calibrating thresholds on training patients")
        models = {role: m for role, (m, _) in trained.items()}
        summaries = {role: s for role, (_, s) in trained.items()}
        return finish_bundle(out, data, split, models, specs, summaries, profile, opts, info.device)
    finally:
        shutdown_distributed(info)
