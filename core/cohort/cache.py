"""Cohort predictions cached on disk, so that reopening a cohort costs no inference.

A cache entry is keyed by *what produced it*: the bundle (SHA-256 of its ``bundle.json``,
which records the SHA-256 of every weight file), the data (a fingerprint of
``train.csv``, ``truth.json`` and every image file) and the code
(:func:`core.pipeline_version.pipeline_version`). Change a label, add, replace or touch
an image, retrain the bundle or change the preprocessing or decision code, and the key
changes, so a stale table is never shown.
The default fingerprint uses image names, sizes and modification times, which costs one
``stat`` per file; ``content=True`` hashes the bytes instead (slower, immune to tools that
rewrite a file keeping size and mtime).

Layout under ``core.paths.data_dir()/cache/cohort``::

    <key>.parquet          the finished table
    <key>.json             where it came from (bundle and cohort paths, when, how many)
    <key>.ci-N-S.json      bootstrap intervals of its AUROCs (N resamples, seed S)
    <key>.parts/NNNNN.parquet  chunks of an unfinished run, read back on resume
    <key>.lock             flock'd while a batch run writes (one run per key at a time),
                           removed when the run ends

Every write goes to a temporary name and is renamed into place, so an interrupted run
leaves whole chunks or nothing.

The cache is bounded (:mod:`core.cohort.cache_bounds`): after each saved table, entries
unused for more than 90 days go, then the least recently used while there are more than
64 entries or more than 1 GiB in all. Reading a table counts as a use; an entry whose run
holds its lock is never removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from core.cohort.cache_bounds import DEFAULT_BOUNDS, CacheBounds, PruneReport, entry_lock, prune
from core.cohort.table import validate_table
from core.intake.naming import is_candidate
from core.models.manifest import manifest_path, sha256_file
from core.paths import data_dir
from core.pipeline_version import pipeline_version
from core.roots import inside_roots

__all__ = [
    "VARIANTS",
    "CacheKey",
    "bundle_id",
    "data_fingerprint",
    "cache_key",
    "default_cache_root",
    "PredictionCache",
    "CacheBusy",
]

log = logging.getLogger(__name__)
_SIDECARS = ("train.csv", "truth.json")


#: Table variants: scores only, or scores plus each view's stage-1 CAM peak (slower to make).
VARIANTS = ("scores", "cam")


def _current_pipeline() -> str:
    """``pipeline_version`` looked up when a key is made (a test may patch it here)."""
    return pipeline_version()


@dataclass(frozen=True)
class CacheKey:
    """Which bundle ran on which data with which code, and whether CAM peaks were
    computed; ``name`` is the file stem of the entry. ``pipeline`` defaults to this
    process's :func:`~core.pipeline_version.pipeline_version`."""

    bundle: str
    data: str
    variant: str = "scores"
    pipeline: str = field(default_factory=_current_pipeline)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown table variant {self.variant!r}; use one of {VARIANTS}")

    @property
    def name(self) -> str:
        return f"{self.bundle[:16]}-{self.data[:16]}-{self.pipeline[:12]}-{self.variant}"


def bundle_id(bundle_dir: str | Path) -> str:
    """SHA-256 of ``bundle.json``: the same digest :class:`core.models.bundle.Bundle` keeps.

    The bytes are hashed without checking the manifest, so a cached table opens without
    reading more of the bundle than this file.
    """
    return sha256_file(manifest_path(bundle_dir))


def data_fingerprint(cohort_dir: str | Path, *, content: bool = False) -> str:
    """A digest of the labels, the synthetic truth and every image file of a cohort folder.

    Sidecar files are always hashed by content (they are small and a label edit must
    change the key). Images are the files intake would read (directly in the folder, an
    image suffix or none: :func:`core.intake.naming.is_candidate`), identified by name plus
    size and mtime, or by content when ``content`` is set.
    """
    root = Path(cohort_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"cohort folder {root} does not exist")
    h = hashlib.sha256()
    for name in _SIDECARS:
        path = root / name
        h.update(f"{name}:{sha256_file(path) if path.is_file() else '-'};".encode())
    images = sorted(
        p
        for p in root.iterdir()
        if p.is_file() and not p.name.startswith(".") and is_candidate(p.name)
    )
    for p in images:
        if content:
            h.update(f"{p.name}:{sha256_file(p)};".encode())
        else:
            st = p.stat()
            h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def cache_key(
    bundle_dir: str | Path,
    cohort_dir: str | Path,
    *,
    variant: str = "scores",
    content: bool = False,
) -> CacheKey:
    """The key of ``bundle_dir`` run on ``cohort_dir`` by this process's pipeline code."""
    return CacheKey(bundle_id(bundle_dir), data_fingerprint(cohort_dir, content=content), variant)


def default_cache_root() -> Path:
    return data_dir() / "cache" / "cohort"


