"""The prediction cache: round trip, keys that change with the data, chunks, intervals."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest
from cohort_fixtures import write_bundle_json, write_cohort

import core.cohort.cache as cache_module
from core.cohort.cache import (
    CacheBusy,
    CacheKey,
    PredictionCache,
    bundle_id,
    cache_key,
    data_fingerprint,
)
from core.cohort.cache_bounds import CacheBounds
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


# --- bounds and clean-up (issue 14, item 7) -------------------------------------------------

DAY = 86_400.0


def _key(i: int) -> CacheKey:
    return CacheKey(f"{i:016x}" + "0" * 48, "d" * 64, pipeline="e" * 64)


def _age(cache: PredictionCache, key: CacheKey, days: float) -> None:
    """Make every file of ``key``'s entry look last used ``days`` ago."""
    when = time.time() - days * DAY
    for top in cache.root.glob(f"{key.name}.*"):
        for path in [top, *top.rglob("*")]:
            os.utime(path, (when, when))


def test_save_keeps_at_most_n_entries_dropping_the_least_recently_used(tmp_path: Path) -> None:
    table = synthetic_table(6, seed=1)
    cache = PredictionCache(tmp_path / "cache", bounds=CacheBounds(max_entries=3))
    for i in range(3):
        cache.save(_key(i), table)
        _age(cache, _key(i), 10 - i)  # 0 oldest, 2 newest
    assert cache.load(_key(0)) is not None  # reading marks key 0 as used now
    cache.save(_key(3), table)
    assert not cache.has(_key(1))  # the least recently used went
    assert all(cache.has(_key(i)) for i in (0, 2, 3))
    assert not list(cache.root.glob(f"{_key(1).name}*"))  # sidecar and intervals too


def test_old_entries_go_and_the_size_bound_holds(tmp_path: Path) -> None:
    table = synthetic_table(200, seed=1)
    cache = PredictionCache(tmp_path / "cache", bounds=CacheBounds(max_age_days=30))
    cache.save(_key(0), table)
    cache.save_intervals(_key(0), 10, 0, {"aneurysm": [0.1, 0.2]})
    _age(cache, _key(0), 31)
    cache.save(_key(1), table)
    assert not cache.has(_key(0)) and cache.load_intervals(_key(0), 10, 0) is None
    _age(cache, _key(1), 10)
    one = cache.table_path(_key(1)).stat().st_size
    small = PredictionCache(cache.root, bounds=CacheBounds(max_bytes=int(2.5 * one)))
    for i in range(2, 6):
        small.save(_key(i), table)
        _age(small, _key(i), 6 - i)
    entries = {p.name.split(".")[0] for p in small.root.iterdir()}
    assert entries == {_key(4).name, _key(5).name}  # the newest that fit the bytes
    report = small.prune()
    assert report.removed == {} and report.busy == []


def test_an_entry_being_written_is_never_removed(tmp_path: Path) -> None:
    table = synthetic_table(6, seed=1)
    cache = PredictionCache(tmp_path / "cache", bounds=CacheBounds(max_entries=1))
    with cache.run_lock(_key(0)):  # a run in progress (flock conflicts within a process too)
        cache.write_part(_key(0), table.iloc[:3])
        _age(cache, _key(0), 400)
        cache.save(_key(1), table)  # prunes: key 0 is old and over the count, but busy
        assert cache.read_parts(_key(0)) is not None and cache.has(_key(1))
        assert cache.prune(keep=_key(1)).busy == [_key(0).name]
    assert cache.prune(keep=_key(1)).removed == {_key(0).name: "age"}  # released: it goes
    assert cache.read_parts(_key(0)) is None and cache.has(_key(1))


def test_lock_files_do_not_pile_up_and_foreign_files_stay(tmp_path: Path) -> None:
    cache = PredictionCache(tmp_path / "cache")
    for i in range(3):
        with cache.run_lock(_key(i)):
            assert (cache.root / f"{_key(i).name}.lock").is_file()
    assert not list(cache.root.glob("*.lock"))  # each run removes its lock on release
    stale = cache.root / f"{_key(9).name}.lock"  # left by an older version of the app
    stale.write_text("")
    os.utime(stale, (time.time() - 100 * DAY,) * 2)
    (cache.root / "README.txt").write_text("not a cache entry")
    os.utime(cache.root / "README.txt", (time.time() - 400 * DAY,) * 2)
    assert cache.prune().removed == {_key(9).name: "age"}
    assert not stale.exists() and (cache.root / "README.txt").is_file()
    with cache.run_lock(_key(0)), pytest.raises(CacheBusy), cache.run_lock(_key(0)):
        pass  # the lock still excludes
