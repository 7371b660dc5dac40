"""Oversampling rare chest findings: LVIS repeat-factor sampling (the ``+oversample`` set).

The brief's classes run from 7,162 boxes (aortic enlargement) to 226 (pneumothorax), and
several labels share a film, so balancing per box or per class is not possible: showing a
pneumothorax film more often also shows its cardiomegaly more often. Repeat-factor
sampling (Gupta et al., LVIS, 2019) handles that per *image*: class ``c`` on a share
``f_c`` of the films gets ``r_c = max(1, sqrt(t / f_c))``, and a film is repeated by the
largest ``r_c`` of the classes it carries. Only classes rarer than ``t`` are boosted, by
the square root (full balancing would show the same few pneumothorax films dozens of
times an epoch and overfit them).

**Threshold** :data:`REPEAT_THRESHOLD` = 0.1: a class on fewer than one film in ten is
boosted. On the brief's counts (about 4,400 abnormal films of 15,000) that leaves aortic
enlargement, cardiomegaly and pleural thickening at 1 and gives pneumothorax and
atelectasis about 4x; LVIS's 0.001 suits 1,200 classes, not 14.

**Normal films** ("No finding", id 14) have factor 1, always: never dropped (they teach the
detector what a healthy film looks like, and the chest study scores "No finding" too) and
never boosted. Their share of draws falls only as much as rare films rise (about 70 % to
60 % on the brief's counts). An image with no fused row at all is treated as normal.

The factors are sampling weights (mean above 1); use them with
:class:`core.training.sampling.ShardedSampler` (seeded, DDP-sharded) or torch's
``WeightedRandomSampler``, or as LVIS does, per epoch, with :func:`repeat_indices`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.studies.chest.classes import CLASSES, NO_FINDING_ID

__all__ = ["REPEAT_THRESHOLD", "class_image_frequency", "oversample_weights", "repeat_indices"]

log = logging.getLogger(__name__)

REPEAT_THRESHOLD = 0.1


def _classes_per_image(fused: pd.DataFrame, image_ids: Sequence[str]) -> np.ndarray:
    """``(n_images, 14)`` bool: which finding classes each image carries."""
    ids = [str(i) for i in image_ids]
    where = {key: n for n, key in enumerate(ids)}
    table = fused[fused["class_id"].astype(int) != NO_FINDING_ID]
    rows = table["image_id"].astype(str).map(where)
    keep = rows.notna().to_numpy()
    out = np.zeros((len(ids), len(CLASSES)), bool)
    out[rows[keep].to_numpy(int), table["class_id"].to_numpy(int)[keep]] = True
    if missing := len(set(ids) - set(fused["image_id"].astype(str))):
        log.warning("%d images have no fused row; they are sampled as normal films", missing)
    return out


def class_image_frequency(fused: pd.DataFrame, image_ids: Sequence[str]) -> np.ndarray:
    """Per finding class, the share of ``image_ids`` with at least one box of it (LVIS's
    ``f_c``: images, not boxes, since an image is what the sampler draws)."""
    if not len(image_ids):
        raise ValueError("no images to count classes over")
    return _classes_per_image(fused, image_ids).mean(axis=0)


def oversample_weights(
    fused: pd.DataFrame, image_ids: Sequence[str], threshold: float = REPEAT_THRESHOLD
) -> np.ndarray:
    """Per-image repeat factor ``max over its classes of max(1, sqrt(threshold / f_c))``,
    1 for a normal film; aligned with ``image_ids``. See the module for the choices."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"repeat threshold {threshold} is not in (0, 1]")
    has = _classes_per_image(fused, image_ids)
    freq = has.mean(axis=0)
    per_class = np.maximum(1.0, np.sqrt(threshold / np.where(freq > 0, freq, np.inf)))
    weights = np.where(has, per_class, 1.0).max(axis=1, initial=1.0)
    boosted = [f"{CLASSES[c]} x{per_class[c]:.2f}" for c in np.flatnonzero(per_class > 1)]
    log.info("repeat factors (threshold %g): %s", threshold, ", ".join(boosted) or "none")
    return weights


def repeat_indices(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One epoch's index list as LVIS builds it: image ``i`` appears ``floor(r_i)`` times,
    plus once more with probability ``frac(r_i)``; shuffled. Seed ``rng`` by epoch."""
    r = np.asarray(weights, float)
    if r.ndim != 1 or np.any(r < 0) or not np.all(np.isfinite(r)):
        raise ValueError("repeat factors must be a 1-D array of finite non-negative numbers")
    counts = np.floor(r).astype(int) + (rng.random(len(r)) < r - np.floor(r))
    return rng.permutation(np.repeat(np.arange(len(r)), counts))
