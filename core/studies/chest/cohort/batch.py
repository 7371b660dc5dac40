"""Batch inference of a chest bundle over a labelled VinBigData folder, resumable.

As the aneurysm cohort (:mod:`core.cohort.batch`): films are decoded and run a chunk at a
time and each chunk is written to the cache's parts before the next starts, so an
interrupted run loses at most one chunk and the next run continues where it stopped. A
film that cannot be decoded gets a film row with the reason; the others go on.

What is kept per film is :mod:`.store`'s member table: each detector role's own boxes
(``ChestOutput.members``), P(abnormal) and the original size, so fusion and the rule can
change later without inference. The model call is a parameter (:data:`RunFn`), so tests
can count or forbid forward passes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.cohort.cache import CacheKey
from core.intake.errors import IntakeError
from core.models.bundle import Bundle
from core.studies.chest.classes import BOX_COLUMNS
from core.studies.chest.cohort.store import (
    FILM_CLASS,
    MEMBER_COLUMNS,
    ChestCohortCache,
    ChestTableError,
    validate_members,
)
from core.studies.chest.layout import image_path, load_film, read_vinbigdata
from core.studies.chest.roles import detector_roles
from core.studies.chest.runner import ChestOutput, ChestRunner

__all__ = ["ChestBatchReport", "ProgressFn", "RunFn", "bundle_runner", "member_rows",
           "run_chest_batch", "failures"]  # fmt: skip

log = logging.getLogger(__name__)

#: ``(pixels per film, original sizes, image ids) -> one ChestOutput per film``.
RunFn = Callable[[Sequence[np.ndarray], Sequence[tuple[int, int]], Sequence[str]],
                 Sequence[ChestOutput]]  # fmt: skip
#: Called after each chunk with (films done, films in total, seconds left or None).
ProgressFn = Callable[[int, int, float | None], None]


@dataclass
class ChestBatchReport:
    """The finished member table and what the run did to get it."""

    table: pd.DataFrame
    total: int  # labelled films in the folder
    resumed: int  # films found in parts of an earlier, interrupted run
    ran: int  # films run by this call
    failed: list[str] = field(default_factory=list)  # "image_id: reason" of films not run


def bundle_runner(bundle: Bundle) -> RunFn:
    """The real model call: :meth:`ChestRunner.run` on ``bundle`` (members kept)."""
    return ChestRunner(bundle).run


def _film_row(image_id: str, size: tuple[int, int], p: float | None, error: str = "") -> dict:
    return {"image_id": image_id, "role": "", "class_id": FILM_CLASS, "score": np.nan,
            **dict.fromkeys(BOX_COLUMNS, np.nan), "width": int(size[0]), "height": int(size[1]),
            "p_abnormal": np.nan if p is None else float(p), "error": error}  # fmt: skip


def member_rows(out: ChestOutput) -> pd.DataFrame:
    """One film's :data:`MEMBER_COLUMNS` rows: its film row, then every member's boxes."""
    rows = [_film_row(out.image_id, out.size, out.p_abnormal)]
    for role, (boxes, scores, labels) in out.members.items():
        for box, score, label in zip(np.asarray(boxes).reshape(-1, 4), scores, labels):
            rows.append(rows[0] | {"role": role, "class_id": int(label), "score": float(score),
                                   **dict(zip(BOX_COLUMNS, map(float, box)))})  # fmt: skip
    return pd.DataFrame(rows, columns=list(MEMBER_COLUMNS))


def _done_ids(parts: pd.DataFrame | None) -> set[str]:
    if parts is None:
        return set()
    return set(parts.loc[parts["class_id"] == FILM_CLASS, "image_id"].astype(str))


def run_chest_batch(
    cohort_dir: Path,
    key: CacheKey,
    cache: ChestCohortCache,
    run: RunFn,
    roles: Sequence[str],
    *,
    chunk_size: int = 8,
    progress: ProgressFn | None = None,
    meta: dict[str, Any] | None = None,
) -> ChestBatchReport:
    """Run every labelled film of ``cohort_dir`` not yet cached under ``key``, then cache
    the whole member table. A finished table is returned without running anything.

    ``roles`` are the bundle's model roles (the detector members are recorded in the
    sidecar, so a film where a member found nothing still counts that member). Raises
    :class:`~core.cohort.cache.CacheBusy` while another run of ``key`` is in progress.
    """
    annotations = read_vinbigdata(cohort_dir)
    sizes = annotations.sizes
    unusable = _unusable(annotations.errors, set(sizes.index))
    ids = sorted([str(i) for i in annotations.image_ids] + list(unusable))
    with cache.run_lock(key):
        cached = cache.load(key)
        if cached is not None:
            return ChestBatchReport(cached, len(ids), len(ids), 0, failures(cached))
        done = _done_ids(cache.read_parts(key))
        todo = [i for i in ids if i not in done]
        if done:
            log.info("resuming %s: %d of %d films done", key.name, len(done), len(ids))
        started, finished = time.perf_counter(), len(done)
        if progress is not None:
            progress(finished, len(ids), None)
        for start in range(0, len(todo), max(1, chunk_size)):
            chunk = todo[start : start + chunk_size]
            bad = [
                pd.DataFrame([_film_row(i, (0, 0), None, unusable[i])])
                for i in chunk
                if i in unusable
            ]
            good = [i for i in chunk if i not in unusable]
            frames = bad + (_run_chunk(cohort_dir, good, sizes, run) if good else [])
            cache.write_part(key, pd.concat(frames, ignore_index=True))
            finished += len(chunk)
            if progress is not None:
                rate = (time.perf_counter() - started) / (finished - len(done))
                progress(finished, len(ids), rate * (len(ids) - finished))
        table = cache.read_parts(key)
        if table is None:
            raise ChestTableError(f"{Path(cohort_dir).name} has no labelled film to run")
        table = validate_members(table)
        detectors = list(detector_roles(roles))
        cache.save(key, table, {**(meta or {}), "detectors": detectors, "roles": list(roles)})
    return ChestBatchReport(table, len(ids), len(done), len(todo), failures(table))


def _run_chunk(cohort_dir: Path, chunk: list[str], sizes: pd.DataFrame,
               run: RunFn) -> list[pd.DataFrame]:  # fmt: skip
    """Decode ``chunk``, run the good films in one call; bad films get a reason row."""
    good: list[tuple[str, np.ndarray, tuple[int, int]]] = []
    frames = []
    for image_id in chunk:
        size = (int(sizes.loc[image_id, "width"]), int(sizes.loc[image_id, "height"]))
        try:
            film = load_film(image_path(cohort_dir, image_id), original_size=size)
        except (IntakeError, OSError, ValueError) as err:
            log.warning("%s: not run (%s)", image_id, err)
            frames.append(pd.DataFrame([_film_row(image_id, size, None, str(err) or "unreadable")]))
            continue
        good.append((image_id, film.pixels, film.original_size))
    if good:
        outs = run([g[1] for g in good], [g[2] for g in good], [g[0] for g in good])
        if len(outs) != len(good):
            raise RuntimeError(f"the runner returned {len(outs)} outputs for {len(good)} films")
        frames += [member_rows(o) for o in outs]
    return frames


def _unusable(errors: pd.DataFrame, usable: set[str]) -> dict[str, str]:
    """Images the folder scan could not size (an unreadable header), with the reason: they
    get a film row saying why instead of silently leaving the cohort."""
    rows = errors[errors["reason"].astype(str).str.startswith("image unusable")]
    out: dict[str, str] = {}
    for image_id, reason in zip(rows["image_id"].astype(str).str.strip(), rows["reason"]):
        if image_id and image_id not in usable:
            out.setdefault(image_id, str(reason))
    return out


def failures(table: pd.DataFrame) -> list[str]:
    bad = table[(table["class_id"] == FILM_CLASS) & (table["error"] != "")]
    return [f"{i}: {e}" for i, e in zip(bad["image_id"], bad["error"])]
