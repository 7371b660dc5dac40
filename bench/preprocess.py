"""Preprocessing throughput: ours against the original algorithm, on the same JPEGs.

40 synthetic views (five patients from :mod:`core.synth`, resized to 1000x1000 and written
as JPEG quality 90) are read from disk and decoded with :func:`core.intake.decode_image`,
then preprocessed. Both pipelines pay the same read and decode, so the table splits each
image's time into decode and the preprocessing step, and gives the ratio both ways.
Timings are the median of ``REPEATS`` passes over all images, on one thread (OpenCV and
torch pinned to one), so that a figure means the same on a 2-core laptop and a server.

:func:`results` returns the two figures ``bench/results.json`` takes (issue 16).
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from core.intake import decode_image
from core.preprocess.pipeline import preprocess_image
from core.preprocess.reference import reference_preprocess
from core.synth import generate_patient, sample_labels

__all__ = ["main", "results"]

IMAGES = 40
SIDE = 1000
REPEATS = 5


def _write_images(folder: Path) -> list[Path]:
    """``IMAGES`` synthetic views at ``SIDE`` x ``SIDE`` as JPEG files."""
    rng = np.random.default_rng(2026)
    paths: list[Path] = []
    index = 1
    while len(paths) < IMAGES:
        views = generate_patient(index, sample_labels(rng), rng, heights=(SIDE, SIDE))
        for view, (img, _) in views.items():
            path = folder / f"{index}{view}.jpg"
            square = cv2.resize(img, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(path), square, [cv2.IMWRITE_JPEG_QUALITY, 90])
            paths.append(path)
        index += 1
    return paths[:IMAGES]


@contextmanager
def _one_thread() -> Iterator[None]:
    """OpenCV and torch on one thread while timing (the figures are per core), then back:
    the benches after this one in the same ``python -m bench`` process use every core."""
    import torch  # imported here: only the timing needs it pinned, not the module

    cv_threads, torch_threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(cv_threads)
        torch.set_num_threads(torch_threads)


def _median_times(paths: list[Path], step: Callable[[np.ndarray], object]) -> tuple[float, float]:
    """``(decode, step)`` seconds over all images, each the median of ``REPEATS`` passes.

    Both are clocked per image in the same pass, so that the step's share is not a small
    difference of two noisy totals. One warm-up pass first (imports, allocator).
    """
    decodes, works = [], []
    for i in range(REPEATS + 1):
        decode = work = 0.0
        for path in paths:
            t0 = time.perf_counter()
            gray, _ = decode_image(path.name, path.read_bytes())
            t1 = time.perf_counter()
            step(gray)
            t2 = time.perf_counter()
            decode, work = decode + t1 - t0, work + t2 - t1
        if i:
            decodes.append(decode)
            works.append(work)
    return float(np.median(decodes)), float(np.median(works))


@functools.cache
def _measure() -> tuple[int, dict[str, tuple[float, float]]]:
    """``(views, {pipeline: (decode s, step s)})``, measured once per process and shared
    by :func:`main` and :func:`results`."""
    with _one_thread(), tempfile.TemporaryDirectory() as tmp:
        paths = _write_images(Path(tmp))
        timings = {
            "ours (crop + text detect + fill)": _median_times(paths, preprocess_image),
            "reference (centre walk + box)": _median_times(paths, reference_preprocess),
        }
    return len(paths), timings


def results() -> dict[str, float]:
    """The preprocessing figures of ``bench/results.json``, from this run."""
    n, timings = _measure()
    (_, ours), (_, ref) = timings.values()
    return {
        # Ours: crop + text detection + fill (core.preprocess.pipeline.preprocess_image) on
        # one decoded 1000x1000 view, decode excluded, one thread; the median of REPEATS
        # passes over the 40 views, divided by 40.
        "preprocess_ms_per_view": round(1000 * ours / n, 2),
        # The original-style algorithm (core.preprocess.reference: centre walk + fixed-box
        # fill) on the same decoded views, under the same conditions.
        "reference_preprocess_ms_per_view": round(1000 * ref / n, 2),
    }


def main() -> None:
    n, timings = _measure()
    print(f"{n} JPEG views, {SIDE}x{SIDE}, median of {REPEATS} passes, one thread; "
          "read+decode is the same code for both")  # fmt: skip
    print(f"{'pipeline':<34}{'images/s':>10}{'ms/image':>10}{'decode ms':>11}{'step ms':>9}")
    for name, (decode, step) in timings.items():
        total = decode + step
        print(f"{name:<34}{n / total:>10.1f}{1000 * total / n:>10.1f}"
              f"{1000 * decode / n:>11.1f}{1000 * step / n:>9.2f}")  # fmt: skip
    (ours_decode, ours_step), (ref_decode, ref_step) = timings.values()
    ratio = (ref_decode + ref_step) / (ours_decode + ours_step)
    print(
        f"ours/reference throughput, decode included: {ratio:.3f}; preprocessing step "
        f"alone: ours takes {ours_step / ref_step:.0f}x the reference's time"
    )


if __name__ == "__main__":
    main()
