"""The chest cohort's cached table: every detector member's own boxes, per film.

Why members and not the final boxes: WBF settings and the classifier rule are what-if
controls, so the cache must hold what comes *before* them (each detector role's boxes in
original pixels, the classifier's P(abnormal), the film size). Fusion and the rule then
rerun from the table, never the models.

One long table (:data:`MEMBER_COLUMNS`): a *film row* per film (``role`` empty,
``class_id`` -1, ``error`` empty or why the film could not be run) and one *box row* per
member box. It lives in :class:`ChestCohortCache`, the aneurysm cohort's
:class:`~core.cohort.cache.PredictionCache` (parts, lock, bounds, intervals) with a chest
table check, under its own root so the two studies' entries never mix.

The key (:func:`chest_cache_key`) is the bundle's ``bundle.json`` SHA-256, a fingerprint
of the VinBigData folder (:func:`chest_fingerprint`: the generic one plus ``sizes.csv`` and
the images in ``train/`` / ``images/``), and a pipeline version that adds the chest
decoding and runner sources to :func:`core.pipeline_version.pipeline_version`.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from core.cohort.cache import (
    CacheKey,
    PredictionCache,
    bundle_id,
    data_fingerprint,
    default_cache_root,
)
from core.models.manifest import sha256_file
from core.pipeline_version import pipeline_version
from core.roots import inside_roots
from core.studies.chest.classes import BOX_COLUMNS
from core.studies.chest.layout import SIZES_CSV, list_images

__all__ = [
    "FILM_CLASS",
    "MEMBER_COLUMNS",
    "ChestCohortCache",
    "ChestTableError",
    "chest_cache_key",
    "chest_fingerprint",
    "chest_pipeline",
    "validate_members",
]

log = logging.getLogger(__name__)

#: Columns of the member table (film rows and box rows; see the module docstring).
MEMBER_COLUMNS: tuple[str, ...] = (
    "image_id", "role", "class_id", "score", *BOX_COLUMNS, "width", "height", "p_abnormal",
    "error",
)  # fmt: skip
#: ``class_id`` of a film row.
FILM_CLASS = -1
#: Chest sources whose edits change what the table holds (beside the common pipeline).
_CHEST_SOURCES = ("runner.py", "film.py", "layout.py", "cohort/batch.py", "cohort/store.py")
_CHEST_DIR = Path(__file__).resolve().parent.parent


class ChestTableError(ValueError):
    """A member table that is not one (missing columns, a box without its film)."""


def validate_members(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the columns in order and typed; :class:`ChestTableError` otherwise."""
    if missing := [c for c in MEMBER_COLUMNS if c not in table.columns]:
        raise ChestTableError(f"not a chest member table: missing columns {missing}")
    out = table[list(MEMBER_COLUMNS)].astype(
        {"image_id": str, "role": str, "class_id": int, "score": float, "width": int,
         "height": int, "p_abnormal": float, "error": str} | dict.fromkeys(BOX_COLUMNS, float)
    )  # fmt: skip
    films = set(out.loc[out["class_id"] == FILM_CLASS, "image_id"])
    if orphans := sorted(set(out.loc[out["class_id"] != FILM_CLASS, "image_id"]) - films):
        raise ChestTableError(f"boxes of films without a film row: {orphans[:3]}")
    return out.reset_index(drop=True)


@functools.lru_cache(maxsize=1)
def chest_pipeline() -> str:
    """The common pipeline version plus the chest decoding/runner/table sources (once per
    process, as :func:`~core.pipeline_version.pipeline_version`)."""
    h = hashlib.sha256(pipeline_version().encode())
    for name in _CHEST_SOURCES:
        h.update(f"{name}:{sha256_file(_CHEST_DIR / name)};".encode())
    return h.hexdigest()


def chest_fingerprint(cohort_dir: str | Path) -> str:
    """A digest of a VinBigData folder: :func:`~core.cohort.cache.data_fingerprint` (labels,
    ``truth.json``, images directly in it) plus ``sizes.csv`` and every image the chest
    layout reads (``train/``, ``images/``) by name, size and mtime."""
    root = Path(cohort_dir)
    h = hashlib.sha256(data_fingerprint(root).encode())
    sizes = root / SIZES_CSV
    h.update(f"{SIZES_CSV}:{sha256_file(sizes) if sizes.is_file() else '-'};".encode())
    for image_id, path in sorted(list_images(root).items()):
        st = path.stat()
        h.update(f"{image_id}:{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def chest_cache_key(bundle_dir: str | Path, cohort_dir: str | Path) -> CacheKey:
    """The key of ``bundle_dir``'s members run on ``cohort_dir`` by this code."""
    return CacheKey(bundle_id(bundle_dir), chest_fingerprint(cohort_dir), pipeline=chest_pipeline())


def default_chest_root() -> Path:
    return default_cache_root().parent / "chest_cohort"


class ChestCohortCache(PredictionCache):
    """:class:`~core.cohort.cache.PredictionCache` holding chest member tables."""

    def __init__(self, root: str | Path | None = None, **kwargs: Any) -> None:
        """``root`` defaults to ``data/cache/chest_cohort`` (inside the writable roots)."""
        if root is None:
            root = inside_roots(default_chest_root(), writable=True)
        super().__init__(root, **kwargs)

    validate = staticmethod(validate_members)
    unit = "films"

    @staticmethod
    def count(table: pd.DataFrame) -> int:
        return int((table["class_id"] == FILM_CLASS).sum())
