"""Three simulated radiologists per image, drawn from the pool R1..R17.

Each reader has fixed habits (drawn once from a constant seed, so R5 is the same reader in
every cohort): a sensitivity that scales each class's detection rate
(:data:`~core.studies.chest.synth.findings.DETECTION`), how loosely the box edges are
placed (most boxes land at IoU 0.5-0.9 with the truth), whether boxes are drawn a little
large or small, and how often a box is added where there is no finding. Some confusion
between look-alike classes (consolidation / infiltration / lung opacity, ILD / fibrosis)
is part of reading too. A reader who marks nothing writes one "No finding" row, as in the
competition's ``train.csv``. As in VinBigData, three readers (R8-R10) read far more images
than the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from core.studies.chest.classes import BOX_COUNTS, CLASS_IDS, CLASSES, NO_FINDING_ID, READERS
from core.studies.chest.synth.findings import DETECTION

__all__ = [
    "CONFUSED",
    "READER_TRAITS",
    "READER_WEIGHTS",
    "Anchors",
    "Mark",
    "Reader",
    "choose_readers",
    "jitter_box",
    "read_film",
]  # fmt: skip

Box = tuple[float, float, float, float]
_TRAITS_SEED = 2021  # the readers' habits: constant, so a reader keeps them across cohorts


@dataclass(frozen=True)
class Reader:
    rad_id: str
    sensitivity: float  # multiplies the class detection rate
    jitter: float  # sd of each box edge, as a share of the box's width or height
    scale: float  # habitual box size against the truth
    false_rate: float  # chance per abnormal image of one extra, unfounded box


@dataclass(frozen=True)
class Mark:
    """One ``train.csv`` row: a reader's box (``box`` None and class 14 for No finding);
    ``truth`` is the index of the true lesion it marks, None for an added box."""

    rad_id: str
    class_id: int
    box: Box | None
    truth: int | None = None


@dataclass(frozen=True)
class Anchors:
    """Film-pixel boxes a reader's unfounded box is drawn in: heart, knob, and each lung
    (right, then left) above its dome, where a lung field is seen."""

    heart: Box
    knob: Box
    lungs: tuple[Box, Box]


def _traits() -> MappingProxyType[str, Reader]:
    rng = np.random.default_rng(_TRAITS_SEED)
    return MappingProxyType({
        r: Reader(r, float(rng.uniform(0.8, 1.15)), float(rng.uniform(0.04, 0.09)),
                  float(rng.uniform(0.96, 1.1)), float(rng.uniform(0.02, 0.07)))
        for r in READERS
    })  # fmt: skip


READER_TRAITS = _traits()
_HEAVY = ("R8", "R9", "R10")
READER_WEIGHTS = np.array([8.0 if r in _HEAVY else 1.0 for r in READERS]) / (
    len(READERS) - len(_HEAVY) + 8.0 * len(_HEAVY)
)
#: Look-alike classes a reader sometimes names for one another.
CONFUSED: tuple[tuple[int, ...], ...] = (
    tuple(CLASS_IDS[c] for c in ("Consolidation", "Infiltration", "Lung Opacity")),
    tuple(CLASS_IDS[c] for c in ("ILD", "Pulmonary fibrosis")),
)
_CONFUSION = 0.15
_NORMAL_FALSE = 0.25  # unfounded boxes are rarer on a normal film
_FALSE_P = np.array([BOX_COUNTS[c] for c in CLASSES], float) / sum(BOX_COUNTS.values())


def choose_readers(rng: np.random.Generator) -> tuple[str, str, str]:
    """Three distinct readers, the heavy readers more often."""
    idx = rng.choice(len(READERS), size=3, replace=False, p=READER_WEIGHTS)
    return tuple(READERS[int(i)] for i in idx)  # type: ignore[return-value]


def jitter_box(box: Box, reader: Reader, rng: np.random.Generator, size: tuple[int, int]) -> Box:
    """``box`` as ``reader`` would draw it on a film of ``size`` (w, h), inside the film and
    at least 0.6 % of its longer side on each axis."""
    w, h = size
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    s = reader.scale * float(np.exp(rng.normal(0.0, 0.05)))
    bw, bh = (x1 - x0) * s, (y1 - y0) * s
    e = rng.normal(0.0, reader.jitter, 4) * np.array([bw, bh, bw, bh])
    nx0, ny0, nx1, ny1 = (
        cx - bw / 2 + e[0],
        cy - bh / 2 + e[1],
        cx + bw / 2 + e[2],
        cy + bh / 2 + e[3],
    )
    least = 0.006 * max(w, h)
    if nx1 - nx0 < least:
        nx0, nx1 = (nx0 + nx1 - least) / 2, (nx0 + nx1 + least) / 2
    if ny1 - ny0 < least:
        ny0, ny1 = (ny0 + ny1 - least) / 2, (ny0 + ny1 + least) / 2
    nx0, nx1 = float(np.clip(nx0, 0, w - 1)), float(np.clip(nx1, 1, w))
    ny0, ny1 = float(np.clip(ny0, 0, h - 1)), float(np.clip(ny1, 1, h))
    return (nx0, ny0, max(nx1, nx0 + 1.0), max(ny1, ny0 + 1.0))


def _unfounded(anchors: Anchors, rng: np.random.Generator) -> tuple[int, Box]:
    """A box where there is nothing: class by the competition's box frequencies, placed
    where that class would be (heart, knob, or somewhere in a lung)."""
    cid = int(rng.choice(len(CLASSES), p=_FALSE_P))
    if cid == CLASS_IDS["Cardiomegaly"]:
        return cid, anchors.heart
    if cid == CLASS_IDS["Aortic enlargement"]:
        return cid, anchors.knob
    k = int(rng.integers(2))
    x0, y0, x1, y1 = anchors.lungs[k]
    inner = 0.3 * (x1 - x0)  # keep off the heart and mediastinum, on the medial side
    x0, x1 = (x0, x1 - inner) if k == 0 else (x0 + inner, x1)
    bw, bh = (x1 - x0) * rng.uniform(0.15, 0.6), (y1 - y0) * rng.uniform(0.08, 0.35)
    ox, oy = x0 + rng.uniform(0, x1 - x0 - bw), y0 + rng.uniform(0, y1 - y0 - bh)
    return cid, (ox, oy, ox + bw, oy + bh)


def read_film(
    truth: list[tuple[int, Box]],
    anchors: Anchors,
    size: tuple[int, int],
    readers: tuple[str, ...],
    rng: np.random.Generator,
) -> list[Mark]:
    """Every reader's rows for one film with the true lesions ``truth`` (class, box)."""
    marks: list[Mark] = []
    for rad in readers:
        reader = READER_TRAITS[rad]
        own: list[Mark] = []
        for i, (cid, box) in enumerate(truth):
            if rng.random() >= min(0.97, DETECTION[CLASSES[cid]] * reader.sensitivity):
                continue
            group = next((g for g in CONFUSED if cid in g), None)
            named = int(rng.choice(group)) if group and rng.random() < _CONFUSION else cid
            own.append(Mark(rad, named, jitter_box(box, reader, rng, size), i))
        rate = reader.false_rate * (1.0 if truth else _NORMAL_FALSE)
        if rng.random() < rate:
            cid, box = _unfounded(anchors, rng)
            own.append(Mark(rad, cid, jitter_box(box, reader, rng, size)))
        marks.extend(own or [Mark(rad, NO_FINDING_ID, None)])
    return marks
