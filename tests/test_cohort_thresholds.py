"""Named threshold sets: save, list, load, refuse; bundle.json is never written."""

from __future__ import annotations

import errno
import json
import os
import threading
from pathlib import Path

import pytest
from cohort_fixtures import BUNDLE_THRESHOLDS, write_bundle_json

from core.models.threshold_sets import (
    ORIGINAL,
    THRESHOLD_DIR,
    bundle_thresholds,
    list_threshold_sets,
    load_threshold_set,
    save_threshold_set,
    saved_threshold_sets,
)
from core.models.thresholds import Thresholds, ThresholdsError
from core.schema import LOCATIONS


def _chosen(stage1: float = 0.61) -> Thresholds:
    return Thresholds(stage1, {c: 0.2 + 0.01 * i for i, c in enumerate(LOCATIONS)}, "hand-tuned")


def _bare_bundle(folder: Path) -> Path:
    """A folder with a ``bundle.json`` (content unread): enough to save sets beside it."""
    folder.mkdir(parents=True)
    (folder / "bundle.json").write_text("{}")
    return folder


def test_save_and_load_round_trip_keeps_bundle_json(tmp_path: Path) -> None:
    manifest = write_bundle_json(tmp_path / "b")
    before = manifest.read_bytes()
    assert list_threshold_sets(tmp_path / "b") == [ORIGINAL]
    path = save_threshold_set(tmp_path / "b", "sens90", _chosen(), author="  Dr Who ")
    assert path == tmp_path / "b" / THRESHOLD_DIR / "sens90.json"
    assert manifest.read_bytes() == before
    loaded = load_threshold_set(tmp_path / "b", "sens90")
    assert (loaded.stage1, dict(loaded.labels)) == (0.61, dict(_chosen().labels))
    assert loaded.author == "Dr Who" and loaded.created and loaded.rule == "hand-tuned"
    assert list_threshold_sets(tmp_path / "b") == [ORIGINAL, "sens90"]
    assert saved_threshold_sets(tmp_path / "b") == ["sens90"]
    assert (
        load_threshold_set(tmp_path / "b", ORIGINAL)
        == bundle_thresholds(tmp_path / "b")
        == BUNDLE_THRESHOLDS
    )


def test_a_set_keeps_its_own_author_unless_told(tmp_path: Path) -> None:
    bundle = _bare_bundle(tmp_path / "b")
    thr = Thresholds(0.4, {c: 0.2 for c in LOCATIONS}, rule="manual", author="cohort page")
    save_threshold_set(bundle, "high-sens", thr)
    loaded = load_threshold_set(bundle, "high-sens")
    assert loaded.author == "cohort page" and (loaded.stage1, loaded.labels) == (0.4, thr.labels)
    assert (bundle / "bundle.json").read_text() == "{}"
    assert sorted(p.name for p in (bundle / THRESHOLD_DIR).iterdir()) == ["high-sens.json"]


def test_refusals(tmp_path: Path) -> None:
    write_bundle_json(tmp_path / "b")
    save_threshold_set(tmp_path / "b", "a", _chosen(), author="x")
    with pytest.raises(ThresholdsError, match="exists"):
        save_threshold_set(tmp_path / "b", "a", _chosen(), author="x")
    save_threshold_set(tmp_path / "b", "a", _chosen(), author="y", overwrite=True)
    assert load_threshold_set(tmp_path / "b", "a").author == "y"
    for name in ("original", "Original"):
        with pytest.raises(ThresholdsError, match="bundle's own"):
            save_threshold_set(tmp_path / "b", name, _chosen(), author="x")
    with pytest.raises(ThresholdsError, match="author"):
        save_threshold_set(tmp_path / "b", "c", _chosen(), author=" ")
    for bad in ("../escape", "a/b", "", "x.json"):
        with pytest.raises(ThresholdsError, match="name"):
            save_threshold_set(tmp_path / "b", bad, _chosen(), author="x")
    with pytest.raises(ThresholdsError, match="not a bundle"):
        save_threshold_set(tmp_path / "nobundle", "c", _chosen(), author="x")
    assert saved_threshold_sets(tmp_path / "b") == ["a"]


