"""Training data for the chest detectors and the normal/abnormal classifier.

Decoding a 1024-px DICOM costs more than a small detector's training step on one film, so
:func:`load_training_films` decodes each film once into a :class:`FilmCache` of ``uint8``
squares (15,000 films at 512 px are 3.9 GB); the datasets then only augment small arrays.
Films are squashed to ``side x side`` *without* keeping aspect, as the public 512-px PNG
copies are, so a box scales by ``side / width`` and ``side / height`` separately and no
padding band is ever learned.

Items are reproducible: augmentation draws from one generator seeded by ``(seed, epoch,
index)``. The epoch lives in a shared-memory tensor, so :meth:`ChestDetectionSet.set_epoch`
reaches DataLoader workers even when they persist between epochs (DDP ranks and a resumed
run see the same items for the same epoch).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from core.intake.errors import IntakeError
from core.studies.chest.annotations import AnnotationError
from core.studies.chest.augment import Augmenter, Sample, check_aug
from core.studies.chest.classes import NO_FINDING_ID
from core.studies.chest.fusion import FUSED_COLUMNS
from core.studies.chest.layout import SIZES_CSV, Size, image_path, load_film, read_sizes
from core.studies.chest.sampling import oversample_weights

__all__ = [
    "ChestClassifySet", "ChestDetectionSet", "FilmCache", "collate",
    "load_training_films", "resize_square",
]  # fmt: skip

log = logging.getLogger(__name__)


@dataclass
class FilmCache:
    """Decoded films at ``side x side`` ``uint8``, their original sizes, and the failures.

    ``pixels`` is one ``(n, side, side)`` block (one allocation, shared copy-on-write by
    forked DataLoader workers); ``images[image_id]`` is that film's row, a view (copy
    before writing). ``sizes[image_id]`` is the original ``(width, height)``, what the
    fused boxes are in.
    """

    side: int
    pixels: np.ndarray
    images: dict[str, np.ndarray]
    sizes: dict[str, Size]
    problems: dict[str, str] = field(default_factory=dict)  # image_id -> why it is missing

    def __len__(self) -> int:
        return len(self.images)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self.images

    @property
    def image_ids(self) -> list[str]:
        return list(self.images)

    def scale(self, image_id: str) -> tuple[float, float]:
        """``(sx, sy)``: original pixels times this are input pixels."""
        width, height = self.sizes[image_id]
        return self.side / width, self.side / height


def resize_square(image: np.ndarray, side: int) -> np.ndarray:
    """``side x side`` without keeping aspect: area averaging down (no aliasing of fine
    lines), linear up (area is nearest-like when enlarging)."""
    down = image.shape[0] * image.shape[1] >= side * side
    how = cv2.INTER_AREA if down else cv2.INTER_LINEAR
    return cv2.resize(image, (side, side), interpolation=how)


def _given_sizes(folder: Path, sizes: Mapping[str, Size] | pd.DataFrame | None
                 ) -> tuple[dict[str, Size], bool]:  # fmt: skip
    """Original sizes the caller or ``sizes.csv`` gives, and whether PNGs must be named."""
    if isinstance(sizes, pd.DataFrame):
        table = sizes[["width", "height"]]
        return {str(k): (int(w), int(h)) for k, w, h in table.itertuples()}, True
    if sizes is not None:
        return {str(k): (int(v[0]), int(v[1])) for k, v in sizes.items()}, True
    if (folder / SIZES_CSV).is_file():
        given, notes = read_sizes(folder / SIZES_CSV)
        for key, why in notes:
            log.warning("%s: %s", key or SIZES_CSV, why)
        return given, True
    return {}, False


def load_training_films(
    folder: str | Path,
    image_ids: Sequence[str],
    side: int,
    *,
    sizes: Mapping[str, Size] | pd.DataFrame | None = None,
    progress: bool = True,
) -> FilmCache:
    """Decode every film of ``image_ids`` once (``layout.image_path`` + ``load_film``) and
    keep it at ``side x side``; a file that fails is skipped, logged and put in ``problems``.

    ``sizes`` gives original ``(width, height)`` (a mapping, or ``Annotations.sizes``); by
    default ``sizes.csv`` of the folder when there is one (the layout's rule: its sizes win,
    and a PNG it does not name has no known original size, so it is skipped), else the
    decoded size. Raises ``ValueError`` for a bad ``side`` only.
    """
    if isinstance(side, bool) or not isinstance(side, int) or side < 8:
        raise ValueError(f"side {side!r} must be an int of at least 8")
    root = Path(folder)
    ids = list(dict.fromkeys(str(i) for i in image_ids))
    given, png_needs_size = _given_sizes(root, sizes)
    pixels = np.zeros((len(ids), side, side), np.uint8)
    cache = FilmCache(side, pixels, {}, {})
    start = time.perf_counter()
    bar = tqdm(ids, desc=f"decoding films at {side}px", unit="film", disable=not progress)
    for image_id in bar:
        try:
            path = image_path(root, image_id)
            if image_id not in given and png_needs_size and path.suffix.lower() == ".png":
                raise AnnotationError(f"{path.name}: a PNG copy with no original size given")
            film = load_film(path)
        except (IntakeError, AnnotationError, OSError) as err:
            cache.problems[image_id] = str(err)
            log.warning("skipped film %s: %s", image_id, err)
            continue
        pixels[len(cache)] = resize_square(film.pixels, side)
        cache.images[image_id] = pixels[len(cache)]
        cache.sizes[image_id] = given.get(image_id, film.original_size)
    cache.pixels = pixels[: len(cache)]  # a view: rows of failed films stay unused
    took = time.perf_counter() - start
    log.info("decoded %d films at %d px in %.1f s (%.3f s/film); %d skipped", len(cache),
             side, took, took / max(len(ids), 1), len(cache.problems))  # fmt: skip
    return cache


def _targets(films: FilmCache, fused: pd.DataFrame, image_ids: Sequence[str]
             ) -> tuple[list[str], dict[str, tuple[np.ndarray, np.ndarray]]]:  # fmt: skip
    """Usable ids (decoded ones, in order) and each one's boxes in input px and labels."""
    if missing := [c for c in FUSED_COLUMNS if c not in fused.columns]:
        raise ValueError(f"the fused table lacks the columns {missing}")
    ids = list(dict.fromkeys(str(i) for i in image_ids))
    if dropped := [i for i in ids if i not in films]:
        log.warning("%d of %d images not in the film cache (failed to decode): left out",
                    len(dropped), len(ids))  # fmt: skip
    ids = [i for i in ids if i in films]
    if not ids:
        raise ValueError("no image of the set is in the film cache")
    groups = fused.groupby(fused["image_id"].astype(str)).indices
    if unfused := [i for i in ids if i not in groups]:
        raise ValueError(f"{len(unfused)} images have no fused row, e.g. {unfused[:3]}")
    coords = fused[["x_min", "y_min", "x_max", "y_max"]].to_numpy(np.float64)
    classes = fused["class_id"].to_numpy(np.int64)
    out = {}
    for i in ids:
        rows = groups[i][classes[groups[i]] != NO_FINDING_ID]
        sx, sy = films.scale(i)
        boxes = np.clip(coords[rows] * [sx, sy, sx, sy], 0, films.side).astype(np.float32)
        ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        out[i] = (boxes[ok].reshape(-1, 4), classes[rows][ok])
    return ids, out


