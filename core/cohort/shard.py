"""Running a bundle over many patients: one path for ``predict`` (any number of ranks) and
for the cohort page's batch run.

Why one function: the CLI under ``torchrun`` and the page's resumable batch must never
disagree on which patients ran, in which groups, or how a crash is resumed. Both call
:func:`run_patients`; they differ only in the :class:`PartStore` that keeps finished
patients (the CLI: JSON parts beside ``OUT.csv``; the page: the cohort cache's parquet
parts) and in how the caller merges them at the end.

* **Fixed chunks.** The patient list is cut into chunks of ``chunk_size`` in folder order,
  numbered from 0. Chunk ``c`` belongs to rank ``c % world``. A chunk is the unit of a
  model call and of a part file, so which patients share a forward pass never depends on
  the number of ranks or on an earlier interruption: the outputs are the same bytes for
  one process or many.
* **Resume.** A chunk whose patients are all in the store is skipped; the store is read
  once at the start, so a crash loses at most the chunks in flight.
* **Overlap.** While the models run on chunk ``c``, a background thread decodes chunk
  ``c + 1`` (JPEG/DICOM decoding releases the GIL), so the models never wait for a disk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from core.case import Case
from core.intake.folder import KiumFolder
from core.models.result import CaseResult

__all__ = [
    "PredictFn",
    "ProgressFn",
    "PartStore",
    "ShardRun",
    "chunk_plan",
    "part_name",
    "run_patients",
]

log = logging.getLogger(__name__)

#: Runs the models on a list of cases and returns one result per case, in order.
PredictFn = Callable[[Sequence[Case]], Sequence[CaseResult]]
#: Called after each chunk with (patients done, patients in total) for this rank's share.
ProgressFn = Callable[[int, int], None]


class PartStore(Protocol):
    """Where finished patients go, one part per chunk, written whole or not at all."""

    def done(self) -> set[int]:
        """Indices of the patients already stored (by an earlier, interrupted run too)."""
        ...

    def write(self, name: str, indices: Sequence[int], results: Sequence[CaseResult]) -> None:
        """Store one chunk's results under ``name`` (unique per chunk; see :func:`part_name`)."""
        ...


@dataclass(frozen=True)
class ShardRun:
    """What one rank did."""

    rank: int
    world: int
    owned: int  # patients in this rank's chunks
    resumed: int  # of those, found in the store at the start
    ran: int  # patients run by this call


def chunk_plan(indices: Sequence[int], chunk_size: int) -> list[list[int]]:
    """``indices`` cut into consecutive chunks of ``chunk_size`` (the last may be short)."""
    size = max(1, chunk_size)
    return [list(indices[s : s + size]) for s in range(0, len(indices), size)]


def part_name(chunk_size: int, number: int) -> str:
    """A part's file stem: names sort in folder order and never collide across ranks; the
    chunk size is in the name so a rerun with another size cannot overwrite a part."""
    return f"c{max(1, chunk_size):04d}-{number:06d}"


def _load(folder: KiumFolder, chunk: Sequence[int]) -> list[Case]:
    return [folder.load_case(i) for i in chunk]


def run_patients(
    folder: KiumFolder,
    indices: Sequence[int],
    predict: PredictFn,
    store: PartStore,
    *,
    rank: int = 0,
    world: int = 1,
    chunk_size: int = 8,
    progress: ProgressFn | None = None,
) -> ShardRun:
    """Run this rank's chunks of ``indices`` that the store lacks, one part per chunk.

    Chunks are written in order on the calling thread; an exception from ``predict`` or
    the store propagates after the chunks before it were written. Merging the parts
    (and waiting for the other ranks) is the caller's job.
    """
    if not 0 <= rank < max(1, world):
        raise ValueError(f"rank {rank} outside a world of {world}")
    done = store.done()
    plan = chunk_plan(indices, chunk_size)
    mine = [(n, c) for n, c in enumerate(plan) if n % max(1, world) == rank]
    owned = sum(len(c) for _, c in mine)
    todo = [(n, c) for n, c in mine if not set(c) <= done]
    finished = owned - sum(len(c) for _, c in todo)
    if finished:
        log.info("rank %d: resuming, %d of %d patients already done", rank, finished, owned)
    if progress is not None:
        progress(finished, owned)
    ran = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode") as pool:
        ahead: Future[list[Case]] | None = None
        for k, (number, chunk) in enumerate(todo):
            cases = ahead.result() if ahead is not None else _load(folder, chunk)
            ahead = pool.submit(_load, folder, todo[k + 1][1]) if k + 1 < len(todo) else None
            results = predict(cases)
            if len(results) != len(cases):
                raise RuntimeError(f"the model returned {len(results)} results for {len(cases)}")
            store.write(part_name(chunk_size, number), chunk, results)
            ran += len(chunk)
            finished += len(chunk)
            if progress is not None:
                progress(finished, owned)
    return ShardRun(rank, max(1, world), owned, owned - ran, ran)
