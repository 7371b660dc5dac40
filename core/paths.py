"""Where the app keeps its data. One place, overridable by environment variables.

``REVIEW_DATA_DIR`` (default ``./data``) holds the demo bundle, the demo cohorts, cached
cohort predictions and the SQLite verdict database. ``REVIEW_BUNDLE`` points the app at
another bundle directory. Which folders a user may name at all is :mod:`core.roots`.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ASSETS",
    "BUNDLE_ENV",
    "DATA_ENV",
    "SAMPLES",
    "configured_bundle_dir",
    "data_dir",
    "demo_bundle_dir",
    "chest_demo_bundle_dir",
    "demo_cohort_dir",
]

#: Committed sample cases and static files.
ASSETS = Path(__file__).resolve().parent.parent / "assets"
#: The committed sample cases (read-only for the app: see :mod:`core.roots`).
SAMPLES = ASSETS / "samples"
#: Environment variable naming the data folder.
DATA_ENV = "REVIEW_DATA_DIR"
#: Environment variable naming the bundle the app opens by default.
BUNDLE_ENV = "REVIEW_BUNDLE"


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


def configured_bundle_dir() -> Path:
    """The bundle the app uses when the user has not picked one: ``REVIEW_BUNDLE`` or demo."""
    env = os.environ.get(BUNDLE_ENV)
    return Path(env).resolve() if env else demo_bundle_dir()
