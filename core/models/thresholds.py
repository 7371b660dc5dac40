"""Operating thresholds: an optional gate threshold and one per label, with their origin.

A :class:`Thresholds` travels inside ``bundle.json`` (set at training time, never
rewritten) and as named sets beside it (saved by the cohort page when someone picks new
operating points; stored, listed and loaded by :mod:`core.models.threshold_sets`).
Commercial readers had to recalibrate between versions, so every set says which rule made
it, with what parameters, by whom, when.

Decisions follow :func:`core.findings.meets_threshold` (positive when score >= threshold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

__all__ = ["Thresholds", "ThresholdsError"]


class ThresholdsError(ValueError):
    """A threshold set is malformed, or its name or file is not acceptable."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Thresholds:
    """A gate threshold (the aneurysm stage 1; ``None`` for ungated studies), one threshold
    per label, and the rule that produced them.

    The labels are the bundle's (:class:`core.studies.StudySchema`), never a global: a
    set is checked against them with :meth:`require`. On disk the per-label field is
    ``labels``; sets written before studies existed call it ``locations`` and still load.
    """

    stage1: float | None
    labels: Mapping[str, float]
    rule: str  # short summary, e.g. "stage1=median; locations=percentile(q=90)"
    params: Mapping[str, Any] = field(default_factory=dict)  # full records, fallbacks included
    author: str = "training"
    created: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        values = [*self.labels.values()] + ([] if self.stage1 is None else [self.stage1])
        if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in values
        ):
            raise ThresholdsError("thresholds must be finite numbers")
        object.__setattr__(self, "labels", {str(c): float(v) for c, v in self.labels.items()})

    def require(self, labels: Sequence[str]) -> "Thresholds":
        """This set with exactly ``labels``, in that order; :class:`ThresholdsError` names
        the missing and the unknown ones (a set made for another bundle's labels)."""
        missing = [c for c in labels if c not in self.labels]
        extra = sorted(set(self.labels) - set(labels))
        if missing or extra:
            raise ThresholdsError(
                f"need a threshold for each of the {len(labels)} labels; "
                f"missing={missing} extra={extra}"
            )
        return replace(self, labels={c: self.labels[c] for c in labels})

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage1": None if self.stage1 is None else float(self.stage1),
            "labels": dict(self.labels),
            "rule": self.rule,
            "params": dict(self.params),
            "author": self.author,
            "created": self.created,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Thresholds":
        d = dict(d)
        if "locations" in d and "labels" not in d:  # sets written before studies existed
            d["labels"] = d.pop("locations")
        expected = {"stage1", "labels", "rule", "params", "author", "created"}
        if set(d) != expected:
            raise ThresholdsError(
                f"threshold record fields: missing={sorted(expected - set(d))} "
                f"unknown={sorted(set(d) - expected)}"
            )
        if not isinstance(d["labels"], Mapping):
            raise ThresholdsError("threshold record: labels must map each label to a number")
        try:
            return cls(
                stage1=None if d["stage1"] is None else float(d["stage1"]),
                labels={str(k): float(v) for k, v in d["labels"].items()},
                rule=str(d["rule"]),
                params=dict(d["params"]),
                author=str(d["author"]),
                created=str(d["created"]),
            )
        except (TypeError, ValueError) as exc:
            raise ThresholdsError(f"threshold record: {exc}") from exc
