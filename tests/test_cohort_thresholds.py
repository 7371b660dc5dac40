"""Named threshold sets: save, list, load; bundle.json is never written."""

from __future__ import annotations

from pathlib import Path

import pytest
from cohort_fixtures import BUNDLE_THRESHOLDS, write_bundle_json

from core.cohort.thresholds import (
    ORIGINAL,
    bundle_thresholds,
    list_threshold_sets,
    load_threshold_set,
    save_threshold_set,
)
from core.models.thresholds import Thresholds, ThresholdsError
from core.schema import LOCATIONS


def _chosen() -> Thresholds:
    return Thresholds(0.61, {c: 0.2 + 0.01 * i for i, c in enumerate(LOCATIONS)}, "hand-tuned")


def test_save_and_load_round_trip_keeps_bundle_json(tmp_path: Path) -> None:
    manifest = write_bundle_json(tmp_path / "b")
    before = manifest.read_bytes()
    assert list_threshold_sets(tmp_path / "b") == [ORIGINAL]
    path = save_threshold_set(tmp_path / "b", "sens90", _chosen(), author="  Dr Who ")
    assert path == tmp_path / "b" / "thresholds" / "sens90.json"
    assert manifest.read_bytes() == before
    loaded = load_threshold_set(tmp_path / "b", "sens90")
    assert (loaded.stage1, dict(loaded.locations)) == (0.61, dict(_chosen().locations))
    assert loaded.author == "Dr Who" and loaded.created and loaded.rule == "hand-tuned"
    assert list_threshold_sets(tmp_path / "b") == [ORIGINAL, "sens90"]
    assert (
        load_threshold_set(tmp_path / "b", ORIGINAL)
        == bundle_thresholds(tmp_path / "b")
        == BUNDLE_THRESHOLDS
    )


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
    with pytest.raises(ThresholdsError):
        save_threshold_set(tmp_path / "b", "../escape", _chosen(), author="x")
    with pytest.raises(ThresholdsError, match="not a bundle"):
        save_threshold_set(tmp_path / "nobundle", "c", _chosen(), author="x")
