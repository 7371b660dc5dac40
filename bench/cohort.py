"""Cohort page costs: reopening from cache, a threshold change, and batch inference.

1. Open a 200-patient cohort from cache: data fingerprint (train.csv + 1,600 files),
   parquet read and validation, cached bootstrap intervals, and the first what-if report.
   Reference: the first-ever open, which also computes the 1,000-resample bootstrap.
2. A threshold change, server side: the what-if report, the error lists, the location table
   and the curve data, i.e. what the page's fragment recomputes; and a whole-page rerun
   through Streamlit's AppTest. Reference: re-running the models on the 200 patients, which
   is what the what-if avoids (from the throughput measured in 3).
3. Batch inference throughput (:func:`core.cohort.batch.run_batch`, the page's path and
   ``predict``'s: decode ahead, preprocess beside the models, three models, cache parts) on
   the demo held-out cohort when it exists, else on synthetic patients from
   :mod:`core.synth`; models from the demo bundle when it exists, else random-init
   demo-profile models (speed does not depend on the weights).

Figures (``results()``):

* ``whatif_ms``: step 2's fragment recompute on the 200-patient cohort (what-if report,
  location table, both error lists, ROC and PR data), median of :data:`REPEATS` threshold
  changes; ``whatif_page_rerun_ms``: the whole-page rerun, median of 6.
* ``batch_patients_per_s``: step 3, labelled patients finished per second of wall time
  over :data:`BATCH_PATIENTS` patients (after one warm-up patient), cache writes included.
"""

from __future__ import annotations

import functools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.inference import _bundle
from core.cohort.batch import bundle_predictor, run_batch
from core.cohort.cache import PredictionCache, cache_key
from core.cohort.errors import location_errors, patient_errors
from core.cohort.synthetic import write_fixture
from core.cohort.table import SCORE
from core.cohort.whatif import (
    interval_report,
    location_summary,
    ranking_report,
    suggest_thresholds,
    what_if,
    with_values,
)
from core.device import describe_device
from core.intake.folder import read_kium_folder
from core.metrics.binary import pr_table, roc_table
from core.models.thresholds import Thresholds
from core.paths import demo_cohort_dir
from core.schema import VIEWS
from core.synth.cohort import generate_cohort

__all__ = ["main", "results"]

PATIENTS = 200
N_BOOT = 1000
REPEATS = 20
BATCH_PATIENTS = 16
CHUNK = 8  # patients per chunk, as on the page


