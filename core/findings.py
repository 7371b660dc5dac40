"""The one finding record every study's result is made of, and the one decision rule.

A finding is what a reader accepts or rejects: a label (an aneurysm location, a chest
class), the model's score, the threshold it was held against, the decision, the reason in
words, and a box in original-image pixels when the study detects boxes (``None`` when it
classifies). The aneurysm study's stage-1 gate stays aneurysm-only; it only shows up here
as the ``reason`` of a gated finding.

Decision convention, everywhere: **positive when score >= threshold** (the same
convention as ``sklearn.metrics.roc_curve``, so ROC-derived thresholds reproduce their
operating point exactly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["FindingBox", "Finding", "meets_threshold", "decide_findings"]

#: ``(x0, y0, x1, y1)`` in original-image pixels, floats (detectors give sub-pixel boxes).
FindingBox = tuple[float, float, float, float]


def meets_threshold(score: float, threshold: float) -> int:
    """The one decision rule: 1 when ``score >= threshold``."""
    return int(score >= threshold)


@dataclass(frozen=True)
class Finding:
    """One label's score against its threshold, the decision, and why."""

    label: str
    score: float
    threshold: float
    decision: int
    reason: str
    box: FindingBox | None = None
    sources: tuple[str, ...] = ()  # the views (or image) whose scores made this one

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "score": self.score,
            "threshold": self.threshold,
            "decision": self.decision,
            "reason": self.reason,
            "box": None if self.box is None else list(self.box),
            "sources": list(self.sources),
        }


def decide_findings(
    scores: Mapping[str, float],
    thresholds: Mapping[str, float],
    sources: tuple[str, ...] = (),
) -> tuple[Finding, ...]:
    """One finding per label of ``thresholds`` (their order), scored by ``scores``: the
    decision of an ungated, box-free study. A label the model did not score is an error,
    not a silent zero."""
    missing = [label for label in thresholds if label not in scores]
    if missing:
        raise KeyError(f"no score for {missing}")
    out = []
    for label, t in thresholds.items():
        s = float(scores[label])
        d = meets_threshold(s, t)
        out.append(Finding(label, s, t, d, f"{s:.3f} {'>=' if d else '<'} {t:.3f}", None, sources))
    return tuple(out)
