"""Batch inference over a labelled cohort, in chunks that survive an interruption.

The patients go through :func:`core.cohort.shard.run_patients`, the same path as
``python -m core predict`` (under ``torchrun`` too): each chunk is decoded, run and
written to the cache as its own parquet part before the next one is written, so closing
the browser tab, a crash or Ctrl-C loses at most the chunk in flight; the next run reads
the parts back, skips those patients and continues. When every patient is done the parts
become one table (:meth:`PredictionCache.save`).

The model call is a parameter (:data:`PredictFn`), so tests can count or forbid forward
passes and the page can pass :func:`bundle_predictor`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.cam.methods import DEFAULT_METHOD
from core.case import Case
from core.cohort.cache import CacheKey, PredictionCache
from core.cohort.shard import PredictFn, ProgressFn, run_patients
from core.cohort.table import TableError, row_from_result, validate_table
from core.intake.folder import KiumFolder
from core.models.bundle import Bundle
from core.models.inference import predict_cases
from core.models.result import CaseResult

__all__ = ["PredictFn", "ProgressFn", "BatchReport", "bundle_predictor", "run_batch"]

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    """The finished table and what the run did to get it."""

    table: pd.DataFrame
    total: int  # labelled patients in the folder
    resumed: int  # patients found in chunks of an earlier, interrupted run
    ran: int  # patients run by this call
    skipped: list[str] = field(default_factory=list)  # patients left out, with the reason


def bundle_predictor(
    bundle: Bundle, *, cam: bool = False, method: str = DEFAULT_METHOD
) -> PredictFn:
    """The real model call: :func:`core.models.inference.predict_cases` on ``bundle``, one
    group per chunk (every model runs once per batch of the chunk's views).

    Why the whole chunk: batching across patients keeps each pass full, and chunks are
    fixed (:func:`core.cohort.shard.chunk_plan`), so which patients share a pass never
    depends on the number of ranks or on a resume. Cleaning each case on a thread beside
    per-case passes was tried: 0.08-0.09 against 0.18-0.20 patients/s for this path, A/B
    in one process on the 2-core machine while other jobs loaded it (load 10-17): more
    threads than cores and smaller passes; so preprocessing stays in the chunk's call.
    """

    def predict(cases: Sequence[Case]) -> Sequence[CaseResult]:
        return predict_cases(
            bundle, cases, cam=cam, method=method, cases_per_batch=max(1, len(cases))
        )

    return predict


class _CacheParts:
    """:class:`~core.cohort.shard.PartStore` over the cohort cache: one parquet part per
    chunk of table rows; a patient whose row cannot be made is reported, not stored."""

    def __init__(self, folder: KiumFolder, key: CacheKey, cache: PredictionCache) -> None:
        self.labels = folder.labels or {}
        self.key, self.cache = key, cache
        self.skipped: list[str] = []

    def done(self) -> set[int]:
        rows = self.cache.read_parts(self.key)
        return set() if rows is None else set(rows["Index"].astype(int))

    def write(self, name: str, indices: Sequence[int], results: Sequence[CaseResult]) -> None:
        rows = []
        for i, result in zip(indices, results, strict=True):
            try:
                rows.append(row_from_result(result, i, self.labels[i]))
            except TableError as err:
                self.skipped.append(str(err))
        if not rows:
            return
        folder = self.cache.parts_dir(self.key)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.parquet"
        tmp = path.with_name(path.name + ".tmp")  # renamed into place: whole parts only
        pd.DataFrame(rows).to_parquet(tmp, index=False)
        tmp.replace(path)


def run_batch(
    folder: KiumFolder,
    key: CacheKey,
    cache: PredictionCache,
    predict: PredictFn,
    *,
    chunk_size: int = 8,
    progress: ProgressFn | None = None,
    meta: dict[str, Any] | None = None,
) -> BatchReport:
    """Run every labelled patient not yet cached under ``key`` and cache the whole table.

    A finished table under ``key`` is returned as is, without running anything. Raises
    :class:`~core.cohort.cache.CacheBusy` while another run of the same key is in progress.
    """
    if folder.labels is None:
        raise TableError(f"{folder.root.name} has no train.csv: a cohort needs labels")
    indices = [i for i in folder.indices if i in folder.labels]
    skipped = [f"{i}: no train.csv row" for i in folder.indices if i not in folder.labels]
    with cache.run_lock(key):  # raises CacheBusy while another session runs the same key
        cached = cache.load(key)  # looked up under the lock: a run may just have finished it
        if cached is not None:
            return BatchReport(cached, len(indices), len(cached), 0, skipped)
        store = _CacheParts(folder, key, cache)
        run = run_patients(
            folder, indices, predict, store, chunk_size=chunk_size, progress=progress
        )
        skipped += store.skipped
        table = cache.read_parts(key)
        if table is None:
            raise TableError(f"no patient of {folder.root.name} could be scored")
        order = {i: n for n, i in enumerate(indices)}
        table = table.drop_duplicates("Index")  # a part rerun with another chunk size
        table = table.sort_values("Index", key=lambda s: s.map(order), kind="stable")
        table = validate_table(table.reset_index(drop=True))
        cache.save(key, table, {**(meta or {}), "skipped": skipped})
    return BatchReport(table, len(indices), run.resumed, run.ran, skipped)
