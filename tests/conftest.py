"""Shared fixtures for the app tests: a tiny model bundle, sample cases, an app environment.

The bundle is built from the registry's ``*_tiny`` variants and saved with the real
``save_bundle``, so the app loads it through the same verified path as any bundle. Sample
cases are the committed ``assets/samples`` when present, else generated once into a
temporary folder with the same generator.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from chest_fixtures import chest_env, tiny_chest_bundle, tiny_chest_cohort  # noqa: F401
from models_fixtures import fixed_thresholds, write_tiny_bundle

from core import paths

#: Stage-1 threshold 0 makes every case stage-1 positive, so stage 2 decides locations;
#: tests that need the gate switch to a saved stricter set instead of retraining.
TINY_STAGE1, TINY_LOCATION = 0.0, 0.5
SAMPLES_NEEDED = 2


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A verified bundle of the three tiny registry models."""
    return write_tiny_bundle(
        tmp_path_factory.mktemp("bundle") / "tiny", fixed_thresholds(TINY_STAGE1, TINY_LOCATION)
    )


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of one-patient sample case folders (8 JPEGs, train.csv, truth.json each)."""
    committed = paths.ASSETS / "samples"
    if committed.is_dir() and len([p for p in committed.iterdir() if p.is_dir()]) >= SAMPLES_NEEDED:
        return committed
    from core.synth.samples import write_sample_set

    out = tmp_path_factory.mktemp("samples")
    write_sample_set(out)
    return out


@pytest.fixture(scope="session")
def sample_cases(sample_root: Path) -> list[Path]:
    return sorted(p for p in sample_root.iterdir() if p.is_dir())


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data dir for the whole session: the verdict store is a per-process resource."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def app_env(
    monkeypatch: pytest.MonkeyPatch, tiny_bundle: Path, sample_root: Path, data_dir: Path
) -> Path:
    """Environment for an in-process AppTest of ``app.py``: the tiny bundle, the samples."""
    import ui.intake_panel

    monkeypatch.setenv("REVIEW_BUNDLE", str(tiny_bundle))
    monkeypatch.setenv("REVIEW_DATA_DIR", str(data_dir))
    monkeypatch.setattr(ui.intake_panel, "SAMPLES_DIR", sample_root)
    return tiny_bundle


@pytest.fixture(autouse=True)
def _temporary_folders_are_allowed_roots(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tests build bundles and cohorts in pytest's temporary folders, outside ``./data``: make
    those an allowed root (:mod:`core.roots`). Tests of the refusal set the variable again."""
    from core.roots import ALLOWED_ROOTS_ENV

    monkeypatch.setenv(ALLOWED_ROOTS_ENV, str(tmp_path_factory.getbasetemp()))