def test_unreadable_sets_and_manifests_say_so(tmp_path: Path) -> None:
    bundle = _bare_bundle(tmp_path / "b")
    with pytest.raises(ThresholdsError, match="no threshold set"):
        load_threshold_set(bundle, "missing")
    (bundle / THRESHOLD_DIR).mkdir()
    (bundle / THRESHOLD_DIR / "broken.json").write_text("{")
    with pytest.raises(ThresholdsError, match="not valid JSON"):
        load_threshold_set(bundle, "broken")
    with pytest.raises(ThresholdsError, match="bundle's own thresholds"):
        load_threshold_set(bundle, ORIGINAL)  # "{}" is no manifest
    with pytest.raises(ThresholdsError, match="bundle's own thresholds"):
        bundle_thresholds(tmp_path / "nobundle")


def test_a_legacy_set_with_locations_still_loads(tmp_path: Path) -> None:
    bundle = _bare_bundle(tmp_path / "b")
    legacy = _chosen().to_dict()
    legacy["locations"] = legacy.pop("labels")
    (bundle / THRESHOLD_DIR).mkdir()
    (bundle / THRESHOLD_DIR / "old.json").write_text(json.dumps(legacy))
    assert load_threshold_set(bundle, "old").labels == _chosen().labels


def test_a_second_save_of_a_new_name_is_refused(tmp_path: Path) -> None:
    bundle = _bare_bundle(tmp_path / "b")
    save_threshold_set(bundle, "race", _chosen(0.1), author="first")
    with pytest.raises(ThresholdsError, match="exists"):
        save_threshold_set(bundle, "race", _chosen(0.2), author="second")
    kept = load_threshold_set(bundle, "race")
    assert (kept.stage1, kept.author) == (0.1, "first")


def _race(
    bundle: Path, name: str, n: int
) -> tuple[list[int], list[Exception], list[Exception]]:
    """``n`` threads save ``name`` at once; returns (winners, refused, anything else)."""
    start = threading.Barrier(n)
    won: list[int] = []
    refused: list[Exception] = []
    other: list[Exception] = []

    def save(i: int) -> None:
        start.wait()
        try:
            save_threshold_set(bundle, name, _chosen(i / 10), author=f"saver {i}")
        except Exception as err:  # noqa: BLE001 - anything but "exists" fails the test
            lost = isinstance(err, ThresholdsError) and "exists" in str(err)
            (refused if lost else other).append(err)
        else:
            won.append(i)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won, refused, other


def test_concurrent_saves_of_one_new_name_have_one_winner(tmp_path: Path) -> None:
    bundle = _bare_bundle(tmp_path / "b")
    names = [f"race{r}" for r in range(5)]  # several rounds: a lost race is rarely lost twice
    for name in names:
        won, refused, other = _race(bundle, name, 8)
        assert not other and len(won) == 1 and len(refused) == 7, (name, won, other)
        kept = load_threshold_set(bundle, name)
        assert (kept.stage1, kept.author) == (won[0] / 10, f"saver {won[0]}")
    assert sorted(p.stem for p in (bundle / THRESHOLD_DIR).iterdir()) == names  # no temp left


def test_without_hard_links_a_new_set_is_still_created_exclusively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: str, dst: str) -> None:
        raise OSError(errno.EPERM, "hard links not supported", dst)

    monkeypatch.setattr(os, "link", no_links)
    bundle = _bare_bundle(tmp_path / "b")
    save_threshold_set(bundle, "solo", _chosen(0.3), author="first")
    with pytest.raises(ThresholdsError, match="exists"):
        save_threshold_set(bundle, "solo", _chosen(0.4), author="second")
    assert load_threshold_set(bundle, "solo").stage1 == 0.3
    assert sorted(p.name for p in (bundle / THRESHOLD_DIR).iterdir()) == ["solo.json"]
