"""Which findings an image has: the normal share, how many classes, which, how many of each.

About 70 % of images are normal (the competition's 10,606 of 15,000). An abnormal image
has one to five classes (mean about two; several classes per image are common in the real
set); classes are drawn without replacement with weights from the brief's box counts
(:data:`~core.studies.chest.classes.BOX_COUNTS`), divided by how many boxes one finding of
the class yields on average (instances per image times the readers' detection rate), so
that the readers' box counts, not the findings, come out in the competition's proportions.
A few classes come as several instances (nodules, calcifications, bilateral effusions...).
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from core.studies.chest.classes import (
    BOX_COUNTS,
    CLASS_IDS,
    CLASSES,
    N_NORMAL_IMAGES,
    N_TRAIN_IMAGES,
)

__all__ = [
    "CLASSES_PER_IMAGE",
    "DETECTION",
    "MAX_INSTANCES",
    "MORE",
    "NORMAL_FRACTION",
    "class_weights",
    "sample_findings",
]  # fmt: skip

NORMAL_FRACTION = N_NORMAL_IMAGES / N_TRAIN_IMAGES
#: P(number of distinct classes) for an abnormal image, 1..5.
CLASSES_PER_IMAGE: tuple[float, ...] = (0.42, 0.28, 0.16, 0.09, 0.05)

#: A typical reader's chance to box a finding of each class: high for the large, obvious
#: ones (heart, knob, fluid), low for the small or subtle ones.
DETECTION: MappingProxyType[str, float] = MappingProxyType({
    "Aortic enlargement": 0.80, "Atelectasis": 0.55, "Calcification": 0.50,
    "Cardiomegaly": 0.85, "Consolidation": 0.65, "ILD": 0.60, "Infiltration": 0.55,
    "Lung Opacity": 0.62, "Nodule/Mass": 0.60, "Other lesion": 0.55,
    "Pleural effusion": 0.78, "Pleural thickening": 0.60, "Pneumothorax": 0.70,
    "Pulmonary fibrosis": 0.65,
})  # fmt: skip

#: Chance of one more instance of a class, and the most instances an image may have.
MORE: MappingProxyType[str, float] = MappingProxyType({
    "Calcification": 0.4, "Nodule/Mass": 0.35, "Pleural thickening": 0.35,
    "Pleural effusion": 0.25, "ILD": 0.5, "Pulmonary fibrosis": 0.4, "Consolidation": 0.2,
    "Lung Opacity": 0.3, "Infiltration": 0.25, "Other lesion": 0.2, "Atelectasis": 0.15,
})  # fmt: skip
MAX_INSTANCES = 4
_SINGLE = ("Aortic enlargement", "Cardiomegaly", "Pneumothorax")


def _mean_instances(name: str) -> float:
    p = 0.0 if name in _SINGLE else MORE.get(name, 0.0)
    return float(sum(p**k for k in range(MAX_INSTANCES)))


def class_weights() -> np.ndarray:
    """Drawing weight of each class (sums to 1), by class id."""
    w = np.array([BOX_COUNTS[c] / (_mean_instances(c) * DETECTION[c]) for c in CLASSES])
    return w / w.sum()


_WEIGHTS = class_weights()
_ONE_SIDED = (CLASS_IDS["Pleural effusion"], CLASS_IDS["ILD"], CLASS_IDS["Pulmonary fibrosis"])


def sample_findings(
    rng: np.random.Generator, normal_fraction: float = NORMAL_FRACTION
) -> list[int]:
    """Class ids of one image's findings, one entry per instance; ``[]`` for a normal one."""
    if not 0.0 <= normal_fraction <= 1.0:
        raise ValueError(f"normal_fraction must be in [0, 1], got {normal_fraction}")
    if rng.random() < normal_fraction:
        return []
    k = 1 + int(rng.choice(len(CLASSES_PER_IMAGE), p=CLASSES_PER_IMAGE))
    out: list[int] = []
    for cid in sorted(int(c) for c in rng.choice(len(CLASSES), size=k, replace=False, p=_WEIGHTS)):
        name = CLASSES[cid]
        n = 1
        limit = 2 if cid in _ONE_SIDED else MAX_INSTANCES  # one per lung
        while name not in _SINGLE and n < limit and rng.random() < MORE.get(name, 0.0):
            n += 1
        out.extend([cid] * n)
    return out