def _median_ms(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _open(cohort: Path, bundle: Path, cache: PredictionCache, thresholds: Thresholds) -> None:
    key = cache_key(bundle, cohort)
    table = cache.load(key)
    assert table is not None
    if cache.load_intervals(key, N_BOOT, 0) is None:
        cache.save_intervals(key, N_BOOT, 0, interval_report(table, N_BOOT))
    what_if(table, thresholds)


def _change(table: pd.DataFrame, thresholds: Thresholds, rankings: dict[str, Any]) -> None:
    """What the page's fragment recomputes when one slider moves."""
    result = what_if(table, thresholds, rankings)
    location_summary(result)
    patient_errors(table, thresholds)
    location_errors(table, thresholds)
    y, s = table["Aneurysm"].to_numpy(), table[SCORE].to_numpy()
    roc_table(y, s), pr_table(y, s)


@contextmanager
def _data_dir(path: Path) -> Iterator[None]:
    """Point ``core.paths`` at ``path`` for the duration (the page reads it)."""
    old = os.environ.get("REVIEW_DATA_DIR")
    os.environ["REVIEW_DATA_DIR"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("REVIEW_DATA_DIR")
        else:
            os.environ["REVIEW_DATA_DIR"] = old


def _page_rerun_ms(data: Path) -> float:
    """Median whole-page rerun after a slider move, Streamlit server side (AppTest)."""
    from streamlit.testing.v1 import AppTest

    page = Path(__file__).resolve().parent.parent / "pages" / "cohort.py"
    with _data_dir(data):
        at = AppTest.from_file(str(page), default_timeout=300).run()
        times = []
        for value in np.linspace(0.3, 0.7, 6):
            at.slider(key="wi_stage1").set_value(float(value))
            start = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - start)
            if at.exception:
                raise RuntimeError(f"the cohort page failed: {at.exception}")
    return 1000 * statistics.median(times)


def _batch_throughput(tmp: Path) -> tuple[float, str, str]:
    """Patients per second of the cohort batch path, and what it ran on."""
    bundle, source = _bundle(tmp)
    demo = demo_cohort_dir("heldout")
    if (demo / "train.csv").is_file():
        folder_path, data = demo, f"demo held-out cohort ({demo}), first {BATCH_PATIENTS} patients"
    else:
        folder_path = generate_cohort(tmp / "synth", BATCH_PATIENTS, seed=11)
        data = f"{BATCH_PATIENTS} synthetic patients from core.synth (no demo cohort found)"
    folder = read_kium_folder(folder_path)
    folder.files = {i: folder.files[i] for i in folder.indices[:BATCH_PATIENTS]}
    key = cache_key(bundle.path, folder_path)
    predict = bundle_predictor(bundle)
    predict([folder.load_case(folder.indices[0])])  # warm-up: first-call allocations
    start = time.perf_counter()
    report = run_batch(folder, key, PredictionCache(tmp / "batch-cache"), predict, chunk_size=CHUNK)
    elapsed = time.perf_counter() - start
    return report.ran / elapsed, f"{source}; {describe_device(bundle.device)}", data


@functools.cache
def _run() -> tuple[str, dict[str, float]]:
    """One measurement per process, shared by :func:`main` and :func:`results`."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bundle, cohort, table = write_fixture(tmp / "data", PATIENTS, seed=7, views=VIEWS)
        cache = PredictionCache(tmp / "data" / "cache" / "cohort")
        base = suggest_thresholds(table, "original")
        start = time.perf_counter()
        _open(cohort, bundle, cache, base)  # the first-ever open computes the bootstrap
        first_open = time.perf_counter() - start
        reopen = _median_ms(lambda: _open(cohort, bundle, cache, base), 5)
        moved = iter(
            [
                with_values(base, float(t), dict(base.labels), author="bench", rule="bench")
                for t in np.linspace(0.3, 0.7, REPEATS)
            ]
        )
        rankings = ranking_report(table)
        change = _median_ms(lambda: _change(table, next(moved), rankings))
        print("cohort: whole-page reruns (AppTest)…", file=sys.stderr)
        rerun = _page_rerun_ms(tmp / "data")
        print(f"cohort: batch inference on {BATCH_PATIENTS} patients…", file=sys.stderr)
        rate, models, data = _batch_throughput(tmp)

    reinfer = PATIENTS / rate
    rows = [
        ("reopen from cache (fingerprint, parquet, CIs, what-if)", reopen),
        (f"first open incl. bootstrap ({N_BOOT} resamples) [reference]", 1000 * first_open),
        ("threshold change: what-if + errors + curves (fragment)", change),
        ("threshold change: whole-page rerun (AppTest, server side)", rerun),
        ("re-running the models on the cohort [reference, from measured rate]", 1000 * reinfer),
    ]
    lines = [
        f"cohort: {PATIENTS} synthetic patients (K-Ium prevalence), "
        f"{PATIENTS * len(VIEWS)} image files",
        f"{'step':<72}{'ms':>12}",
        *(f"{name:<72}{ms:>12.1f}" for name, ms in rows),
        f"what-if vs re-inference: {reinfer * 1000 / change:,.0f}x faster; "
        f"reopen vs first open: {first_open * 1000 / reopen:,.0f}x faster",
        f"batch inference: {rate:.2f} patients/s ({len(VIEWS) * rate:.1f} views/s) on {models}",
        f"  data: {data}; chunks of {CHUNK}: decode, preprocess, 3 models, cache write",
    ]
    figures = {"whatif_ms": change, "whatif_page_rerun_ms": rerun, "batch_patients_per_s": rate}
    return "\n".join(lines), figures


def results() -> dict[str, float]:
    """``whatif_ms`` and ``batch_patients_per_s`` (and the page rerun); see the module."""
    return dict(_run()[1])


def main() -> None:
    print(_run()[0])


if __name__ == "__main__":
    main()