class _Seeded(Dataset):
    """The epoch (in shared memory) and the per-item generator both datasets use."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()

    def set_epoch(self, epoch: int) -> None:
        """Augmentation of every item is fixed by ``(seed, epoch, index)``; call before
        each epoch, like ``DistributedSampler.set_epoch``."""
        if epoch < 0:
            raise ValueError(f"epoch {epoch} is negative")
        self._epoch.fill_(int(epoch))

    @property
    def epoch(self) -> int:
        return int(self._epoch.item())

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, int(index)])


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    """``[1, H, W]`` float32 in ``[0, 1]``, scaled in numpy: torch would split so small an
    op over its intra-op threads, which on a busy 2-core machine cost ~15 ms an item."""
    return torch.from_numpy(image.astype(np.float32)[None] / np.float32(255.0))


class ChestDetectionSet(_Seeded):
    """Detector items: ``image`` float32 ``[1, side, side]`` in ``[0, 1]``, ``boxes``
    float32 ``(n, 4)`` xyxy input px, ``labels`` int64 ``(n,)`` 0-13 ("No finding" rows
    dropped; ``n`` may be 0), ``abnormal`` 0./1. (any box before augmentation), ``image_id``.

    Images of ``image_ids`` that failed to decode are left out with a warning. With
    ``aug="+oversample"``, :attr:`sample_weights` holds the rare-class repeat factors for
    the sampler; otherwise it is None.
    """

    def __init__(self, films: FilmCache, fused: pd.DataFrame, image_ids: Sequence[str],
                 aug: str = "original", seed: int = 0) -> None:  # fmt: skip
        super().__init__(seed)
        check_aug(aug)
        self.films, self.aug = films, aug
        self.image_ids, self._truth = _targets(films, fused, image_ids)
        self.augmenter = Augmenter(aug)
        self.sample_weights = (
            oversample_weights(fused, self.image_ids) if aug == "+oversample" else None
        )

    def __len__(self) -> int:
        return len(self.image_ids)

    def sample(self, index: int) -> Sample:
        """Item ``index`` before augmentation (the image is the cache's: do not write)."""
        image_id = self.image_ids[index]
        return Sample(self.films.images[image_id], *self._truth[image_id])

    def __getitem__(self, index: int) -> dict[str, object]:
        rng = self.rng(index)
        base = self.sample(index)

        def others(k: int) -> list[Sample]:
            return [self.sample(int(j)) for j in rng.integers(0, len(self), k)]

        out = self.augmenter(base, rng, others)
        return {
            "image": _to_tensor(out.image),
            "boxes": torch.as_tensor(out.boxes, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.as_tensor(out.labels, dtype=torch.int64).reshape(-1),
            "abnormal": float(len(base.labels) > 0),
            "image_id": self.image_ids[index],
        }


Batch = tuple[torch.Tensor, list[dict[str, torch.Tensor]], list[dict[str, object]]]


def collate(batch: Sequence[dict[str, object]]) -> Batch:
    """``(images [B, 1, H, W], targets [{boxes, labels}], meta [{image_id, abnormal}])``:
    boxes differ in count per image, so targets stay a list (torchvision's convention)."""
    images = torch.stack([b["image"] for b in batch])  # type: ignore[misc]
    targets = [{"boxes": b["boxes"], "labels": b["labels"]} for b in batch]
    meta = [{"image_id": b["image_id"], "abnormal": b["abnormal"]} for b in batch]
    return images, targets, meta  # type: ignore[return-value]


class ChestClassifySet(_Seeded):
    """``(image [1, side, side] in [0, 1], abnormal float32 scalar)`` for the normal/abnormal
    classifier (``abnormal``: any fused finding box). ``side`` defaults to the cache's;
    another side is resized per item (a cache at the classifier's side is faster when both
    fit in memory). Every :data:`AUG_SETS` name is taken, but mosaic and cutmix never run
    here (mixing films would mix their labels): ``+mix`` is flip-rot-zoom plus the gentle
    CLAHE, and ``+oversample`` is that with the caller's sampler weights."""

    def __init__(
        self,
        films: FilmCache,
        fused: pd.DataFrame,
        image_ids: Sequence[str],
        aug: str = "original",
        seed: int = 0,
        *,
        side: int | None = None,
    ) -> None:
        super().__init__(seed)
        check_aug(aug)
        self.films, self.side, self.aug = films, int(side or films.side), aug
        self.image_ids, truth = _targets(films, fused, image_ids)
        self.labels = np.array([len(truth[i][1]) > 0 for i in self.image_ids], np.float32)
        self.augmenter = Augmenter(aug)

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.films.images[self.image_ids[index]]
        if self.side != self.films.side:
            image = resize_square(image, self.side)
        empty = Sample(image, np.zeros((0, 4), np.float32), np.zeros(0, np.int64))
        out = self.augmenter(empty, self.rng(index))
        return _to_tensor(out.image), torch.tensor(self.labels[index])
