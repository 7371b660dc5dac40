"""The origin write-up's four augmentation sets for the chest detectors, box-aware.

:data:`AUG_SETS` are cumulative, each adding to the one before:

``original``
    Nothing: the resized film and its fused boxes.
``flip-rot-zoom``
    Horizontal flip (p 0.5), then one affine warp (p 0.5) with rotation within
    ±:data:`ROTATE_DEG` and zoom within ±:data:`ZOOM` (10 %), through albumentations with
    ``BboxParams(format="pascal_voc", min_visibility=...)``. **Rotation is ±10°, not the
    origin's 90°**: chest PA films always arrive upright, so a film turned on its side is
    one the detector will never meet, and it would spend capacity learning lungs lying
    sideways; a few degrees is the real spread of patient positioning. A rotated box is
    the box around the rotated box corners (``largest_box``), so it always covers the
    lesion; at 10° a square box grows by about 16 % a side (a 90° turn would be exact, but
    useless). The flip mirrors anatomy (heart on the right), as the origin and most top
    teams accepted: no class is defined by its side, so labels stay valid. Borders
    replicate the edge, so no dark frame appears (a dark frame looks like film margin).
``+mix``
    Adds, before the warp, mosaic (p :data:`MOSAIC_P`: this film and three others of the
    set in four tiles around a random centre) or cutmix (p :data:`CUTMIX_P`: a random
    rectangle of another film pasted at the same place, so anatomy roughly lines up), and
    after it a *gentle* CLAHE (p :data:`CLAHE_P`). Boxes are cut at the seams; a piece
    keeping under :data:`MIN_VISIBILITY` of its area or thinner than :data:`MIN_BOX_PX`
    is dropped (a sliver of a nodule is not a nodule).
``+oversample``
    The same items as ``+mix``; rare classes are drawn more often by the sampler, with
    the weights of :func:`core.studies.chest.sampling.oversample_weights`.

**Intensity stays gentle.** Opacity is diagnostic (consolidation, effusion, ILD are
"whiter lung"), so no augmentation may change how bright a region is by much: CLAHE's
change is capped per pixel at :data:`INTENSITY_LIMIT` (5 % of full scale), and there is
no brightness/contrast jitter at all (the origin had none).

Every random draw of one item comes from one ``numpy`` generator the dataset seeds by
``(seed, epoch, index)``, so items are reproducible for DDP ranks and resumed runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import NamedTuple

import cv2
import numpy as np

# albumentations asks PyPI for a newer version on import unless told not to; a clinical
# app must not phone home (and the training machines are offline).
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A

__all__ = [
    "AUG_SETS", "CLAHE_P", "CUTMIX_P", "INTENSITY_LIMIT", "MIN_BOX_PX", "MIN_VISIBILITY",
    "MOSAIC_P", "ROTATE_DEG", "ZOOM", "Augmenter", "Sample", "check_aug", "clip_to_region",
    "cutmix", "gentle_clahe", "geometry", "mosaic", "subtract_region",
]  # fmt: skip

AUG_SETS: tuple[str, ...] = ("original", "flip-rot-zoom", "+mix", "+oversample")
ROTATE_DEG = 10.0
ZOOM = 0.10
FLIP_P, AFFINE_P = 0.5, 0.5
MOSAIC_P, CUTMIX_P, CLAHE_P = 0.25, 0.25, 0.5
#: The most any intensity change may move one pixel, as a share of full scale.
INTENSITY_LIMIT = 0.05
CLAHE_CLIP, CLAHE_TILES = 2.0, 8
#: A cut box keeps at least this share of its area, and this many pixels a side.
MIN_VISIBILITY, MIN_BOX_PX = 0.3, 2.0
CUTMIX_AREA = (0.1, 0.35)  # share of the film the pasted rectangle covers
MOSAIC_CENTRE = (0.3, 0.7)  # where the four tiles meet, as a share of the side

Region = tuple[float, float, float, float]


class Sample(NamedTuple):
    """One film at input size: ``uint8`` HxW, boxes ``(n, 4)`` float32 xyxy, labels int64."""

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray


def check_aug(aug: str) -> int:
    """The level of ``aug`` (its index in :data:`AUG_SETS`); ``ValueError`` if unknown."""
    if aug not in AUG_SETS:
        raise ValueError(f"unknown augmentation set {aug!r}; use one of {AUG_SETS}")
    return AUG_SETS.index(aug)


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, 4), np.float32), np.zeros(0, np.int64)


def clip_to_region(boxes: np.ndarray, labels: np.ndarray, region: Region
                   ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Boxes cut to ``region``; a piece under :data:`MIN_VISIBILITY` of the box or thinner
    than :data:`MIN_BOX_PX` is dropped (what a tile or a pasted patch keeps)."""
    if not len(boxes):
        return _empty()
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    cut = np.concatenate([np.maximum(b[:, :2], region[:2]), np.minimum(b[:, 2:], region[2:])], 1)
    return _keep(b, cut, labels)


