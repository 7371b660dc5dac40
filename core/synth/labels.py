"""Patient labels that follow the K-Ium cohort statistics of the brief.

Positive patients (46% by default) carry 1 to 5 locations, distributed like the cohort's
402:92:23:4:2; the locations are drawn without replacement with weights proportional to the
cohort's per-column counts, so ICA and MCA dominate and R_PCA stays rare. ``Aneurysm`` is 1
exactly when any location is.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.schema import LOCATIONS, TRAIN_COLUMNS, validate_train_table

__all__ = [
    "LOCATION_COUNTS",
    "MULTIPLICITY_COUNTS",
    "DEFAULT_PREVALENCE",
    "sample_labels",
    "patient_streams",
    "cohort_labels",
    "positive_locations",
]

#: Positives per location column in the K-Ium training cohort (1,127 patients).
LOCATION_COUNTS: dict[str, int] = {
    "L_ICA": 100, "R_ICA": 100, "L_PCOM": 35, "R_PCOM": 34, "L_AntChor": 30, "R_AntChor": 18,
    "L_ACA": 21, "R_ACA": 13, "L_ACOM": 66, "R_ACOM": 30, "L_MCA": 67, "R_MCA": 96,
    "L_VA": 17, "R_VA": 11, "L_PICA": 3, "R_PICA": 2, "L_SCA": 6, "R_SCA": 4, "BA": 24,
    "L_PCA": 3, "R_PCA": 1,
}  # fmt: skip

#: Positive patients by number of locations (1..5) in the same cohort.
MULTIPLICITY_COUNTS: dict[int, int] = {1: 402, 2: 92, 3: 23, 4: 4, 5: 2}

#: 523 of 1,127 patients were positive.
DEFAULT_PREVALENCE = 0.46

_LOC_P = np.array([LOCATION_COUNTS[c] for c in LOCATIONS], float)
_LOC_P /= _LOC_P.sum()
_K = np.array(list(MULTIPLICITY_COUNTS), int)
_K_P = np.array(list(MULTIPLICITY_COUNTS.values()), float)
_K_P /= _K_P.sum()


def sample_labels(
    rng: np.random.Generator, prevalence: float = DEFAULT_PREVALENCE
) -> dict[str, int]:
    """``Aneurysm`` plus the 21 location columns for one patient."""
    if not 0.0 <= prevalence <= 1.0:
        raise ValueError(f"prevalence must be in [0, 1], got {prevalence}")
    labels = dict.fromkeys(LOCATIONS, 0)
    if rng.random() < prevalence:
        k = int(rng.choice(_K, p=_K_P))
        for i in rng.choice(len(LOCATIONS), size=k, replace=False, p=_LOC_P):
            labels[LOCATIONS[i]] = 1
    return {"Aneurysm": int(any(labels.values())), **labels}


def patient_streams(seed: int, index: int) -> tuple[np.random.Generator, np.random.Generator]:
    """(labels, images) random streams of one patient.

    Keyed by (seed, index) rather than by position in the run, so a patient is the same
    whatever the cohort size or start index, and its labels can be drawn without rendering.
    """
    ss = np.random.SeedSequence(seed, spawn_key=(index,))
    labels_ss, images_ss = ss.spawn(2)
    return np.random.default_rng(labels_ss), np.random.default_rng(images_ss)


def cohort_labels(
    patients: int, seed: int, prevalence: float = DEFAULT_PREVALENCE, start_index: int = 1
) -> pd.DataFrame:
    """The ``train.csv`` table of a cohort, without rendering any image."""
    rows = [
        {"Index": i, **sample_labels(patient_streams(seed, i)[0], prevalence)}
        for i in range(start_index, start_index + patients)
    ]
    return validate_train_table(pd.DataFrame(rows, columns=list(TRAIN_COLUMNS)))


def positive_locations(labels: Mapping[str, int]) -> list[str]:
    """The location columns set to 1, in ``train.csv`` order."""
    return [c for c in LOCATIONS if int(labels.get(c, 0)) == 1]
