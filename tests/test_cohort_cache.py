"""The prediction cache: round trip, keys that change with the data, chunks, intervals."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest
from cohort_fixtures import write_bundle_json, write_cohort

import core.cohort.cache as cache_module
from core.cohort.cache import CacheKey, PredictionCache, bundle_id, cache_key, data_fingerprint
from core.cohort.synthetic import synthetic_table
from core.cohort.table import TableError
from core.pipeline_version import pipeline_version


@pytest.fixture
def cohort(tmp_path: Path) -> tuple[Path, Path, pd.DataFrame]:
    table = synthetic_table(12, seed=2)
    return (
        write_bundle_json(tmp_path / "bundle").parent,
        write_cohort(tmp_path / "cohort", table),
        table,
    )


def test_round_trip(tmp_path: Path, cohort: tuple[Path, Path, pd.DataFrame]) -> None:
    bundle, folder, table = cohort
    cache = PredictionCache(tmp_path / "cache")
    key = cache_key(bundle, folder)
    assert cache.load(key) is None and not cache.has(key)
    cache.save(key, table.sample(frac=1, random_state=0), {"cohort_dir": str(folder)})
    loaded = cache.load(key)
    pd.testing.assert_frame_equal(loaded, table)  # sorted by Index again, dtypes kept
    assert cache.meta(key)["n_patients"] == 12 and cache.meta(key)["cohort_dir"] == str(folder)
    cache.save_intervals(key, 100, 0, {"aneurysm": [0.8, 0.9]})
    assert cache.load_intervals(key, 100, 0) == {"aneurysm": [0.8, 0.9]}
    assert cache.load_intervals(key, 200, 0) is None
    cache.clear(key)
    assert cache.load(key) is None and cache.load_intervals(key, 100, 0) is None


def test_key_changes_with_labels_images_and_bundle(cohort: tuple[Path, Path, pd.DataFrame]) -> None:
    bundle, folder, table = cohort
    key = cache_key(bundle, folder)
    assert cache_key(bundle, folder) == key  # stable
    csv = folder / "train.csv"
    edited = table.copy()
    edited.loc[0, "BA"] = 1 - edited.loc[0, "BA"]
    edited[list(pd.read_csv(csv).columns)].to_csv(csv, index=False)
    after_label = cache_key(bundle, folder)
    assert after_label.data != key.data and after_label.bundle == key.bundle
    (folder / "999LV-B.jpg").write_bytes(b"\xff\xd8new")
    after_image = cache_key(bundle, folder)
    assert after_image.data != after_label.data
    img = folder / "999LV-B.jpg"
    later = time.time_ns() + 5_000_000_000
    os.utime(img, ns=(later, later))
    assert cache_key(bundle, folder).data != after_image.data  # touched: mtime differs
    (folder / "notes.txt").write_text("not an image")
    assert cache_key(bundle, folder).data == data_fingerprint(folder)  # other files ignored
    with_truth = data_fingerprint(folder)
    (folder / "truth.json").write_text("{}")
    assert data_fingerprint(folder) != with_truth
    before = bundle_id(bundle)
    (bundle / "bundle.json").write_text((bundle / "bundle.json").read_text() + " ")
    assert bundle_id(bundle) != before


def test_content_mode_sees_same_size_rewrites(cohort: tuple[Path, Path, pd.DataFrame]) -> None:
    _, folder, _ = cohort
    img = sorted(folder.glob("*.jpg"))[0]
    stat = img.stat()
    by_content, by_stat = data_fingerprint(folder, content=True), data_fingerprint(folder)
    data = img.read_bytes()
    img.write_bytes(bytes([data[0] ^ 1]) + data[1:])  # same size, new bytes
    os.utime(img, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the old mtime
    assert data_fingerprint(folder, content=True) != by_content
    assert data_fingerprint(folder) == by_stat  # the documented blind spot of the fast mode


def test_variant_is_part_of_the_key(cohort: tuple[Path, Path, pd.DataFrame]) -> None:
    bundle, folder, _ = cohort
    plain, cam = cache_key(bundle, folder), cache_key(bundle, folder, variant="cam")
    assert plain.name != cam.name and plain.data == cam.data
    with pytest.raises(ValueError):
        CacheKey("a", "b", "pixels")


def test_chunks_and_a_foreign_table(
    tmp_path: Path, cohort: tuple[Path, Path, pd.DataFrame]
) -> None:
    bundle, folder, table = cohort
    cache = PredictionCache(tmp_path / "cache")
    key = cache_key(bundle, folder)
    assert cache.read_parts(key) is None
    cache.write_part(key, table.iloc[:5])
    cache.write_part(key, table.iloc[5:])
    pd.testing.assert_frame_equal(cache.read_parts(key), table)
    cache.save(key, table)
    assert cache.read_parts(key) is None  # chunks dropped once the table is whole
    table.drop(columns="prob_BA").to_parquet(cache.table_path(key))
    with pytest.raises(TableError, match="prob_BA"):
        cache.load(key)


def test_pipeline_version_is_part_of_the_key(
    tmp_path: Path, cohort: tuple[Path, Path, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle, folder, table = cohort
    cache = PredictionCache(tmp_path / "cache")
    old = cache_key(bundle, folder)
    assert old.pipeline == pipeline_version()
    cache.save(old, table)
    cache.write_part(old, table.iloc[:3])
    assert cache.meta(old)["pipeline"] == old.pipeline
    monkeypatch.setattr(cache_module, "pipeline_version", lambda: "f" * 64)
    new = cache_key(bundle, folder)
    assert (new.bundle, new.data, new.variant) == (old.bundle, old.data, old.variant)
    assert new != old and new.name != old.name and CacheKey(old.bundle, old.data) == new
    assert cache.load(new) is None and not cache.has(new) and cache.read_parts(new) is None
    pd.testing.assert_frame_equal(cache.load(old), table)  # still there, just not served
