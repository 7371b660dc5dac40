"""The aneurysm study's two-stage decision, as pure functions of probabilities and thresholds.

Kept apart from the networks so it can be tested on hand-built numbers, and so a threshold
what-if re-decides a stored result without running any model. Every path that decides
(inference, a stored result re-decided, training calibration) calls :func:`gate_and_decide`.

* Circulation means: the mean stage-1 score of the I views (anterior) and of the V views
  (posterior) that are present. A circulation with no view has no mean.
* Patient score (:func:`patient_score`) = max of the available means (the original rule);
  none without views.
* Stage-1 decision: patient score >= stage-1 threshold.
* Locations: per-view stage-2 probabilities get their side back from the view, the views
  that feed a location (:func:`core.schema.feeding_views`) are combined by the bundle's
  rule (max in the original; ``joint_max`` first weighs each view by its stage-1
  probability) (:func:`core.schema.regenerate_locations`). Below the stage-1
  threshold every location decision is 0, but the probabilities are still reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from core.findings import Finding, meets_threshold
from core.models.thresholds import Thresholds
from core.schema import LOCATIONS, CirculationGroups, feeding_views, regenerate_locations, views_of

__all__ = [
    "Gate",
    "circulation_means",
    "patient_score",
    "gate",
    "decide_locations",
    "gate_and_decide",
]


@dataclass(frozen=True)
class Gate:
    """The stage-1 outcome for one patient, with the reason in words."""

    anterior_mean: float | None
    posterior_mean: float | None
    patient_score: float | None
    threshold: float
    positive: bool
    reason: str

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)

    def finding(self, label: str = "Aneurysm") -> Finding:
        """The gate as the case-level finding a reviewer judges."""
        score = 0.0 if self.patient_score is None else self.patient_score
        return Finding(label, score, self.threshold, int(self.positive), self.reason)


def circulation_means(view_scores: Mapping[str, float]) -> dict[str, float | None]:
    """``{"anterior": mean of I-view scores, "posterior": mean of V-view scores}``; a
    circulation without views maps to None."""
    out: dict[str, float | None] = {}
    for circ in ("anterior", "posterior"):
        present = views_of(circ)  # type: ignore[arg-type]
        scores = [view_scores[v] for v in present if v in view_scores]
        out[circ] = float(np.mean(scores)) if scores else None
    return out


def patient_score(view_scores: Mapping[str, float]) -> float | None:
    """The K-Ium ``Aneurysm`` score: the larger circulation mean; None without views."""
    present = [m for m in circulation_means(view_scores).values() if m is not None]
    return max(present) if present else None


def gate(view_scores: Mapping[str, float], threshold: float) -> Gate:
    """Stage 1 for one patient from its per-view stage-1 probabilities."""
    means = circulation_means(view_scores)
    present = {c: m for c, m in means.items() if m is not None}
    absent = [c for c, m in means.items() if m is None]
    if not present:
        return Gate(None, None, None, threshold, False, "no views: no stage-1 score")
    circ, score = max(present.items(), key=lambda kv: kv[1])
    positive = bool(meets_threshold(score, threshold))
    relation = ">=" if positive else "<"
    reason = f"patient score {score:.3f} ({circ} mean) {relation} threshold {threshold:.3f}"
    if absent:
        reason += f"; no {' or '.join(absent)} views, so no mean for that circulation"
    return Gate(means["anterior"], means["posterior"], score, threshold, positive, reason)


def decide_locations(
    view_probs: Mapping[str, Mapping[str, float]],
    gate_result: Gate,
    thresholds: Thresholds,
    groups: CirculationGroups,
    combine: str = "max",
    view_scores: Mapping[str, float] | None = None,
) -> dict[str, Finding]:
    """The 21 location findings from per-view stage-2 probabilities ``{view: {base: p}}``
    (and, for a ``joint_*`` rule, the per-view stage-1 probabilities)."""
    combined = regenerate_locations(view_probs, groups, combine, view_scores)
    how = (
        f"{combine.removeprefix('joint_')} of stage 1 x stage 2"
        if combine.startswith("joint_")
        else combine
    )
    out: dict[str, Finding] = {}
    for col in LOCATIONS:
        used = feeding_views(col, groups, view_probs)
        p, t = combined[col], thresholds.labels[col]
        if not used:
            decision, reason = 0, "no view of this location: probability 0 by convention"
        elif not gate_result.positive:
            decision, reason = 0, "stage 1 negative: all locations 0"
        else:
            decision = meets_threshold(p, t)
            reason = f"{how} of {', '.join(used)}: {p:.3f} {'>=' if decision else '<'} {t:.3f}"
        out[col] = Finding(col, p, t, decision, reason, None, used)
    return out


def gate_and_decide(
    view_scores: Mapping[str, float],
    view_probs: Mapping[str, Mapping[str, float]],
    thresholds: Thresholds,
    groups: CirculationGroups,
    combine: str = "max",
) -> tuple[Gate, dict[str, Finding]]:
    """Stage 1, then the locations it gates: the one place the two-stage rule is applied."""
    if thresholds.stage1 is None:
        raise ValueError("the aneurysm study needs a stage-1 threshold")
    g = gate(view_scores, thresholds.stage1)
    return g, decide_locations(view_probs, g, thresholds, groups, combine, view_scores)