class CacheBusy(RuntimeError):
    """Another session (or process) is already running the same bundle on the same data."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class PredictionCache:
    """Finished tables and the chunks of unfinished runs, one directory per app data dir."""

    def __init__(
        self, root: str | Path | None = None, *, bounds: CacheBounds = DEFAULT_BOUNDS
    ) -> None:
        """``root`` defaults to :func:`default_cache_root`, which must resolve inside the
        writable roots (a ``data/cache`` symlinked elsewhere raises
        :class:`~core.roots.PathOutsideRoots`); an explicit ``root`` is the caller's choice
        (the CLI, a benchmark, a test), never a user's. ``bounds``: how much it may hold."""
        if root is None:
            root = inside_roots(default_cache_root(), writable=True)
        self.root = Path(root)
        self.bounds = bounds

    def table_path(self, key: CacheKey) -> Path:
        return self.root / f"{key.name}.parquet"

    def parts_dir(self, key: CacheKey) -> Path:
        return self.root / f"{key.name}.parts"

    def has(self, key: CacheKey) -> bool:
        return self.table_path(key).is_file()

    def load(self, key: CacheKey) -> pd.DataFrame | None:
        """The finished table, or ``None`` when this bundle has not run on this data (or
        its entry was just pruned). A hit marks the entry as used (its table's mtime)."""
        path = self.table_path(key)
        try:
            table = self.read_table(path)
            os.utime(path)
        except FileNotFoundError:
            return None
        return table

    #: Checks a table before it is written and after it is read (a stale or foreign file
    #: fails here, by name); a study's cache holding another table shape overrides it.
    validate = staticmethod(validate_table)
    #: What the sidecar calls one row of :meth:`count`.
    unit = "patients"

    @staticmethod
    def count(table: pd.DataFrame) -> int:
        """How many units (patients; a chest cache: films) a finished table holds."""
        return len(table)

    @classmethod
    def read_table(cls, path: Path) -> pd.DataFrame:
        """A finished table file, validated."""
        return cls.validate(pd.read_parquet(path))

    def meta(self, key: CacheKey) -> dict[str, Any] | None:
        path = self.root / f"{key.name}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def save(self, key: CacheKey, table: pd.DataFrame, meta: dict[str, Any] | None = None) -> Path:
        """Write the finished table (validated) and its sidecar, then drop any chunks."""
        table = self.validate(table)
        path = self.table_path(key)
        _atomic_parquet(table, path)
        record = {
            "bundle": key.bundle,
            "data": key.data,
            "pipeline": key.pipeline,
            f"n_{self.unit}": self.count(table),
            "created": _now(),
            **(meta or {}),
        }
        side = self.root / f"{key.name}.json"
        tmp = side.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=2))
        tmp.replace(side)
        shutil.rmtree(self.parts_dir(key), ignore_errors=True)
        log.info("cached %d %s at %s", self.count(table), self.unit, path)
        self.prune(keep=key)
        return path

    def prune(self, keep: CacheKey | None = None) -> PruneReport:
        """Bring the cache under :attr:`bounds`; ``keep``'s entry is never removed."""
        return prune(self.root, keep.name if keep is not None else None, self.bounds)

    def write_part(self, key: CacheKey, rows: pd.DataFrame) -> Path:
        """Append one chunk of an unfinished run."""
        folder = self.parts_dir(key)
        folder.mkdir(parents=True, exist_ok=True)
        n = len(list(folder.glob("*.parquet")))
        path = folder / f"{n:05d}.parquet"
        _atomic_parquet(rows, path)
        return path

    def read_parts(self, key: CacheKey) -> pd.DataFrame | None:
        """Every chunk written so far, in order; ``None`` when no run was started."""
        folder = self.parts_dir(key)
        parts = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        if not parts:
            return None
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)

    def intervals_path(self, key: CacheKey, n_boot: int, seed: int) -> Path:
        return self.root / f"{key.name}.ci-{n_boot}-{seed}.json"

    def load_intervals(self, key: CacheKey, n_boot: int, seed: int) -> dict[str, Any] | None:
        """A bootstrap report saved by :meth:`save_intervals` (it is slow to recompute)."""
        path = self.intervals_path(key, n_boot, seed)
        return json.loads(path.read_text()) if path.is_file() else None

    def save_intervals(self, key: CacheKey, n_boot: int, seed: int, report: dict[str, Any]) -> Path:
        path = self.intervals_path(key, n_boot, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(report))
        tmp.replace(path)
        return path

    @contextmanager
    def run_lock(self, key: CacheKey) -> Iterator[None]:
        """Hold the right to run ``key``; raises :class:`CacheBusy` if another run holds it.

        Two sessions running the same cohort would write the same patients twice. ``flock``
        conflicts between threads of one server too and is released if the process dies;
        pruning takes the same lock, so it never removes what a run is writing.
        """
        with entry_lock(self.root, key.name) as held:
            if not held:
                raise CacheBusy(f"another run of {key.name} is in progress")
            yield

    def clear(self, key: CacheKey) -> None:
        """Forget a table and its chunks (a rerun from scratch)."""
        for path in (
            self.table_path(key),
            self.root / f"{key.name}.json",
            *self.root.glob(f"{key.name}.ci-*.json"),
        ):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.parts_dir(key), ignore_errors=True)


def _atomic_parquet(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    df.to_parquet(tmp, index=False)
    tmp.replace(path)
