"""The chest study's result for one film: its boxes as findings, decided per class.

The runner's :class:`~core.studies.chest.runner.ChestOutput` keeps every stage (members,
fused, after the classifier rule); the result keeps it whole so the page can say what the
rule did, and turns the final boxes into one :class:`~core.findings.Finding` per box (label
= class name, ``box`` in original pixels) plus the film's "No finding" finding. A new
threshold set re-decides the same boxes: no model runs (:meth:`ChestResult.with_thresholds`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from core.findings import Finding, meets_threshold
from core.models.thresholds import Thresholds
from core.results import identity_dict
from core.studies.chest.classes import CLASSES, NO_FINDING
from core.studies.chest.runner import ChestOutput, detector_no_finding

__all__ = ["ChestResult", "RuleChange", "rule_changes", "no_finding_score"]


def no_finding_score(out: ChestOutput) -> float:
    """The film's "No finding" score: the classifier rule's, else the detectors' own."""
    return (
        float(out.no_finding) if out.no_finding is not None else detector_no_finding(out.final[1])
    )


def _finding(
    label: str, score: float, threshold: float, box: tuple | None, case_id: str
) -> Finding:
    d = meets_threshold(score, threshold)
    reason = f"{score:.3f} {'>=' if d else '<'} {threshold:.3f}"
    return Finding(label, score, threshold, d, reason, box, (case_id,))


@dataclass(frozen=True)
class RuleChange:
    """One box whose score the classifier rule changed: before (fused) and after (final)."""

    label: str
    box: tuple[float, float, float, float]
    before: float
    after: float


def rule_changes(out: ChestOutput, tol: float = 1e-9) -> list[RuleChange]:
    """The boxes the rule re-scored. The rule keeps the fused boxes in order and scales
    their scores, so box ``i`` of ``fused`` is box ``i`` of ``final``."""
    (boxes, before, labels), after = out.fused, out.final[1]
    if len(after) != len(before):
        return []
    return [
        RuleChange(CLASSES[int(c)], tuple(float(v) for v in b), float(s0), float(s1))  # type: ignore[arg-type]
        for b, s0, s1, c in zip(boxes, before, after, labels)
        if abs(float(s0) - float(s1)) > tol
    ]


@dataclass(frozen=True)
class ChestResult:
    """One film scored by a chest bundle (the :class:`core.studies.study.StudyResult`
    protocol): final boxes as findings, "No finding" last."""

    study: str
    case_id: str
    content_hash: str
    bundle: str
    bundle_sha256: str
    output: ChestOutput
    thresholds: Thresholds
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    timings_ms: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.findings:
            object.__setattr__(self, "findings", self._decide(self.thresholds))

    def _decide(self, thresholds: Thresholds) -> tuple[Finding, ...]:
        t = thresholds.labels
        boxes, scores, labels = self.output.final
        out = [
            _finding(
                CLASSES[int(c)],
                float(s),
                t[CLASSES[int(c)]],
                tuple(float(v) for v in b),
                self.case_id,
            )  # fmt: skip
            for b, s, c in zip(np.asarray(boxes).reshape(-1, 4), scores, labels)
        ]
        out.append(_finding(NO_FINDING, no_finding_score(self.output), t[NO_FINDING], None,
                            self.case_id))  # fmt: skip
        return tuple(out)

    @property
    def box_findings(self) -> tuple[Finding, ...]:
        """The findings with a box (every one but "No finding")."""
        return tuple(f for f in self.findings if f.box is not None)

    def with_thresholds(self, thresholds: Thresholds) -> "ChestResult":
        """The same boxes re-decided under other thresholds; no model runs."""
        chosen = thresholds.require(tuple(self.thresholds.labels))
        return replace(self, thresholds=chosen, findings=self._decide(chosen))

    def to_dict(self) -> dict[str, Any]:
        out = self.output
        return identity_dict(self) | {
            "image_id": out.image_id,
            "size": list(out.size),
            "p_abnormal": out.p_abnormal,
            "no_finding": no_finding_score(out),
            "rule_action": out.action,
            "rule_changes": [vars(c) | {"box": list(c.box)} for c in rule_changes(out)],
            "members": {role: int(len(b[1])) for role, b in out.members.items()},
            "thresholds": self.thresholds.to_dict(),
            "timings_ms": dict(self.timings_ms),
            "notes": list(self.notes),
        }
