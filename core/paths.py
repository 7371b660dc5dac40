"""Where the app keeps its data. One place, overridable by environment variables.

``REVIEW_DATA_DIR`` (default ``./data``) holds the demo bundle, the demo cohorts, cached
cohort predictions and the SQLite verdict database. ``REVIEW_BUNDLE`` points the app at
another bundle directory.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "demo_bundle_dir", "demo_cohort_dir", "configured_bundle_dir", "ASSETS"]

#: Committed sample cases and static files.
ASSETS = Path(__file__).resolve().parent.parent / "assets"


def data_dir() -> Path:
    return Path(os.environ.get("REVIEW_DATA_DIR", "data")).resolve()


def demo_bundle_dir(root: Path | None = None) -> Path:
    """The demo bundle under ``root`` (default :func:`data_dir`)."""
    return (root or data_dir()) / "bundles" / "demo"


def demo_cohort_dir(split: str, root: Path | None = None) -> Path:
    """``split`` is ``train`` or ``heldout``; under ``root`` (default :func:`data_dir`)."""
    return (root or data_dir()) / "cohorts" / f"demo-{split}"


def configured_bundle_dir() -> Path:
    """The bundle the app uses when the user has not picked one: ``REVIEW_BUNDLE`` or demo."""
    env = os.environ.get("REVIEW_BUNDLE")
    return Path(env).resolve() if env else demo_bundle_dir()
