"""Synthetic cohorts for the demo, generated on every core.

The generator is single-process and ~1 s per patient, but every patient comes from its own
``(seed, Index)`` random stream (:func:`core.synth.labels.patient_streams`), so a cohort can
be rendered in contiguous Index chunks by separate processes and merged: the result is the
cohort ``generate_cohort`` would write in one process (same labels, pixels and truth).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from core.synth.cohort import generate_cohort

__all__ = ["generate_parallel"]

log = logging.getLogger(__name__)


def _chunk(args: tuple[Path, int, int, int, int]) -> Path:
    out, patients, seed, start, pad = args
    return generate_cohort(out, patients, seed, start_index=start, pad_width=pad)


def generate_parallel(
    out: Path,
    patients: int,
    seed: int,
    *,
    start_index: int = 1,
    pad_width: int = 0,
    workers: int | None = None,
) -> Path:
    """Write a cohort like ``generate_cohort(out, patients, seed, ...)`` using ``workers``
    processes (default: every core), each rendering a contiguous block of indices."""
    workers = max(1, min(workers or os.cpu_count() or 1, patients))
    sizes = [patients // workers + (k < patients % workers) for k in range(workers)]
    starts = [start_index + sum(sizes[:k]) for k in range(workers)]
    parts = [out.with_name(f"{out.name}.part{k}") for k in range(workers)]
    for p in [out, *parts]:
        shutil.rmtree(p, ignore_errors=True)
    jobs = [(p, n, seed, s, pad_width) for p, n, s in zip(parts, sizes, starts)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_chunk, jobs))
    out.mkdir(parents=True)
    tables, truth = [], {}
    for p in parts:
        tables.append(pd.read_csv(p / "train.csv"))
        part_truth = json.loads((p / "truth.json").read_text())
        if not truth:
            truth = part_truth
        else:
            truth["images"] |= part_truth["images"]
            truth["patients"] |= part_truth["patients"]
        for img in p.glob("*.jpg"):
            img.rename(out / img.name)
        shutil.rmtree(p)
    pd.concat(tables).to_csv(out / "train.csv", index=False, lineterminator="\n")
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    log.info("wrote %d patients to %s with %d processes", patients, out, workers)
    return out
