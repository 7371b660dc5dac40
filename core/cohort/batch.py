"""Batch inference over a labelled cohort, in chunks that survive an interruption.

Each chunk of patients is decoded, run and written to the cache as its own parquet file
before the next one starts, so closing the browser tab, a crash or Ctrl-C loses at most
one chunk: the next run reads the chunks back, skips those patients and continues. When
every patient is done the chunks become one table (:meth:`PredictionCache.save`).

The model call is a parameter (:data:`PredictFn`), so tests can count or forbid forward
passes and the page can pass :func:`bundle_predictor`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.case import Case
from core.cohort.cache import CacheKey, PredictionCache
from core.cohort.table import TableError, row_from_result, validate_table
from core.intake.folder import KiumFolder
from core.models.bundle import Bundle
from core.models.inference import predict_cases
from core.models.result import CaseResult

__all__ = ["PredictFn", "ProgressFn", "BatchReport", "bundle_predictor", "run_batch"]

log = logging.getLogger(__name__)

#: Runs the models on a list of cases and returns one result per case, in order.
PredictFn = Callable[[Sequence[Case]], Sequence[CaseResult]]
#: Called after each chunk with (patients done, patients in total).
ProgressFn = Callable[[int, int], None]


@dataclass
class BatchReport:
    """The finished table and what the run did to get it."""

    table: pd.DataFrame
    total: int  # labelled patients in the folder
    resumed: int  # patients found in chunks of an earlier, interrupted run
    ran: int  # patients run by this call
    skipped: list[str] = field(default_factory=list)  # patients left out, with the reason


def bundle_predictor(bundle: Bundle, *, cam: bool = False, cases_per_batch: int = 8) -> PredictFn:
    """The real model call: :func:`core.models.inference.predict_cases` on ``bundle``."""

    def predict(cases: Sequence[Case]) -> Sequence[CaseResult]:
        return predict_cases(bundle, cases, cam=cam, cases_per_batch=cases_per_batch)

    return predict


def run_batch(
    folder: KiumFolder,
    key: CacheKey,
    cache: PredictionCache,
    predict: PredictFn,
    *,
    chunk_size: int = 16,
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
        done_rows = cache.read_parts(key)
        done = set() if done_rows is None else set(done_rows["Index"].astype(int))
        todo = [i for i in indices if i not in done]
        if done:
            log.info("resuming %s: %d of %d patients done", key.name, len(done), len(indices))
        _run_chunks(
            folder,
            key,
            cache,
            predict,
            todo,
            len(done),
            len(indices),
            chunk_size,
            progress,
            skipped,
        )
        table = cache.read_parts(key)
        if table is None:
            raise TableError(f"no patient of {folder.root.name} could be scored")
        table = validate_table(table)
        cache.save(key, table, {**(meta or {}), "skipped": skipped})
    return BatchReport(table, len(indices), len(done), len(todo), skipped)


def _run_chunks(
    folder: KiumFolder,
    key: CacheKey,
    cache: PredictionCache,
    predict: PredictFn,
    todo: list[int],
    finished: int,
    total: int,
    chunk_size: int,
    progress: ProgressFn | None,
    skipped: list[str],
) -> None:
    """Decode, run and write ``todo`` one chunk at a time, reporting after each."""
    labels = folder.labels or {}
    if progress is not None:
        progress(finished, total)
    for start in range(0, len(todo), max(1, chunk_size)):
        chunk = todo[start : start + chunk_size]
        cases = [folder.load_case(i) for i in chunk]
        results = predict(cases)
        if len(results) != len(cases):
            raise RuntimeError(f"the model returned {len(results)} results for {len(cases)} cases")
        rows = []
        for i, result in zip(chunk, results, strict=True):
            try:
                rows.append(row_from_result(result, i, labels[i]))
            except TableError as err:
                skipped.append(str(err))
        if rows:
            cache.write_part(key, pd.DataFrame(rows))
        finished += len(chunk)
        if progress is not None:
            progress(finished, total)
