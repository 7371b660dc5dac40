"""Threshold sets side by side on one prediction table, and location sets fitted on one.

The cohort page, the ``thresholds`` command and the training finish all compare a bundle's
sets the same way: this module turns a prediction table (:mod:`core.cohort.table`'s
columns; only ``Index``, the labels, ``score`` and ``prob_*`` are read) and named
:class:`Thresholds` into one row per set, with the all-zeros floor beside every K-Ium
location accuracy, so no set's accuracy is read without what flagging nothing scores.

It also finds which patients of a labelled folder were the bundle's *validation* split
(recorded in ``bundle.json`` with the training data's fingerprint), the only patients a
location set may be fitted on without touching the training or held-out ones.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.cohort.batch import bundle_predictor
from core.cohort.shard import run_patients
from core.cohort.table import PROB_COLUMNS, SCORE, row_from_result, validate_table
from core.cohort.whatif import decisions
from core.intake.folder import KiumFolder
from core.metrics.binary import auroc, operating_point
from core.metrics.locations import all_zero_floor, kium_location_accuracy
from core.models.bundle import Bundle
from core.models.location_rules import (
    DEFAULT_MIN_TP,
    SHIPPED_RULES,
    LocationRule,
    fit_location_set,
)
from core.models.manifest import Manifest
from core.models.result import CaseResult
from core.models.thresholds import Thresholds
from core.schema import LOCATIONS, TRAIN_COLUMNS

__all__ = [
    "COMPARISON_COLUMNS",
    "table_from_arrays",
    "fit_on_table",
    "fit_validation_sets",
    "compare_sets",
    "validation_indices",
    "predict_table",
]

log = logging.getLogger(__name__)

#: The comparison's columns, in the order the page and the command show them.
COMPARISON_COLUMNS: tuple[str, ...] = (
    "set", "rule", "kium_accuracy", "all_zero_floor", "vs_floor", "aneurysm_auroc",
    "sensitivity", "specificity", "flags_per_patient", "location_tp", "location_fp",
)  # fmt: skip


def table_from_arrays(
    index: Sequence[int],
    patient_scores: np.ndarray,
    location_predictions: Mapping[str, np.ndarray],
    truth: pd.DataFrame,
) -> pd.DataFrame:
    """The columns of a prediction table this module reads, from the trainer's arrays;
    ``truth`` is ``train.csv`` indexed by ``Index``."""
    idx = [int(i) for i in index]
    out = truth.loc[idx, list(TRAIN_COLUMNS[1:])].astype(int).reset_index(drop=True)
    out.insert(0, "Index", idx)
    out[SCORE] = np.asarray(patient_scores, dtype=float)
    for c, p in zip(LOCATIONS, PROB_COLUMNS, strict=True):
        out[p] = np.asarray(location_predictions[c], dtype=float)
    return out


def fit_on_table(
    table: pd.DataFrame,
    rule: LocationRule,
    *,
    stage1: float,
    min_tp: int = DEFAULT_MIN_TP,
    author: str,
    fitted_on: str,
) -> Thresholds:
    """:func:`core.models.location_rules.fit_location_set` on a prediction table."""
    return fit_location_set(
        table[SCORE].to_numpy(float),
        {c: table[p].to_numpy(float) for c, p in zip(LOCATIONS, PROB_COLUMNS, strict=True)},
        {c: table[c].to_numpy(int) for c in LOCATIONS},
        stage1=stage1,
        rule=rule,
        min_tp=min_tp,
        author=author,
        fitted_on=fitted_on,
    )


def fit_validation_sets(
    table: pd.DataFrame,
    base: Thresholds,
    rules: Sequence[LocationRule] = SHIPPED_RULES,
    *,
    author: str = "training",
) -> dict[str, Thresholds]:
    """The sets a bundle ships beside its own, fitted on its validation patients behind
    ``base``'s gate and named ``<rule>-validation`` (e.g. ``precision80-validation``)."""
    where = f"{len(table)} validation patients"
    return {
        f"{rule.slug()}-validation": fit_on_table(
            table, rule, stage1=float(base.stage1 or 0.0), author=author, fitted_on=where
        )
        for rule in rules
    }


