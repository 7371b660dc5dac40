"""Train/validation split by patient.

All eight views of a patient share anatomy and, often, the same aneurysm seen twice (A and
B projections), so splitting rows of the per-view tables would leak a patient into both
sides and flatter validation. We split ``train.csv`` rows (one per patient), stratified on
``Aneurysm`` so both sides keep the cohort's positive rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

__all__ = ["PatientSplit", "split_patients"]


@dataclass(frozen=True)
class PatientSplit:
    """Sorted, disjoint patient ``Index`` values of each side."""

    train: tuple[int, ...]
    val: tuple[int, ...]


def split_patients(train: pd.DataFrame, val_fraction: float = 0.2, seed: int = 0) -> PatientSplit:
    """Split patients into train/validation, stratified on ``Aneurysm``; deterministic.

    Stratification needs two patients per class; with fewer (tiny test cohorts) it falls
    back to a plain seeded shuffle. ``val_fraction=0`` puts everyone in training.
    """
    idx = train["Index"].to_numpy()
    if val_fraction <= 0:
        return PatientSplit(tuple(sorted(idx.tolist())), ())
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    y = train["Aneurysm"].to_numpy()
    n_val = max(1, int(round(val_fraction * len(idx))))
    counts = np.bincount(y, minlength=2)
    stratify = y if counts.min() >= 2 and n_val >= 2 and len(idx) - n_val >= 2 else None
    tr, va = train_test_split(idx, test_size=n_val, stratify=stratify, random_state=seed)
    return PatientSplit(tuple(sorted(tr.tolist())), tuple(sorted(va.tolist())))
