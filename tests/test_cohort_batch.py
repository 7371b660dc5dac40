"""Batch inference over a real (tiny) cohort folder with the tiny bundle: resume, cache."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from models_fixtures import dsa_like

from core.case import Case
from core.cohort.batch import bundle_predictor, run_batch
from core.cohort.cache import CacheBusy, PredictionCache, cache_key
from core.cohort.table import has_peaks, validate_table
from core.intake.folder import read_kium_folder
from core.models.bundle import Bundle, load_bundle
from core.models.result import CaseResult
from core.schema import LOCATIONS, TRAIN_COLUMNS, VIEWS

N_PATIENTS = 5


@pytest.fixture(scope="module")
def bundle(tiny_bundle: Path) -> Bundle:
    return load_bundle(tiny_bundle, device="cpu")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five labelled patients of tiny DSA-like JPEGs; patient 5 lacks its V views."""
    out = tmp_path_factory.mktemp("cohort")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(1, N_PATIENTS + 1):
        views = VIEWS if i != 5 else [v for v in VIEWS if "I" in v]
        for v in views:
            cv2.imwrite(str(out / f"{i}{v}.jpg"), dsa_like(rng, 80, 96, 6))
        locs = {c: int(i % 3 == 0 and c == "L_MCA") for c in LOCATIONS}
        rows.append({"Index": i, "Aneurysm": int(any(locs.values())), **locs})
    pd.DataFrame(rows, columns=list(TRAIN_COLUMNS)).to_csv(out / "train.csv", index=False)
    cv2.imwrite(str(out / "99LI-A.jpg"), dsa_like(rng, 80, 96, 6))  # no train.csv row
    return out


class Interrupted(RuntimeError):
    pass


def _counting(predict, calls: list[int], fail_after: int | None = None):
    def wrapped(cases: Sequence[Case]) -> Sequence[CaseResult]:
        if fail_after is not None and sum(calls) >= fail_after:
            raise Interrupted("simulated crash")
        calls.append(len(cases))
        return predict(cases)

    return wrapped


def test_interrupted_run_resumes_where_it_stopped(
    tmp_path: Path, tiny_bundle: Path, bundle: Bundle, cohort: Path
) -> None:
    folder = read_kium_folder(cohort)
    key = cache_key(tiny_bundle, cohort)
    cache = PredictionCache(tmp_path / "cache")
    first: list[int] = []
    with pytest.raises(Interrupted):
        run_batch(
            folder,
            key,
            cache,
            _counting(bundle_predictor(bundle), first, fail_after=2),
            chunk_size=2,
        )
    assert first == [2] and len(cache.read_parts(key)) == 2 and not cache.has(key)

    second: list[int] = []
    progress: list[tuple[int, int]] = []
    report = run_batch(
        folder,
        key,
        cache,
        _counting(bundle_predictor(bundle), second),
        chunk_size=2,
        progress=lambda d, t: progress.append((d, t)),
    )
    assert second == [2, 1]  # only the three patients the crash left
    assert report.resumed == 2 and report.ran == 3 and report.total == N_PATIENTS
    assert progress[0] == (2, N_PATIENTS) and progress[-1] == (N_PATIENTS, N_PATIENTS)
    assert report.skipped == ["99: no train.csv row"]
    assert cache.has(key) and cache.read_parts(key) is None

    fresh: list[int] = []
    whole = run_batch(
        folder, key, PredictionCache(tmp_path / "fresh"), _counting(bundle_predictor(bundle), fresh)
    )
    assert sum(fresh) == N_PATIENTS
    cols = ["Index", "score", *[f"prob_{c}" for c in LOCATIONS]]
    pd.testing.assert_frame_equal(report.table[cols], whole.table[cols], atol=1e-6)


def test_cached_run_costs_no_inference(
    tmp_path: Path, tiny_bundle: Path, bundle: Bundle, cohort: Path
) -> None:
    folder = read_kium_folder(cohort)
    key = cache_key(tiny_bundle, cohort)
    cache = PredictionCache(tmp_path / "cache")
    run_batch(folder, key, cache, bundle_predictor(bundle))

    def forbidden(cases: Sequence[Case]) -> Sequence[CaseResult]:
        raise AssertionError("the cached cohort ran the model again")

    report = run_batch(folder, key, cache, forbidden)
    assert report.ran == 0 and len(report.table) == N_PATIENTS


def test_a_second_concurrent_run_is_refused(
    tmp_path: Path, tiny_bundle: Path, cohort: Path
) -> None:
    folder = read_kium_folder(cohort)
    key = cache_key(tiny_bundle, cohort)
    cache = PredictionCache(tmp_path / "cache")

    def forbidden(cases: Sequence[Case]) -> Sequence[CaseResult]:
        raise AssertionError("a second run started")

    with cache.run_lock(key), pytest.raises(CacheBusy):
        run_batch(folder, key, PredictionCache(tmp_path / "cache"), forbidden)
    with cache.run_lock(key):  # released again, even after the refusal
        pass


def test_table_content(tmp_path: Path, tiny_bundle: Path, bundle: Bundle, cohort: Path) -> None:
    folder = read_kium_folder(cohort)
    key = cache_key(tiny_bundle, cohort, variant="cam")
    table = run_batch(
        folder, key, PredictionCache(tmp_path), bundle_predictor(bundle, cam=True)
    ).table
    validate_table(table)
    assert has_peaks(table)
    row = table.set_index("Index").loc[5]  # the partial case: no V views
    assert np.isnan(row["score_posterior"]) and row["score"] == pytest.approx(row["score_anterior"])
    assert np.isnan(row["view_LV-A"]) and np.isnan(row["peak_x_RV-B"])
    assert row["prob_L_VA"] == 0.0  # no view shows it: 0 by the gating convention
    full = table.set_index("Index").loc[1]
    assert full["score"] == pytest.approx(max(full["score_anterior"], full["score_posterior"]))
    assert 0 <= full["peak_x_LI-A"] < full["width_LI-A"] and full["width_LI-A"] == 96
    assert (
        table.set_index("Index").loc[3, "L_MCA"] == 1 and table["case_hash"].str.len().eq(64).all()
    )
