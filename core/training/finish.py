"""After training: thresholds from the training patients, validation metrics, the bundle.

Runs on rank 0 only. Thresholds follow the requested rule on the *training-split* patients'
predictions (the original pipeline calibrated on training predictions too); validation
patients are scored with the full two-stage decision (gate, then location thresholds) and
the report is stored in ``bundle.json`` beside the data fingerprint and training history.

The original rule's location flags score below flagging nothing (the K-Ium all-zeros
floor), so the bundle also ships location sets fitted on the *validation* patients behind
the same gate (:data:`core.models.location_rules.SHIPPED_RULES`), saved beside it as named
threshold sets; ``bundle.json`` records every set's validation accuracy beside the floor.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torch import nn

from core.cohort.location_sets import compare_sets, fit_validation_sets, table_from_arrays
from core.metrics.report import evaluate_tables
from core.models.aneurysm_models import Role
from core.models.bundle import save_bundle
from core.models.registry import ModelSpec
from core.models.threshold_rules import get_threshold_rule
from core.models.threshold_sets import ORIGINAL, save_training_set
from core.models.thresholds import Thresholds
from core.schema import LOCATIONS
from core.studies.aneurysm import schema_for
from core.training.data import TrainingData
from core.training.options import TrainOptions
from core.training.pipeline import PatientPredictions, predict_patients, submission_table
from core.training.profiles import Profile
from core.training.split import PatientSplit

__all__ = ["fit_thresholds", "validation_sets", "finish_bundle"]


def fit_thresholds(pred: PatientPredictions, truth: pd.DataFrame, opts: TrainOptions) -> Thresholds:
    """Thresholds from patient predictions by the rule ``opts`` names (the rule table reads
    the labels only where it needs them); ``truth`` is ``train.csv`` indexed by ``Index``."""
    y = truth.loc[list(pred.scores["Index"])]
    return get_threshold_rule(opts.threshold_rule).fit(
        pred.scores["Aneurysm"].to_numpy(),
        {c: pred.locations[c].to_numpy() for c in LOCATIONS},
        patient_labels=y["Aneurysm"].to_numpy(),
        location_labels={c: y[c].to_numpy() for c in LOCATIONS},
        target=opts.target_sensitivity,
    )


def validation_sets(
    va: PatientPredictions, truth: pd.DataFrame, thresholds: Thresholds
) -> tuple[dict[str, Thresholds], list[dict[str, object]]]:
    """The location sets fitted on validation patients, and every set (the bundle's own
    first) compared on them, each with its all-zeros floor."""
    table = table_from_arrays(
        va.scores["Index"].to_numpy(int),
        va.scores["Aneurysm"].to_numpy(float),
        {c: va.locations[c].to_numpy(float) for c in LOCATIONS},
        truth,
    )
    sets = fit_validation_sets(table, thresholds)
    comparison = compare_sets(table, {ORIGINAL: thresholds, **sets})
    return sets, comparison.to_dict(orient="records")


def finish_bundle(
    out: Path,
    data: TrainingData,
    split: PatientSplit,
    models: dict[Role, nn.Module],
    specs: dict[Role, ModelSpec],
    summaries: dict[Role, dict[str, object]],
    profile: Profile,
    opts: TrainOptions,
    device: torch.device,
) -> Path:
    """Calibrate, validate and write the bundle; returns its directory."""
    groups, truth = opts.groups, data.train.set_index("Index")
    bf16, combine = profile.cpu_bf16, profile.combine
    thresholds = fit_thresholds(
        predict_patients(models, specs, data, split.train, groups, device, combine, bf16),
        truth,
        opts,
    )
    validation, sets, comparison = None, {}, None
    if split.val:
        va = predict_patients(models, specs, data, split.val, groups, device, combine, bf16)
        sets, comparison = validation_sets(va, truth, thresholds)
        validation = evaluate_tables(
            data.train[data.train["Index"].isin(split.val)],
            submission_table(va, thresholds, groups, combine),
            va.locations,
            thresholds=[thresholds.stage1],
            n_boot=opts.n_boot,
            seed=opts.seed,
        )
    fingerprint = data.fingerprint | {
        "patients": len(data.train),
        "patients_train": len(split.train),
        "patients_val": len(split.val),
        "val_indices": list(split.val),
        "split_seed": opts.seed,
    }
    metrics = {
        "validation": validation,
        "training": summaries,
        "profile": profile.to_dict(),
        "seed": opts.seed,
        "threshold_rule": opts.threshold_rule,
        "calibrated_on": "training-split patients",
        "threshold_sets": {"fitted_on": "validation patients", "on_validation": comparison},
    }
    note = (
        f"profile={profile.name}; calibrated on {len(split.train)} training patients with rule "
        f"{thresholds.rule}; validation metrics on {len(split.val)} held-back patients"
    )
    bundle = save_bundle(
        out,
        models,
        specs,
        thresholds,
        schema=schema_for(groups),
        combine=combine,
        training_data=fingerprint,
        metrics=metrics,
        notes=note,
        overwrite=True,
    )
    for name, fitted in sets.items():
        save_training_set(bundle, name, fitted)
    return bundle
