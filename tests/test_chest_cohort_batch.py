"""Chest cohort batch runs: cached per-member boxes, resumable after an interruption, a bad
film reported and the rest run, keys that follow the data, and the bench API end to end."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.cohort.cache import CacheBusy
from core.studies.chest.cohort.api import find_study_table, load_cohort, run_cohort, what_if
from core.studies.chest.cohort.batch import run_chest_batch
from core.studies.chest.cohort.store import FILM_CLASS, ChestCohortCache, chest_cache_key
from core.studies.chest.layout import list_images
from core.studies.chest.runner import ChestOutput

ROLES = ["detector_a", "detector_b", "classifier"]


class Interrupted(RuntimeError):
    pass


def fake_runner(calls: list[int], fail_on: int | None = None):  # noqa: ANN201
    """Two members' boxes per film and P(abnormal), no model; ``fail_on``: the call that
    dies (an interruption)."""

    def run(pixels, sizes, ids):  # noqa: ANN001, ANN202
        calls.append(len(ids))
        if fail_on is not None and len(calls) == fail_on:
            raise Interrupted("killed mid-run")
        outs = []
        for image_id, (w, h) in zip(ids, sizes):
            box = np.array([[w * 0.1, h * 0.1, w * 0.4, h * 0.5]], np.float32)
            members = {"detector_a": (box, np.array([0.7], np.float32), np.array([3])),
                       "detector_b": (box + 2, np.array([0.6], np.float32), np.array([3]))}  # fmt: skip
            outs.append(ChestOutput(image_id, (w, h), members, members["detector_a"],
                                    members["detector_a"], p_abnormal=0.8))  # fmt: skip
        return outs

    return run


@pytest.fixture
def cohort(tiny_chest_cohort: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_chest_cohort, tmp_path / "films"))


def test_resume_after_interruption_and_bad_film(cohort: Path, tmp_path: Path,
                                                tiny_chest_bundle: Path) -> None:  # fmt: skip
    images = list_images(cohort)
    bad = sorted(images)[5]
    images[bad].write_bytes(b"not a dicom at all")
    cache = ChestCohortCache(tmp_path / "cache")
    key = chest_cache_key(tiny_chest_bundle, cohort)
    calls: list[int] = []
    with pytest.raises(Interrupted):
        run_chest_batch(cohort, key, cache, fake_runner(calls, fail_on=2), ROLES, chunk_size=4)
    parts = cache.read_parts(key)
    assert parts is not None and (parts["class_id"] == FILM_CLASS).sum() == 4  # one chunk kept
    assert not cache.has(key)
    seen: list[tuple] = []
    calls2: list[int] = []
    report = run_chest_batch(cohort, key, cache, fake_runner(calls2), ROLES, chunk_size=4,
                             progress=lambda d, t, left: seen.append((d, t, left)))  # fmt: skip
    assert (report.total, report.resumed, report.ran) == (12, 4, 8)
    assert sum(calls2) == 7  # 8 films left, the bad one is not run
    assert seen[0] == (4, 12, None) and seen[-1][:2] == (12, 12) and seen[-1][2] == 0
    assert [f.split(":")[0] for f in report.failed] == [bad]
    films = report.table[report.table["class_id"] == FILM_CLASS]
    assert len(films) == 12 and films["p_abnormal"].notna().sum() == 11
    boxes = report.table[report.table["class_id"] != FILM_CLASS]
    assert sorted(set(boxes["role"])) == ["detector_a", "detector_b"] and len(boxes) == 22
    assert cache.meta(key)["detectors"] == ["detector_a", "detector_b"]
    again: list[int] = []
    run_chest_batch(cohort, key, cache, fake_runner(again), ROLES)
    assert again == []  # finished: read back, nothing run


def test_a_second_run_of_the_same_key_is_refused(cohort: Path, tmp_path: Path,
                                                 tiny_chest_bundle: Path) -> None:  # fmt: skip
    cache = ChestCohortCache(tmp_path / "cache")
    key = chest_cache_key(tiny_chest_bundle, cohort)
    with cache.run_lock(key), pytest.raises(CacheBusy):
        run_chest_batch(cohort, key, cache, fake_runner([]), ROLES)


def test_key_follows_labels_images_and_sizes(cohort: Path, tiny_chest_bundle: Path) -> None:
    key = chest_cache_key(tiny_chest_bundle, cohort)
    assert chest_cache_key(tiny_chest_bundle, cohort) == key
    image = next(iter(list_images(cohort).values()))
    st = image.stat()
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    touched = chest_cache_key(tiny_chest_bundle, cohort)
    assert touched.data != key.data and touched.bundle == key.bundle
    (cohort / "sizes.csv").write_text("image_id,width,height\n")
    assert chest_cache_key(tiny_chest_bundle, cohort).data != touched.data


def test_bench_api_runs_once_then_reads_back(cohort: Path, tmp_path: Path,
                                             tiny_chest_bundle: Path) -> None:  # fmt: skip
    """The real bundle: run -> cache -> load -> what-if; the second call runs nothing."""
    from core.models.bundle import load_bundle
    from core.models.threshold_sets import ORIGINAL, load_threshold_set

    cache = ChestCohortCache(tmp_path / "cache")
    assert load_cohort(cohort, tiny_chest_bundle, cache=cache) is None
    report = run_cohort(cohort, tiny_chest_bundle, cache=cache)
    assert report.ran == 12 and not report.failed
    bundle = load_bundle(tiny_chest_bundle.resolve())
    forwards: list[str] = []
    hooks = [m.register_forward_hook(lambda *a, r=r: forwards.append(r))
             for r, m in bundle.models.items()]  # fmt: skip
    try:
        assert run_cohort(cohort, tiny_chest_bundle, cache=cache).ran == 0
        data = load_cohort(cohort, tiny_chest_bundle, cache=cache)
        assert data is not None and data.detectors == ["detector_frcnn"] and data.rule is not None
        thresholds = load_threshold_set(tiny_chest_bundle, ORIGINAL)
        on, off = what_if(data, thresholds), what_if(data, thresholds, rule_on=False)
    finally:
        for h in hooks:
            h.remove()
    assert forwards == []
    assert on.n_images == off.n_images == 12
    nf = "No finding"
    assert on.per_class.loc[nf, "support"] == off.per_class.loc[nf, "support"] > 0


def test_study_table_is_found_near_the_bundle(tmp_path: Path) -> None:
    cell = tmp_path / "out" / "cells" / "frcnn_original"
    cell.mkdir(parents=True)
    assert find_study_table(cell) is None
    (tmp_path / "out" / "chest_study.json").write_text(json.dumps({"cells": []}))
    assert find_study_table(cell) == {"cells": []}
