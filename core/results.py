"""The result of a single-image study: one score per label of the bundle, decided.

The aneurysm study has its own two-stage :class:`core.models.result.CaseResult`; every
study whose unit of review is one image and whose task is to classify it gets this one, so
a new study of that shape needs no result type of its own. Box-detecting studies add their
boxes to the findings (``Finding.box``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from core.findings import Finding, decide_findings
from core.models.thresholds import Thresholds
from core.studies.study import StudyResult

__all__ = ["identity_dict", "ImageResult"]


def identity_dict(result: StudyResult) -> dict[str, Any]:
    """The head of every result's JSON: which study, case and bundle, then the findings."""
    return {
        "study": result.study,
        "case_id": result.case_id,
        "content_hash": result.content_hash,
        "bundle": result.bundle,
        "bundle_sha256": result.bundle_sha256,
        "findings": [f.to_dict() for f in result.findings],
    }


@dataclass(frozen=True)
class ImageResult:
    """One image scored by a bundle: its scores per label and the findings they make."""

    study: str
    case_id: str
    content_hash: str
    bundle: str
    bundle_sha256: str
    scores: Mapping[str, float]
    thresholds: Thresholds
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    timings_ms: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.findings:
            object.__setattr__(self, "findings", self._decide(self.thresholds))

    def _decide(self, thresholds: Thresholds) -> tuple[Finding, ...]:
        return decide_findings(self.scores, thresholds.labels, sources=(self.case_id,))

    def with_thresholds(self, thresholds: Thresholds) -> "ImageResult":
        """The same image re-decided under other thresholds; no model runs."""
        chosen = thresholds.require(tuple(self.thresholds.labels))
        return replace(self, thresholds=chosen, findings=self._decide(chosen))

    def to_dict(self) -> dict[str, Any]:
        return identity_dict(self) | {
            "thresholds": self.thresholds.to_dict(),
            "timings_ms": dict(self.timings_ms),
            "notes": list(self.notes),
        }