def compare_sets(table: pd.DataFrame, sets: Mapping[str, Thresholds]) -> pd.DataFrame:
    """One row per set (in ``sets`` order) with the columns of :data:`COMPARISON_COLUMNS`.

    ``vs_floor`` is the accuracy minus the floor (positive: the flags help). The aneurysm
    sensitivity and specificity are at the set's own stage-1 threshold; flags are the gated
    location decisions (:func:`core.cohort.whatif.decisions`, the page's own). Counting is
    array arithmetic and the AUROC is computed once, so the page can redo the table on
    every slider move.
    """
    y, score = table["Aneurysm"].to_numpy(int), table[SCORE].to_numpy(float)
    truth = table[list(LOCATIONS)].to_numpy(int)
    aneurysm_auroc, floor = auroc(y, score), all_zero_floor(truth)
    rows = []
    for name, thresholds in sets.items():
        flags = decisions(table, thresholds)[list(LOCATIONS)].to_numpy(int)
        point = operating_point(y, score, float(thresholds.stage1 or 0.0))
        acc = kium_location_accuracy(truth, flags)
        rows.append({
            "set": name, "rule": thresholds.rule, "kium_accuracy": acc,
            "all_zero_floor": floor, "vs_floor": acc - floor, "aneurysm_auroc": aneurysm_auroc,
            "sensitivity": point["sensitivity"], "specificity": point["specificity"],
            "flags_per_patient": float(flags.sum() / max(len(table), 1)),
            "location_tp": int((flags & truth).sum()),
            "location_fp": int((flags & (1 - truth)).sum()),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))


def validation_indices(manifest: Manifest, folder: KiumFolder) -> list[int] | None:
    """The bundle's validation patients in ``folder`` when it is the folder the bundle was
    trained on (same ``train.csv`` SHA-256), else ``None``: another folder's indices would
    name other patients."""
    data = manifest.raw.get("training_data") or {}
    wanted, val = data.get("train_csv_sha256"), data.get("val_indices")
    csv = Path(folder.root) / "train.csv"
    if not wanted or not val or not csv.is_file():
        return None
    if hashlib.sha256(csv.read_bytes()).hexdigest() != wanted:
        return None
    present = set(folder.indices)
    missing = [int(i) for i in val if int(i) not in present]
    if missing:
        log.warning("%d validation patients are missing from %s", len(missing), folder.root)
    return [int(i) for i in val if int(i) in present]


class _Rows:
    """An in-memory :class:`core.cohort.shard.PartStore`: the table rows of finished chunks
    (a fit or a comparison is one short run, so there is nothing to resume)."""

    def __init__(self, labels: Mapping[int, Mapping[str, int]]) -> None:
        self.labels = labels
        self.rows: list[dict[str, Any]] = []

    def done(self) -> set[int]:
        return set()

    def write(self, name: str, indices: Sequence[int], results: Sequence[CaseResult]) -> None:
        self.rows += [row_from_result(r, i, self.labels[i]) for i, r in zip(indices, results)]
        log.info("%s: %d patients predicted", name, len(self.rows))


def predict_table(bundle: Bundle, folder: KiumFolder, indices: Sequence[int]) -> pd.DataFrame:
    """A prediction table of ``indices`` (labelled patients of ``folder``), without CAM,
    run exactly as the cohort page runs a cohort (:func:`core.cohort.shard.run_patients`
    with :func:`core.cohort.batch.bundle_predictor`), so both see the same numbers."""
    rows = _Rows(folder.labels or {})
    run_patients(folder, [int(i) for i in indices], bundle_predictor(bundle), rows)
    return validate_table(pd.DataFrame(rows.rows))
