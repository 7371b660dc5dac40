"""Shared chest fixtures for the chest pages' tests: a tiny labelled cohort and a tiny
ensemble bundle (a Faster R-CNN member and a classifier, WBF and the classifier rule),
trained once per test session with the real training code and saved with the real bundle
writer, so the pages load them through the same verified path as any chest bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import paths

#: Films in the tiny cohort: enough for a split, a rule fit and a few errors per class.
TINY_CHEST_FILMS = 12


@pytest.fixture(scope="session")
def tiny_chest_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A labelled VinBigData folder (DICOM films, three readers, truth.json)."""
    from core.studies.chest.synth import generate_chest_cohort

    out = tmp_path_factory.mktemp("chest-cohort") / "films"
    return generate_chest_cohort(out, TINY_CHEST_FILMS, 5, size=256, workers=1)


@pytest.fixture(scope="session")
def tiny_chest_bundle(tiny_chest_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ensemble bundle: a 64-px Faster R-CNN and a 32-px classifier, one epoch each."""
    from core.studies.chest.ensemble import EnsembleSettings
    from core.studies.chest.ensemble_cli import build_ensemble
    from core.studies.chest.train import ChestTrainOptions, train_chest

    out = tmp_path_factory.mktemp("chest-bundles")
    members = [
        train_chest(
            tiny_chest_cohort,
            out / model,
            ChestTrainOptions(model=model, aug="original", side=side, epochs=1, batch_size=4, seed=1),
        )
        for model, side in (("frcnn", 64), ("classifier", 32))
    ]
    return build_ensemble(out / "ensemble", members, EnsembleSettings(), fit=tiny_chest_cohort)


@pytest.fixture
def chest_env(
    monkeypatch: pytest.MonkeyPatch, tiny_chest_bundle: Path, data_dir: Path
) -> Path:
    """Environment for an AppTest of the chest pages: the tiny chest bundle as the chest
    default, the session's data dir (verdict store, caches)."""
    monkeypatch.setenv(paths.BUNDLE_ENVS["chest"], str(tiny_chest_bundle))
    monkeypatch.setenv(paths.DATA_ENV, str(data_dir))
    return tiny_chest_bundle