def subtract_region(boxes: np.ndarray, labels: np.ndarray, region: Region
                    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Boxes of a film with ``region`` pasted over: each becomes the box around its visible
    part (trimmed where the region covers a whole side, ignoring slivers under
    :data:`MIN_BOX_PX` beside it), dropped like :func:`clip_to_region`."""
    if not len(boxes):
        return _empty()
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    x0, y0, x1, y1 = region
    cut = b.copy()
    # the region crosses the box top to bottom (or leaves less than a sliver beside it)
    spans_y = (y0 < b[:, 1] + MIN_BOX_PX) & (y1 > b[:, 3] - MIN_BOX_PX)
    spans_x = (x0 < b[:, 0] + MIN_BOX_PX) & (x1 > b[:, 2] - MIN_BOX_PX)
    from_left, from_right = (x0 <= b[:, 0]) & (x1 > b[:, 0]), (x0 < b[:, 2]) & (x1 >= b[:, 2])
    from_top, from_bottom = (y0 <= b[:, 1]) & (y1 > b[:, 1]), (y0 < b[:, 3]) & (y1 >= b[:, 3])
    cut[:, 0] = np.where(spans_y & from_left, np.maximum(b[:, 0], x1), cut[:, 0])
    cut[:, 2] = np.where(spans_y & from_right, np.minimum(b[:, 2], x0), cut[:, 2])
    cut[:, 1] = np.where(spans_x & from_top, np.maximum(b[:, 1], y1), cut[:, 1])
    cut[:, 3] = np.where(spans_x & from_bottom, np.minimum(b[:, 3], y0), cut[:, 3])
    inter = np.clip(np.minimum(b[:, 2], x1) - np.maximum(b[:, 0], x0), 0, None) * np.clip(
        np.minimum(b[:, 3], y1) - np.maximum(b[:, 1], y0), 0, None
    )
    return _keep(b, cut, labels, visible=_area(b) - inter)


def _area(b: np.ndarray) -> np.ndarray:
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def _keep(before: np.ndarray, after: np.ndarray, labels: np.ndarray,
          visible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    visible = _area(after) if visible is None else visible
    ok = (visible >= MIN_VISIBILITY * _area(before)) & (visible > 0)
    ok &= (after[:, 2] - after[:, 0] >= MIN_BOX_PX) & (after[:, 3] - after[:, 1] >= MIN_BOX_PX)
    return after[ok].astype(np.float32), np.asarray(labels, np.int64)[ok]


def mosaic(samples: Sequence[Sample], rng: np.random.Generator) -> Sample:
    """Four films in four tiles meeting at a random centre; one shared scale (0.5-0.7, just
    enough that every tile is filled) keeps lesion sizes alike, and each tile shows a random
    window of its film. Boxes are moved with their film and cut at the tile's edges."""
    if len(samples) != 4:
        raise ValueError(f"mosaic needs 4 films, got {len(samples)}")
    h, w = samples[0].image.shape
    cx, cy = (round(rng.uniform(*MOSAIC_CENTRE) * n) for n in (w, h))
    f = max(cx / w, 1 - cx / w, cy / h, 1 - cy / h)
    sw, sh = max(int(np.ceil(f * w)), 1), max(int(np.ceil(f * h)), 1)
    out = np.empty((h, w), np.uint8)
    boxes, labels = [], []
    tiles = [(0, 0, cx, cy), (cx, 0, w, cy), (0, cy, cx, h), (cx, cy, w, h)]
    for s, (x0, y0, x1, y1) in zip(samples, tiles, strict=True):
        small = cv2.resize(s.image, (sw, sh), interpolation=cv2.INTER_AREA)
        ox = int(rng.integers(0, sw - (x1 - x0) + 1))
        oy = int(rng.integers(0, sh - (y1 - y0) + 1))
        out[y0:y1, x0:x1] = small[oy : oy + y1 - y0, ox : ox + x1 - x0]
        scale, shift = np.array([sw / w, sh / h] * 2), np.array([x0 - ox, y0 - oy] * 2)
        moved = s.boxes * scale + shift
        b, lab = clip_to_region(moved, s.labels, (x0, y0, x1, y1))
        boxes.append(b)
        labels.append(lab)
    return Sample(out, np.concatenate(boxes).astype(np.float32), np.concatenate(labels))


def cutmix(base: Sample, other: Sample, rng: np.random.Generator) -> Sample:
    """``other``'s rectangle (:data:`CUTMIX_AREA` of the film, aspect 1:2-2:1) pasted at the
    same place on ``base``; ``base``'s boxes lose the covered part, ``other``'s are cut to it."""
    h, w = base.image.shape
    area = rng.uniform(*CUTMIX_AREA) * w * h
    aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))
    pw = int(np.clip(round(np.sqrt(area * aspect)), 1, w))
    ph = int(np.clip(round(np.sqrt(area / aspect)), 1, h))
    x0, y0 = int(rng.integers(0, w - pw + 1)), int(rng.integers(0, h - ph + 1))
    region = (x0, y0, x0 + pw, y0 + ph)
    out = base.image.copy()
    out[y0 : y0 + ph, x0 : x0 + pw] = other.image[y0 : y0 + ph, x0 : x0 + pw]
    kept, kept_labels = subtract_region(base.boxes, base.labels, region)
    pasted, pasted_labels = clip_to_region(other.boxes, other.labels, region)
    return Sample(out, np.concatenate([kept, pasted]), np.concatenate([kept_labels, pasted_labels]))


