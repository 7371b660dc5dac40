"""One synthetic film end to end, and a cohort of them on disk, over several processes.

Every film comes from its own random streams keyed by (seed, index)
(:func:`image_streams`): findings, body and lesions, film noise, readers. So a film is the
same whatever the cohort size or the number of processes, and a cohort written by a pool
of workers is byte-identical to one written in a single process (as the aneurysm
generator's demo cohorts are, :mod:`core.demo_cohorts`). Workers write their image files
themselves and hand back only ``train.csv`` rows and truth records, which the parent
writes in index order. Workers start from a fork server, so a parent that already runs
threads (pandas/pyarrow, OpenCV) cannot hand a held lock to a child.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from core.studies.chest.classes import ALL_LABELS, CLASSES, TRAIN_COLUMNS
from core.studies.chest.synth.anatomy import render_anatomy
from core.studies.chest.synth.body import LEFT, RIGHT, Body
from core.studies.chest.synth.film import (
    Film,
    expose,
    rotation_matrix,
    transform_points,
    voi_window,
)
from core.studies.chest.synth.findings import NORMAL_FRACTION, sample_findings
from core.studies.chest.synth.lesions import AORTIC, CARDIOMEGALY, draw_lesion
from core.studies.chest.synth.readers import Anchors, Mark, choose_readers, read_film
from core.studies.chest.synth.write import dicom_bytes, display_pixels, image_id, png_bytes

__all__ = [
    "DEFAULT_SIZE",
    "GENERATOR_VERSION",
    "Rendered",
    "generate_chest_cohort",
    "image_streams",
    "render_image",
]  # fmt: skip

#: Bumped whenever the same seed would give different files.
GENERATOR_VERSION = 1
DEFAULT_SIZE = 1024
_DOMAIN = 0x43585253  # keeps chest streams apart from the aneurysm generator's (seed, index)

log = logging.getLogger(__name__)
Box = tuple[float, float, float, float]


def image_streams(seed: int, index: int) -> tuple[np.random.Generator, ...]:
    """(findings, body and lesions, film, noise, readers) streams of one film."""
    ss = np.random.SeedSequence(seed, spawn_key=(_DOMAIN, index))
    return tuple(np.random.default_rng(s) for s in ss.spawn(5))


@dataclass
class Rendered:
    """Everything known about one film: stored pixels, acquisition, truth and readings."""

    image_id: str
    stored: np.ndarray
    film: Film
    window: tuple[float, float] | None
    lesions: list[dict]  # class_id, class_name, box (film pixels, end-exclusive), detail
    readers: tuple[str, ...]
    marks: list[Mark]
    ctr: float

    def truth_record(self, file: str) -> dict:
        """This film's entry in ``truth.json`` (``file`` is its image file's name)."""
        window = list(self.window) if self.window is not None else None
        return {"file": file, "width": self.film.width, "height": self.film.height,
                "normal": not self.lesions, "readers": list(self.readers),
                "lesions": self.lesions, "cardiothoracic_ratio": round(self.ctr, 3),
                "film": {**self.film.to_json(), "window": window}}  # fmt: skip


def _box(points: np.ndarray, matrix: np.ndarray, film: Film) -> list[int] | None:
    """Integer box (x0, y0, x1, y1), end-exclusive, of canvas points on the rotated film."""
    if len(points) == 0:
        return None
    p = transform_points(points, matrix)
    x0, y0 = max(0, math.floor(p[:, 0].min())), max(0, math.floor(p[:, 1].min()))
    x1 = min(film.width, math.ceil(p[:, 0].max()))
    y1 = min(film.height, math.ceil(p[:, 1].max()))
    return [x0, y0, x1, y1] if x1 > x0 and y1 > y0 else None


def _anchors(body: Body, matrix: np.ndarray, film: Film) -> tuple[Anchors, np.ndarray]:
    """Readers' anchor boxes (lung fields above the domes), and the box both lungs span
    (collimation must spare it)."""
    c, r = body.knob_px()
    knob = np.array([(c[0] - r, c[1] - r), (c[0] + r, c[1] + r)])
    lungs = [body.lung_outline(s) for s in (RIGHT, LEFT)]
    domes = [body.apex_y + d * body.lh for d in body.dome]
    fields = [p[p[:, 1] <= d] for p, d in zip(lungs, domes)]
    boxes = [_box(p, matrix, film) for p in (body.heart_box(), knob, *fields, np.vstack(lungs))]
    heart, knob_box, right, left, both = (tuple(float(v) for v in b or (0, 0, 1, 1)) for b in boxes)
    return Anchors(heart, knob_box, (right, left)), np.array(both)


def render_image(
    seed: int,
    index: int,
    size: int = DEFAULT_SIZE,
    *,
    normal_fraction: float = NORMAL_FRACTION,
    adjust: Callable[[Film], Film] | None = None,
) -> Rendered:
    """Film ``index`` of the cohort ``seed``, in memory. ``adjust`` edits the drawn film
    before exposure (tests use it to expose one body as MONOCHROME1 and MONOCHROME2)."""
    f_rng, b_rng, film_rng, n_rng, r_rng = image_streams(seed, index)
    classes = sample_findings(f_rng, normal_fraction)
    film = Film.sample(film_rng, size)
    if adjust is not None:
        film = adjust(film)
    body = Body.sample(b_rng, film.width, film.height, wide_heart=CARDIOMEGALY in classes,
                       big_knob=AORTIC in classes)  # fmt: skip
    layers = render_anatomy(body, b_rng)
    matrix = rotation_matrix(film)
    lesions: list[dict] = []
    for cid in classes:
        lesion = draw_lesion(cid, body, layers, b_rng)
        box = _box(lesion.points, matrix, film)
        if box is None:  # drawn wholly outside a lung: it is not there to be seen
            log.debug("film %d: a %s left no trace", index, CLASSES[cid])
            continue
        detail = {k: ("R" if v == RIGHT else "L") if k == "side" else v
                  for k, v in lesion.detail.items()}  # fmt: skip
        lesions.append({"class_id": cid, "class_name": CLASSES[cid], "box": box, **detail})
    anchors, keep = _anchors(body, matrix, film)
    stored = expose(layers.density(), film, n_rng, keep)
    readers = choose_readers(r_rng)
    truth = [(d["class_id"], tuple(float(v) for v in d["box"])) for d in lesions]
    marks = read_film(truth, anchors, (film.width, film.height), readers, r_rng)
    return Rendered(image_id(seed, index), stored, film, voi_window(stored, film), lesions,
                    readers, marks, float(body.ctr))  # fmt: skip


def _rows(r: Rendered) -> list[dict]:
    out = []
    for m in r.marks:
        box = [float(round(v)) for v in m.box] if m.box is not None else [math.nan] * 4
        out.append(dict(zip(TRAIN_COLUMNS, [r.image_id, ALL_LABELS[m.class_id], m.class_id,
                                            m.rad_id, *box])))  # fmt: skip
    return out


def _write_one(job: tuple[Path, int, int, int, bool, float]) -> tuple[str, list[dict], dict]:
    """Render film ``index`` and write its image file; returns (id, csv rows, truth)."""
    out, seed, index, size, png512, normal_fraction = job
    r = render_image(seed, index, size, normal_fraction=normal_fraction)
    data = dicom_bytes(r.stored, r.film, r.window, r.image_id)
    if png512:
        name = f"{r.image_id}.png"
        (out / name).write_bytes(png_bytes(display_pixels(data, name)))
    else:
        name = f"{r.image_id}.dicom"
        (out / name).write_bytes(data)
    return r.image_id, _rows(r), {"index": index, **r.truth_record(name)}


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one process per core already; more threads only contend


@contextmanager
def _package_main() -> Iterator[None]:
    """Present the project's CLI module as ``__main__`` while workers start.

    A fork server's child re-runs the parent's ``__main__`` by path unless it is a
    package's ``__main__`` module. Inside Streamlit (the app and its AppTest) ``__main__``
    is the page script, which must never run in a worker (measured: the cohort page ran
    in each worker and crashed it); ``python -m core`` is unaffected.
    """
    import core.__main__ as cli

    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = cli
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def generate_chest_cohort(
    out: Path,
    images: int,
    seed: int,
    *,
    size: int = DEFAULT_SIZE,
    png512: bool = False,
    workers: int | None = None,
    normal_fraction: float = NORMAL_FRACTION,
) -> Path:
    """Write ``images`` synthetic films in the VinBigData layout into ``out``: train.csv,
    one ``<image_id>.dicom`` (or ``.png`` and sizes.csv with ``png512``) per film, and
    truth.json. ``workers`` processes (default: every core; 1 renders in-process).

    Workers start from a fork server (see :func:`_package_main` for why the caller's
    ``__main__`` is never re-run in them).
    """
    if images < 1:
        raise ValueError(f"images must be at least 1, got {images}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(workers or os.cpu_count() or 1, images))
    jobs = [(out, seed, i, size, png512, normal_fraction) for i in range(images)]
    start, every = time.perf_counter(), max(1, images // 10)
    results = []

    def note(n: int) -> None:
        if n % every == 0 or n == images:
            log.info("chest synth: %d/%d films (%.3f s/film)", n, images,
                     (time.perf_counter() - start) / n)  # fmt: skip

    if workers == 1:
        for n, job in enumerate(jobs, 1):
            results.append(_write_one(job))
            note(n)
    else:
        chunk = max(1, images // (workers * 8))
        # Workers come from a fork server, not a fork of this process: a fork taken while
        # another thread (pyarrow's allocator, OpenCV's pool) holds a lock deadlocks.
        ctx = multiprocessing.get_context("forkserver")
        with (
            _package_main(),
            ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker) as pool,
        ):
            for n, res in enumerate(pool.map(_write_one, jobs, chunksize=chunk), 1):
                results.append(res)
                note(n)
    rows = [row for _, r, _ in results for row in r]
    pd.DataFrame(rows, columns=list(TRAIN_COLUMNS)).to_csv(
        out / "train.csv", index=False, lineterminator="\n"
    )
    if png512:
        sizes = [(i, t["width"], t["height"]) for i, _, t in results]
        pd.DataFrame(sizes, columns=["image_id", "width", "height"]).to_csv(
            out / "sizes.csv", index=False, lineterminator="\n"
        )
    truth = {"study": "chest", "seed": seed, "generator_version": GENERATOR_VERSION,
             "size": size, "format": "png512" if png512 else "dicom",
             "normal_fraction": round(normal_fraction, 4), "box_convention":
             "[x_min, y_min, x_max, y_max] in original film pixels, x_max/y_max exclusive",
             "images": {i: t for i, _, t in results}}  # fmt: skip
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    log.info("wrote %d chest films to %s with %d process(es)", images, out, workers)
    return out
