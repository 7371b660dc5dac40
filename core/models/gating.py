"""The two-stage decision, as pure functions of probabilities and thresholds.

Kept apart from the networks so it can be tested on hand-built numbers, and so a threshold
what-if re-decides a stored result without running any model.

* Circulation means: the mean stage-1 score of the I views (anterior) and of the V views
  (posterior) that are present. A circulation with no view has no mean.
* Patient score = max of the available means (the original rule); none without views.
* Stage-1 decision: patient score >= stage-1 threshold.
* Locations: per-view stage-2 probabilities get their side back from the view, A/B views
  of one side are combined by the bundle's rule (max in the original) and BA takes both
  sides (:func:`core.schema.regenerate_locations`). Below the stage-1 threshold every
  location decision is 0, but the probabilities are still reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from core.models.thresholds import Thresholds, decide
from core.schema import LOCATIONS, CirculationGroups, regenerate_locations, view_info, views_of

__all__ = ["Gate", "LocationDecision", "circulation_means", "gate", "decide_locations"]


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


@dataclass(frozen=True)
class LocationDecision:
    """One of the 21 columns: combined probability, its threshold, the decision, and why."""

    column: str
    probability: float
    threshold: float
    decision: int
    views: tuple[str, ...]  # views whose stage-2 scores were combined
    reason: str

    def to_dict(self) -> dict[str, object]:
        d = dict(self.__dict__)
        d["views"] = list(self.views)
        return d


def circulation_means(view_scores: Mapping[str, float]) -> dict[str, float | None]:
    """``{"anterior": mean of I-view scores, "posterior": mean of V-view scores}``; a
    circulation without views maps to None."""
    out: dict[str, float | None] = {}
    for circ in ("anterior", "posterior"):
        present = views_of(circ)  # type: ignore[arg-type]
        scores = [view_scores[v] for v in present if v in view_scores]
        out[circ] = float(np.mean(scores)) if scores else None
    return out


def gate(view_scores: Mapping[str, float], threshold: float) -> Gate:
    """Stage 1 for one patient from its per-view stage-1 probabilities."""
    means = circulation_means(view_scores)
    present = {c: m for c, m in means.items() if m is not None}
    absent = [c for c, m in means.items() if m is None]
    if not present:
        return Gate(None, None, None, threshold, False, "no views: no stage-1 score")
    circ, score = max(present.items(), key=lambda kv: kv[1])
    positive = bool(decide(score, threshold))
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
) -> dict[str, LocationDecision]:
    """The 21 location decisions from per-view stage-2 probabilities ``{view: {base: p}}``."""
    combined = regenerate_locations(view_probs, groups, combine)
    out: dict[str, LocationDecision] = {}
    for col in LOCATIONS:
        side, base = col.split("_", 1) if "_" in col else (None, col)
        circ = groups.circulation_of(base)
        used = tuple(
            v for v in view_probs
            if view_info(v).circulation == circ and (side is None or view_info(v).side == side)
        )  # fmt: skip
        p, t = combined[col], thresholds.locations[col]
        if not used:
            decision, reason = 0, "no view of this location: probability 0 by convention"
        elif not gate_result.positive:
            decision, reason = 0, "stage 1 negative: all locations 0"
        else:
            decision = decide(p, t)
            reason = f"{combine} of {', '.join(used)}: {p:.3f} {'>=' if decision else '<'} {t:.3f}"
        out[col] = LocationDecision(col, p, t, decision, used, reason)
    return out