def gentle_clahe(image: np.ndarray, limit: float = INTENSITY_LIMIT) -> np.ndarray:
    """CLAHE whose change is capped at ``limit`` of full scale per pixel: it sharpens local
    contrast a little without turning grey lung white (opacity is diagnostic)."""
    full = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=(CLAHE_TILES,) * 2).apply(image)
    step = int(limit * 255)
    delta = np.clip(full.astype(np.int16) - image, -step, step)
    return (image + delta).astype(np.uint8)


def geometry(flip_p: float = FLIP_P, affine_p: float = AFFINE_P) -> A.Compose:
    """The box-aware flip + rotate/zoom of ``flip-rot-zoom`` (see the module docstring);
    the probabilities are parameters so each step can be checked on its own."""
    return A.Compose(
        [
            A.HorizontalFlip(p=flip_p),
            A.Affine(
                rotate=(-ROTATE_DEG, ROTATE_DEG),
                scale=(1 - ZOOM, 1 + ZOOM),
                keep_ratio=True,
                rotate_method="largest_box",
                border_mode=cv2.BORDER_REPLICATE,
                p=affine_p,
            ),
        ],
        bbox_params=A.BboxParams(
            format="pascal_voc",
            label_fields=["labels"],
            min_visibility=MIN_VISIBILITY,
            min_width=MIN_BOX_PX,
            min_height=MIN_BOX_PX,
            clip=True,
        ),
    )


class Augmenter:
    """One augmentation set, applied to one item: mix, then warp, then CLAHE.

    ``others(k)`` must return ``k`` un-augmented films of the same set (drawn with the
    item's generator, so mixes are reproducible too); it is called only by ``+mix`` and up.
    Without it (the classifier, whose label would mix too) mosaic and cutmix are skipped.
    """

    def __init__(self, aug: str) -> None:
        self.aug, self.level = aug, check_aug(aug)
        self._geometry = geometry()  # cheap to build; unused by "original"

    def __call__(self, sample: Sample, rng: np.random.Generator,
                 others: Callable[[int], list[Sample]] | None = None) -> Sample:  # fmt: skip
        if self.level == 0:
            return sample
        if self.level >= 2 and others is not None:
            u = rng.random()
            if u < MOSAIC_P:
                sample = mosaic([sample, *others(3)], rng)
            elif u < MOSAIC_P + CUTMIX_P:
                sample = cutmix(sample, others(1)[0], rng)
        self._geometry.set_random_seed(int(rng.integers(2**31)))
        boxes = np.clip(sample.boxes, 0, [*sample.image.shape[::-1]] * 2)
        ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        r = self._geometry(image=sample.image, bboxes=boxes[ok], labels=sample.labels[ok])
        image = np.ascontiguousarray(r["image"])
        if self.level >= 2 and rng.random() < CLAHE_P:
            image = gentle_clahe(image)
        out_boxes = np.asarray(r["bboxes"], np.float32).reshape(-1, 4)
        return Sample(image, out_boxes, np.asarray(r["labels"], np.int64).reshape(-1))
