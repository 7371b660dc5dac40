"""Patient-level predictions of freshly trained networks, for calibration and validation.

The same rules as inference (:mod:`core.models.gating`): the patient score is the gate's
max of circulation means, locations are regenerated from per-view stage-2 probabilities
with the bundle's A/B rule, and decisions go through ``gate_and_decide``. Only the input
path differs: here views come from the training cache instead of being decoded again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from core.metrics.binary import auroc
from core.metrics.locations import macro_auroc
from core.models.gating import gate_and_decide, patient_score
from core.models.aneurysm_models import Role
from core.models.registry import ModelSpec
from core.models.thresholds import Thresholds
from core.schema import LOCATIONS, TRAIN_COLUMNS, CirculationGroups, regenerate_locations
from core.training.data import TrainingData
from core.training.evaluate import ScoreFn, predict_probs

__all__ = ["PatientPredictions", "predict_patients", "submission_table", "patient_score_fn"]


@dataclass
class PatientPredictions:
    """Per patient: stage-1 view scores, stage-2 view probabilities and the 21 combined ones."""

    view_scores: dict[int, dict[str, float]]
    view_probs: dict[int, dict[str, dict[str, float]]]
    scores: pd.DataFrame  # Index, Aneurysm (patient score)
    locations: pd.DataFrame  # Index + 21 location probabilities (not gated)


def _role_probs(
    model: nn.Module,
    spec: ModelSpec,
    data: TrainingData,
    indices: Sequence[int],
    device: torch.device,
    cpu_bf16: bool,
) -> tuple[pd.DataFrame, np.ndarray]:
    table, _ = data.role_table(spec.role, indices)
    return table, predict_probs(model, data.dataset(spec, indices), device, cpu_bf16=cpu_bf16)


def predict_patients(
    models: Mapping[Role, nn.Module],
    specs: Mapping[Role, ModelSpec],
    data: TrainingData,
    indices: Sequence[int],
    groups: CirculationGroups,
    device: torch.device,
    combine: str = "max",
    cpu_bf16: bool = True,
) -> PatientPredictions:
    """Run the three networks over the cached views of ``indices`` (in the training run's
    precision, ``cpu_bf16``)."""
    view_scores: dict[int, dict[str, float]] = {int(i): {} for i in indices}
    view_probs: dict[int, dict[str, dict[str, float]]] = {int(i): {} for i in indices}
    table, probs = _role_probs(models["stage1"], specs["stage1"], data, indices, device, cpu_bf16)
    for i, v, p in zip(table["Index"], table["View"], probs[:, 0]):
        view_scores[int(i)][v] = float(p)
    for role in ("anterior", "posterior"):
        table, probs = _role_probs(models[role], specs[role], data, indices, device, cpu_bf16)
        labels = specs[role].labels
        for i, v, row in zip(table["Index"], table["View"], probs):
            view_probs[int(i)][v] = dict(zip(labels, map(float, row)))
    order = sorted(view_scores)
    scores = pd.DataFrame(
        {"Index": order, "Aneurysm": [patient_score(view_scores[i]) for i in order]}
    )
    locs = pd.DataFrame(
        [regenerate_locations(view_probs[i], groups, combine, view_scores[i]) for i in order]
    )
    locs.insert(0, "Index", order)
    return PatientPredictions(view_scores, view_probs, scores, locs[["Index", *LOCATIONS]])


def submission_table(
    pred: PatientPredictions,
    thresholds: Thresholds,
    groups: CirculationGroups,
    combine: str = "max",
) -> pd.DataFrame:
    """The K-Ium submission table: ``Index``, ``Aneurysm`` probability, 21 gated 0/1."""
    rows = []
    for i in pred.scores["Index"]:
        g, locs = gate_and_decide(
            pred.view_scores[i], pred.view_probs[i], thresholds, groups, combine
        )
        rows.append(
            {"Index": i, "Aneurysm": g.patient_score} | {c: d.decision for c, d in locs.items()}
        )
    return pd.DataFrame(rows, columns=list(TRAIN_COLUMNS))


def patient_score_fn(
    role: Role,
    table: pd.DataFrame,
    truth: pd.DataFrame,
    groups: CirculationGroups,
    combine: str = "max",
) -> ScoreFn:
    """Validation score on *patients*, as the bundle is judged: stage 1 by the AUROC of the
    gate's patient score, a location model by the macro AUROC of its circulation's
    regenerated location columns (those defined in the split). ``table`` holds the
    ``Index``/``View`` of the validation rows in dataset order; ``truth`` is ``train.csv``
    indexed by ``Index``. A location network is scored on its own probabilities (a
    ``joint_*`` rule's stage-1 weighting left out): this picks the network's best epoch."""
    keys = list(zip(table["Index"].astype(int), table["View"]))
    order = sorted({i for i, _ in keys})
    if role == "stage1":

        def stage1(_: np.ndarray, probs: np.ndarray) -> float | None:
            views: dict[int, dict[str, float]] = {i: {} for i in order}
            for (i, v), p in zip(keys, probs[:, 0]):
                views[i][v] = float(p)
            scores = [patient_score(views[i]) for i in order]
            return auroc(truth.loc[order, "Aneurysm"].to_numpy(), scores)

        return stage1
    bases = groups.of(role)  # type: ignore[arg-type]
    cols = [c for c in LOCATIONS if c.split("_")[-1] in bases]

    def locations(_: np.ndarray, probs: np.ndarray) -> float | None:
        views: dict[int, dict[str, dict[str, float]]] = {i: {} for i in order}
        for (i, v), row in zip(keys, probs):
            views[i][v] = dict(zip(bases, map(float, row)))
        own = combine.removeprefix("joint_")
        combined = pd.DataFrame([regenerate_locations(views[i], groups, own) for i in order])
        y = truth.loc[order, cols].to_numpy()
        return macro_auroc([auroc(y[:, j], combined[c]) for j, c in enumerate(cols)])[0]

    return locations
