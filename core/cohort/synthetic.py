"""A synthetic prediction table with K-Ium-like labels and informative scores.

Tests and the benchmark need a cohort's worth of cached predictions without a model; this
draws labels with the K-Ium prevalence (46 % positive, mostly one location each) and scores
that separate the classes imperfectly, so every metric, curve and error list is non-trivial.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from core.cohort.cache import PredictionCache, cache_key
from core.cohort.table import (
    SCORE,
    SCORE_ANTERIOR,
    SCORE_POSTERIOR,
    prob_column,
    validate_table,
    view_column,
)
from core.models.aneurysm_models import default_keys
from core.models.manifest import manifest_document, manifest_path
from core.models.registry import get_spec
from core.models.thresholds import Thresholds
from core.schema import LOCATIONS, ORIGINAL_GROUPS, TRAIN_COLUMNS, VIEWS, split_location, view_info
from core.studies import get_study

__all__ = [
    "FIXTURE_THRESHOLDS",
    "synthetic_table",
    "write_bundle_json",
    "write_cohort",
    "write_fixture",
]

#: The thresholds :func:`write_bundle_json` records as the bundle's own.
FIXTURE_THRESHOLDS = Thresholds(
    0.5, {c: 0.4 for c in LOCATIONS}, "stage1=median; locations=percentile(q=90)"
)

#: K-Ium positives per location column, used as sampling weights.
_KIUM_COUNTS = np.array(
    [100, 100, 35, 34, 30, 18, 21, 13, 66, 30, 67, 96, 17, 11, 3, 2, 6, 4, 24, 3, 1]
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def synthetic_table(n_patients: int, seed: int = 0, separation: float = 1.5) -> pd.DataFrame:
    """A valid prediction table of ``n_patients``; ``separation`` is the logit gap between
    classes (larger: easier)."""
    rng = np.random.default_rng(seed)
    positive = rng.random(n_patients) < 0.46
    labels = np.zeros((n_patients, len(LOCATIONS)), dtype=int)
    weights = _KIUM_COUNTS / _KIUM_COUNTS.sum()
    for i in np.flatnonzero(positive):
        k = 1 + int(rng.random() < 0.25)
        labels[i, rng.choice(len(LOCATIONS), size=k, replace=False, p=weights)] = 1
    table = pd.DataFrame(labels, columns=list(LOCATIONS))
    table.insert(0, "Aneurysm", positive.astype(int))
    index = np.arange(1, n_patients + 1)
    table.insert(
        0, "case_hash", [hashlib.sha256(f"{seed}:{i}".encode()).hexdigest() for i in index]
    )
    table.insert(0, "case_id", [str(i) for i in index])
    table.insert(0, "Index", index)
    circ_pos = {
        circ: labels[
            :,
            [
                j
                for j, c in enumerate(LOCATIONS)
                if ORIGINAL_GROUPS.circulation_of(split_location(c)[1]) == circ
            ],
        ].any(axis=1)
        for circ in ("anterior", "posterior")
    }
    for v in VIEWS:
        logit = (
            -0.8 + separation * circ_pos[view_info(v).circulation] + rng.normal(0, 1.0, n_patients)
        )
        table[view_column(v)] = _sigmoid(logit)
    for circ, col in (("anterior", SCORE_ANTERIOR), ("posterior", SCORE_POSTERIOR)):
        table[col] = table[
            [view_column(v) for v in VIEWS if view_info(v).circulation == circ]
        ].mean(axis=1)
    table[SCORE] = table[[SCORE_ANTERIOR, SCORE_POSTERIOR]].max(axis=1)
    loc_logit = -2.2 + 1.4 * separation * labels + rng.normal(0, 1.0, labels.shape)
    for j, c in enumerate(LOCATIONS):
        table[prob_column(c)] = _sigmoid(loc_logit[:, j])
    return validate_table(table)


def write_bundle_json(bundle_dir: Path, thresholds: Thresholds = FIXTURE_THRESHOLDS) -> Path:
    """A complete aneurysm ``bundle.json`` whose weight files do not exist.

    Not a loadable bundle (no weights): the cohort page reads the manifest (thresholds,
    schema, name) and opens cached tables without models.
    """
    bundle_dir.mkdir(parents=True, exist_ok=True)
    study = get_study("aneurysm")
    models = {
        role: {"spec": get_spec(key).to_dict(), "weights": f"{role}.safetensors",
               "sha256": "0" * 64, "tensors": 0}
        for role, key in default_keys("tiny").items()
    }  # fmt: skip
    manifest = manifest_document(
        name="fixture",
        created="2026-01-01T00:00:00+00:00",
        schema=study.schema,
        models=models,
        thresholds=thresholds,
        combine="max",
        preprocessing={},
        notes="fixture: no weights",
    )
    path = manifest_path(bundle_dir)
    path.write_text(json.dumps(manifest, indent=2))
    return path


def write_cohort(cohort_dir: Path, table: pd.DataFrame, views: tuple[str, ...] = ("LI-A",)) -> Path:
    """``train.csv`` of ``table``'s labels plus a tiny placeholder file per patient view
    (enough for the data fingerprint; not decodable images)."""
    cohort_dir.mkdir(parents=True, exist_ok=True)
    table[list(TRAIN_COLUMNS)].to_csv(cohort_dir / "train.csv", index=False)
    for i in table["Index"]:
        for v in views:
            (cohort_dir / f"{i}{v}.jpg").write_bytes(hashlib.sha256(f"{i}{v}".encode()).digest())
    return cohort_dir


def write_fixture(
    data_dir: Path, n_patients: int, seed: int = 0, views: tuple[str, ...] = ("LI-A",)
) -> tuple[Path, Path, pd.DataFrame]:
    """A data dir as the app expects it (``core.paths`` layout): the demo ``bundle.json``, the
    demo held-out cohort and its cached prediction table. Returns (bundle, cohort, table)."""
    table = synthetic_table(n_patients, seed=seed)
    bundle_dir = data_dir / "bundles" / "demo"
    cohort_dir = data_dir / "cohorts" / "demo-heldout"
    write_bundle_json(bundle_dir)
    write_cohort(cohort_dir, table, views)
    PredictionCache(data_dir / "cache" / "cohort").save(cache_key(bundle_dir, cohort_dir), table)
    return bundle_dir, cohort_dir, table
