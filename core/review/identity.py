"""Who made the numbers: a bundle's identity as the sidebar, exports and report show it.

A reader must be able to tell which models, trained on what, with which thresholds,
produced a result, and whether they are the synthetic demo models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from core import paths

__all__ = ["DEMO_NOTICE", "BundleIdentity", "bundle_identity"]

DEMO_NOTICE = "Demo models trained on synthetic data — not for clinical use."
#: Demo cohorts live in ``demo-<split>`` folders (see :func:`core.paths.demo_cohort_dir`).
_DEMO_COHORT_PREFIX = "demo-"


@dataclass(frozen=True)
class BundleIdentity:
    """The lines a reader needs to trust (or distrust) a result, read from ``bundle.json``."""

    name: str
    sha256: str  # of bundle.json
    training_data: str  # one line: cohort folder, patients, images
    fingerprint: str | None  # SHA-256 of the training train.csv, when recorded
    is_demo: bool

    @property
    def notice(self) -> str | None:
        return DEMO_NOTICE if self.is_demo else None


def _summary(data: Mapping[str, Any]) -> str:
    parts = [str(data.get("folder", "unnamed cohort"))]
    if "patients" in data:
        parts.append(f"{data['patients']} patients")
    if "n_images" in data:
        parts.append(f"{data['n_images']} images")
    return ", ".join(parts)


def bundle_identity(
    folder: Path, name: str, sha256: str, manifest: Mapping[str, Any]
) -> BundleIdentity:
    """Read the identity from a bundle's manifest (``training_data`` may be absent)."""
    data = manifest.get("training_data")
    data = data if isinstance(data, Mapping) else {}
    demo = Path(folder).resolve() == paths.demo_bundle_dir().resolve() or str(
        data.get("folder", "")
    ).startswith(_DEMO_COHORT_PREFIX)
    fingerprint = data.get("train_csv_sha256")
    return BundleIdentity(
        name=name,
        sha256=sha256,
        training_data=_summary(data) if data else "not recorded",
        fingerprint=str(fingerprint) if fingerprint else None,
        is_demo=demo,
    )
