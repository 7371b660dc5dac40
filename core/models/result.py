"""Typed results of running a bundle on one case: pure data, JSON-ready through ``to_dict``.

A :class:`CaseResult` holds only numbers about its own case (probabilities, decisions,
preprocessing records, small layer-resolution CAM maps) and never pixels of any image, so
it can be cached by the case's content hash and shown to the session that owns it.
Stage-2 probabilities are kept even when stage 1 is negative, and
:meth:`CaseResult.with_thresholds` re-decides without running a model (threshold what-if).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Mapping

import numpy as np

from core.case import PreprocessRecord
from core.findings import Finding
from core.models.gating import Gate, gate_and_decide
from core.models.thresholds import Thresholds
from core.results import identity_dict
from core.schema import CirculationGroups

__all__ = ["ViewCam", "ViewResult", "Timings", "CaseResult"]


@dataclass(frozen=True)
class ViewCam:
    """One view's CAM: ``raw`` at the hooked layer's resolution, ReLU'd, not normalised.

    ``core.cam.mapping.to_original(raw, record)`` places it in the original image;
    ``core.cam.mapping.scale_maps`` scales a set per view or on one shared scale.
    """

    view: str
    target: str  # "Aneurysm" (stage-1 logit) or a location column such as "L_MCA"
    method: str
    layer: str
    raw: np.ndarray
    peak_xy: tuple[int, int] | None  # maximum in original image pixels; None: all-zero map
    logit: float  # the explained output's raw logit

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view, "target": self.target, "method": self.method,
            "layer": self.layer, "raw": self.raw.round(6).tolist(),
            "peak_xy": None if self.peak_xy is None else list(self.peak_xy),
            "logit": self.logit,
        }  # fmt: skip


@dataclass(frozen=True)
class ViewResult:
    """Per view: stage-1 probability, its model's stage-2 probabilities, preprocessing."""

    view: str
    stage1_probability: float
    stage2_probabilities: Mapping[str, float]  # base location -> probability
    record: PreprocessRecord
    cam: ViewCam | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "stage1_probability": self.stage1_probability,
            "stage2_probabilities": dict(self.stage2_probabilities),
            "preprocess": {
                "image_type": self.record.image_type,
                "crop": list(self.record.crop),
                "text_boxes": [list(b) for b in self.record.text_boxes],
                "original_size": list(self.record.original_size),
            },
            "cam": None if self.cam is None else self.cam.to_dict(),
        }


@dataclass(frozen=True)
class Timings:
    """Wall-clock milliseconds per step. With CAM on, stage 1 is one fused pass: its
    forward gives the scores and its backward the maps, so ``stage1_ms`` includes the
    CAM backward and ``cam_ms`` only the mapping of maps to original coordinates.
    When several cases ran as one batch, each gets an even share of the batch's time."""

    preprocess_ms: float = 0.0
    stage1_ms: float = 0.0
    stage2_ms: float = 0.0
    cam_ms: float = 0.0
    device: str = "cpu"
    fused_stage1_cam: bool = False
    cases_in_batch: int = 1

    @property
    def total_ms(self) -> float:
        return self.preprocess_ms + self.stage1_ms + self.stage2_ms + self.cam_ms

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__) | {"total_ms": self.total_ms}


@dataclass(frozen=True)
class CaseResult:
    """Everything the two stages said about one case: the gate, then one finding per
    location column of the bundle's schema (in its order)."""

    study: ClassVar[str] = "aneurysm"

    case_id: str
    content_hash: str
    bundle: str  # bundle name
    bundle_sha256: str  # SHA-256 of its bundle.json: results are only valid for that bundle
    views: Mapping[str, ViewResult]
    missing_views: tuple[str, ...]
    gate: Gate
    locations: Mapping[str, Finding]
    thresholds: Thresholds
    groups: CirculationGroups
    combine: str
    timings: Timings = field(default_factory=Timings)
    notes: tuple[str, ...] = ()  # partial case, intake problems, ...

    @property
    def aneurysm_probability(self) -> float | None:
        """The K-Ium ``Aneurysm`` column: the patient score."""
        return self.gate.patient_score

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The case-level ``Aneurysm`` finding (the gate), then every location."""
        return (self.gate.finding(), *self.locations.values())

    @property
    def decisions(self) -> dict[str, int]:
        return {c: f.decision for c, f in self.locations.items()}

    @property
    def probabilities(self) -> dict[str, float]:
        return {c: f.score for c, f in self.locations.items()}

    def with_thresholds(self, thresholds: Thresholds) -> "CaseResult":
        """The same case re-decided under other thresholds; no model runs."""
        g, locs = gate_and_decide(
            {v: r.stage1_probability for v, r in self.views.items()},
            {v: r.stage2_probabilities for v, r in self.views.items()},
            thresholds.require(tuple(self.locations)),
            self.groups,
            self.combine,
        )
        return replace(self, gate=g, locations=locs, thresholds=thresholds)

    def to_dict(self) -> dict[str, Any]:
        return identity_dict(self) | {
            "aneurysm_probability": self.aneurysm_probability,
            "gate": self.gate.to_dict(),
            "views": {v: r.to_dict() for v, r in self.views.items()},
            "missing_views": list(self.missing_views),
            "thresholds": self.thresholds.to_dict(),
            "groups": self.groups.to_dict(),
            "combine": self.combine,
            "timings": self.timings.to_dict(),
            "notes": list(self.notes),
        }
