"""Operating thresholds: one for stage 1 and one per location column, with their origin.

A :class:`Thresholds` travels inside ``bundle.json`` (set at training time, never
rewritten) and as named sets beside it in ``<bundle>/thresholds/<name>.json`` (saved by the
cohort page when someone picks new operating points). Commercial readers had to recalibrate
between versions, so every set says which rule made it, with what parameters, by whom, when.

Decision convention, everywhere: **positive when probability >= threshold** (the same
convention as ``sklearn.metrics.roc_curve``, so ROC-derived thresholds reproduce their
operating point exactly).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from core.schema import LOCATIONS

__all__ = [
    "Thresholds",
    "ThresholdsError",
    "decide",
    "save_threshold_set",
    "load_threshold_set",
    "list_threshold_sets",
    "THRESHOLD_DIR",
]

THRESHOLD_DIR = "thresholds"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ThresholdsError(ValueError):
    """A threshold set is malformed, or its name or file is not acceptable."""


def decide(probability: float, threshold: float) -> int:
    """The one decision rule: 1 when ``probability >= threshold``."""
    return int(probability >= threshold)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Thresholds:
    """Stage-1 threshold, the 21 location thresholds, and the rule that produced them."""

    stage1: float
    locations: Mapping[str, float]
    rule: str  # short summary, e.g. "stage1=median; locations=percentile(q=90)"
    params: Mapping[str, Any] = field(default_factory=dict)  # full records, fallbacks included
    author: str = "training"
    created: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        if set(self.locations) != set(LOCATIONS):
            missing = sorted(set(LOCATIONS) - set(self.locations))
            extra = sorted(set(self.locations) - set(LOCATIONS))
            raise ThresholdsError(f"need the 21 locations; missing={missing} extra={extra}")
        values = [self.stage1, *self.locations.values()]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise ThresholdsError("thresholds must be finite numbers")
        # Keep column order stable whatever order the caller used.
        object.__setattr__(self, "locations", {c: float(self.locations[c]) for c in LOCATIONS})

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage1": float(self.stage1),
            "locations": dict(self.locations),
            "rule": self.rule,
            "params": dict(self.params),
            "author": self.author,
            "created": self.created,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Thresholds":
        expected = {"stage1", "locations", "rule", "params", "author", "created"}
        if set(d) != expected:
            raise ThresholdsError(
                f"threshold record fields: missing={sorted(expected - set(d))} "
                f"unknown={sorted(set(d) - expected)}"
            )
        return cls(
            stage1=float(d["stage1"]),
            locations={k: float(v) for k, v in d["locations"].items()},
            rule=str(d["rule"]),
            params=dict(d["params"]),
            author=str(d["author"]),
            created=str(d["created"]),
        )


def _set_path(bundle_dir: str | Path, name: str) -> Path:
    if not _NAME_RE.match(name) or name.endswith(".json"):
        raise ThresholdsError(
            f"threshold set name {name!r}: use 1-64 letters, digits, '_', '-', '.'"
        )
    return Path(bundle_dir) / THRESHOLD_DIR / f"{name}.json"


def save_threshold_set(
    bundle_dir: str | Path, name: str, thresholds: Thresholds, *, overwrite: bool = False
) -> Path:
    """Write a named set beside the bundle; ``bundle.json`` itself is never touched."""
    path = _set_path(bundle_dir, name)
    if path.exists() and not overwrite:
        raise ThresholdsError(f"threshold set {name!r} exists; pass overwrite=True to replace")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(thresholds.to_dict(), indent=2))
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path


def load_threshold_set(bundle_dir: str | Path, name: str) -> Thresholds:
    path = _set_path(bundle_dir, name)
    if not path.is_file():
        raise ThresholdsError(f"no threshold set {name!r} in {Path(bundle_dir)}")
    try:
        return Thresholds.from_dict(json.loads(path.read_text()))
    except json.JSONDecodeError as exc:
        raise ThresholdsError(f"threshold set {name!r} is not valid JSON: {exc}") from exc


def list_threshold_sets(bundle_dir: str | Path) -> list[str]:
    """Names of the saved sets, sorted; empty when none were saved."""
    folder = Path(bundle_dir) / THRESHOLD_DIR
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
