"""Where the app keeps its data. One place, overridable by environment variables.

``REVIEW_DATA_DIR`` (default ``./data``) holds the demo bundles, the demo cohorts, cached
cohort predictions and the SQLite verdict database. Each study has its own default bundle:
``REVIEW_BUNDLE`` points the aneurysm pages at another bundle directory,
``REVIEW_CHEST_BUNDLE`` the chest pages (:data:`BUNDLE_ENVS`). Which folders a user may
name at all is :mod:`core.roots`.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ASSETS",
    "BUNDLE_ENV",
    "BUNDLE_ENVS",
    "DATA_ENV",
    "SAMPLES",
    "configured_bundle_dir",
    "data_dir",
    "demo_bundle_dir",
    "chest_demo_bundle_dir",
    "chest_demo_cohort_dir",
    "demo_cohort_dir",
    "study_demo_bundle_dir",
]

#: Committed sample cases and static files.
ASSETS = Path(__file__).resolve().parent.parent / "assets"
#: The committed sample cases (read-only for the app: see :mod:`core.roots`).
SAMPLES = ASSETS / "samples"
#: Environment variable naming the data folder.
DATA_ENV = "REVIEW_DATA_DIR"
#: Environment variable naming the bundle the app opens by default.
BUNDLE_ENV = "REVIEW_BUNDLE"
#: Per study: the environment variable naming the bundle its pages open by default.
BUNDLE_ENVS = {"aneurysm": BUNDLE_ENV, "chest": "REVIEW_CHEST_BUNDLE"}


def data_dir() -> Path:
    return Path(os.environ.get(DATA_ENV, "data")).resolve()


def demo_bundle_dir(root: Path | None = None) -> Path:
    """The demo bundle under ``root`` (default :func:`data_dir`)."""
    return (root or data_dir()) / "bundles" / "demo"


def chest_demo_bundle_dir(root: Path | None = None) -> Path:
    """The chest demo's ensemble bundle under ``root``; its members sit beside it in
    ``chest-demo-members/``."""
    return (root or data_dir()) / "bundles" / "chest-demo"


def demo_cohort_dir(split: str, root: Path | None = None) -> Path:
    """``split`` is ``train`` or ``heldout``; under ``root`` (default :func:`data_dir`)."""
    return (root or data_dir()) / "cohorts" / f"demo-{split}"


def chest_demo_cohort_dir(split: str, root: Path | None = None) -> Path:
    """The chest demo's labelled VinBigData folders: ``split`` is ``train`` or ``heldout``."""
    return (root or data_dir()) / "cohorts" / f"chest-demo-{split}"


def study_demo_bundle_dir(study: str, root: Path | None = None) -> Path:
    """The demo bundle of ``study`` (``aneurysm`` or ``chest``)."""
    if study == "chest":
        return chest_demo_bundle_dir(root)
    if study == "aneurysm":
        return demo_bundle_dir(root)
    raise KeyError(f"no demo bundle for study {study!r}")


def configured_bundle_dir(study: str = "aneurysm") -> Path:
    """The bundle a study's pages use when the user has not picked one: its environment
    variable (:data:`BUNDLE_ENVS`), else its demo bundle."""
    env = os.environ.get(BUNDLE_ENVS.get(study, ""), "")
    return Path(env).resolve() if env else study_demo_bundle_dir(study)
