"""One data root: a path resolves inside ``REVIEW_DATA_DIR``, the allow-list, the operator's
bundle or (read-only) the sample cases, or it is refused by name. Symlinks out of a root,
``..`` traversal and loops are refused; threshold sets and the cohort cache obey the same
rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cohort_fixtures import write_bundle_json

from core import paths
from core.cohort.cache import PredictionCache
from core.models.threshold_sets import (
    list_threshold_sets,
    load_threshold_set,
    save_threshold_set,
)
from core.models.thresholds import Thresholds, ThresholdsError
from core.roots import ALLOWED_ROOTS_ENV, PathOutsideRoots, allowed_roots, inside_roots
from core.schema import LOCATIONS


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``REVIEW_DATA_DIR`` in ``tmp_path/data``; no allow-list and no operator bundle."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv(paths.DATA_ENV, str(root))
    monkeypatch.delenv(paths.BUNDLE_ENV, raising=False)
    monkeypatch.delenv(ALLOWED_ROOTS_ENV, raising=False)
    return root.resolve()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder.resolve()


def _thresholds() -> Thresholds:
    return Thresholds(0.5, dict.fromkeys(LOCATIONS, 0.3), "hand-tuned", author="dr a")


def test_default_roots_are_the_data_dir_and_read_only_samples(data: Path) -> None:
    samples = paths.SAMPLES.resolve()
    assert allowed_roots() == (data, samples)
    assert allowed_roots(writable=True) == (data,)
    assert inside_roots(samples / "negative_a") == samples / "negative_a"
    with pytest.raises(PathOutsideRoots, match="not inside a writable folder"):
        inside_roots(samples / "negative_a", writable=True)


def test_a_path_inside_resolves_and_one_outside_is_refused_naming_the_roots(
    data: Path, outside: Path
) -> None:
    assert inside_roots(data / "bundles" / "x") == data / "bundles" / "x"  # need not exist
    assert inside_roots(data) == data
    with pytest.raises(PathOutsideRoots) as refused:
        inside_roots("/etc")
    message = str(refused.value)
    assert "`/etc` is not inside an allowed folder" in message
    assert str(data) in message and ALLOWED_ROOTS_ENV in message
    assert refused.value.roots == allowed_roots()
    with pytest.raises(PathOutsideRoots):
        inside_roots(outside)
    with pytest.raises(ValueError):  # a PathOutsideRoots is a ValueError for generic callers
        inside_roots(data.parent)


def test_dot_dot_traversal_is_refused(data: Path) -> None:
    sneaky = f"{data}/bundles/../../outside"
    with pytest.raises(PathOutsideRoots, match="resolves to"):
        inside_roots(sneaky)
    with pytest.raises(PathOutsideRoots):
        inside_roots(f"{data}/../../../../../../etc/passwd")
    assert inside_roots(f"{data}/a/../b") == data / "b"  # ".." that stays inside is fine


def test_a_symlink_out_of_a_root_is_refused_and_one_inside_is_followed(
    data: Path, outside: Path
) -> None:
    (data / "escape").symlink_to(outside, target_is_directory=True)
    (data / "tmp").symlink_to("/tmp", target_is_directory=True)
    (data / "real").mkdir()
    (data / "alias").symlink_to(data / "real", target_is_directory=True)
    for link in ("escape", "tmp"):
        with pytest.raises(PathOutsideRoots, match="resolves to"):
            inside_roots(data / link)
        with pytest.raises(PathOutsideRoots):
            inside_roots(data / link / "deeper" / "bundle")
    assert inside_roots(data / "alias") == data / "real"


def test_a_symlink_loop_is_refused(data: Path) -> None:
    (data / "a").symlink_to(data / "b")
    (data / "b").symlink_to(data / "a")
    try:
        result = inside_roots(data / "a")
    except PathOutsideRoots as refused:
        assert "cannot be resolved" in str(refused)
    else:  # Python versions that leave a loop unresolved keep it inside the root
        assert result.is_relative_to(data)


def test_extra_roots_come_from_the_environment(
    data: Path, outside: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    second = tmp_path / "second"
    second.mkdir()
    with pytest.raises(PathOutsideRoots):
        inside_roots(outside / "cohort")
    monkeypatch.setenv(ALLOWED_ROOTS_ENV, os.pathsep.join([str(outside), "", f" {second} "]))
    assert inside_roots(outside / "cohort") == outside / "cohort"
    assert inside_roots(second) == second.resolve()
    assert allowed_roots(writable=True) == (data, outside, second.resolve())
    (outside / "up").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(PathOutsideRoots):  # an allowed root is no way out either
        inside_roots(outside / "up" / "elsewhere")


def test_the_operator_bundle_is_a_root(
    data: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(paths.BUNDLE_ENV, str(outside / "bundle"))
    assert inside_roots(outside / "bundle" / "thresholds", writable=True)
    with pytest.raises(PathOutsideRoots):
        inside_roots(outside / "other")


def test_threshold_sets_outside_the_roots_are_neither_saved_nor_loaded(
    data: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    foreign = write_bundle_json(outside / "b").parent
    with pytest.raises(ThresholdsError, match="refused here.*not inside"):
        save_threshold_set(foreign, "mine", _thresholds())
    assert not (foreign / "thresholds").exists()
    (data / "link").symlink_to(foreign, target_is_directory=True)
    with pytest.raises(ThresholdsError, match="resolves to"):
        save_threshold_set(data / "link", "mine", _thresholds())
    assert not (foreign / "thresholds").exists()
    monkeypatch.setenv(ALLOWED_ROOTS_ENV, str(outside))
    save_threshold_set(foreign, "mine", _thresholds())  # allowed now
    monkeypatch.delenv(ALLOWED_ROOTS_ENV)
    for read in (
        lambda: load_threshold_set(foreign, "mine"),
        lambda: load_threshold_set(data / "link", "original"),
        lambda: list_threshold_sets(foreign),
    ):
        with pytest.raises(ThresholdsError, match="refused here"):
            read()


def test_threshold_sets_are_never_written_into_the_read_only_samples(data: Path) -> None:
    with pytest.raises(ThresholdsError, match="writable"):
        save_threshold_set(paths.SAMPLES / "negative_a", "mine", _thresholds())


def test_the_cohort_cache_must_stay_inside_the_data_dir(data: Path, outside: Path) -> None:
    assert PredictionCache().root == data / "cache" / "cohort"
    (data / "cache").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PathOutsideRoots, match="resolves to"):
        PredictionCache()
    assert PredictionCache(outside).root == outside  # a root chosen by code, not by a user
