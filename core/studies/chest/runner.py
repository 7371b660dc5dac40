"""Run a chest bundle (one detector, a classifier, or an ensemble of both) on films.

One path for ``predict``, ``evaluate``'s with/without-rule figures, the augmentation
study, the demo and the app: every film is resized to each model's square input the way
training saw it (the whole film, aspect not kept, ``INTER_AREA``), each detector's boxes
are mapped back to original pixels, several detectors are fused with WBF
(:mod:`core.studies.chest.ensemble`), and the classifier rule
(:mod:`core.studies.chest.rule`) lowers box scores on films that look normal and adds the
"No finding" prediction. Each stage's output is kept on :class:`ChestOutput`, so the app
can show what the rule did and evaluation can score the film with and without it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import pandas as pd
import torch

from core.models.bundle import Bundle
from core.models.model_thread import on_model_thread
from core.studies.chest.classes import NO_FINDING_ID
from core.studies.chest.ensemble import EnsembleSettings, fuse_members
from core.studies.chest.roles import CLASSIFIER, detector_roles
from core.studies.chest.rule import ClassifierRule, apply_rule
from core.studies.chest.submission import PREDICTION_COLUMNS

__all__ = [
    "Boxes",
    "ChestOutput",
    "boxes_frame",
    "ChestRunner",
    "classify_batch",
    "detect_batch",
    "detector_no_finding",
    "predictions_frame",
    "resize_film",
    "with_rule",
]

log = logging.getLogger(__name__)

#: ``(boxes (n, 4) xyxy original px, scores (n,), labels (n,) 0..13)``.
Boxes = tuple[np.ndarray, np.ndarray, np.ndarray]
_EMPTY: Boxes = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


def resize_film(pixels: np.ndarray, side: int) -> np.ndarray:
    """A film's display pixels as the square ``side`` x ``side`` input training used."""
    grey = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    interp = cv2.INTER_AREA if max(grey.shape) > side else cv2.INTER_LINEAR
    return cv2.resize(grey, (side, side), interpolation=interp)


def detect_batch(
    model: torch.nn.Module, x: torch.Tensor, sizes: Sequence[tuple[int, int]]
) -> list[Boxes]:
    """A detector's boxes for ``x`` (``[B, 1, side, side]`` in [0, 1]) in each film's
    original pixels ``sizes`` (``(width, height)``)."""
    side_h, side_w = x.shape[-2:]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        outs = model(x)
    model.train(was_training)
    found = []
    for out, (w, h) in zip(outs, sizes):
        scale = np.array([w / side_w, h / side_h] * 2, np.float32)
        boxes = out["boxes"].float().cpu().numpy().reshape(-1, 4) * scale
        found.append(
            (
                boxes,
                out["scores"].float().cpu().numpy(),
                out["labels"].cpu().numpy().astype(np.int64),
            )
        )
    return found


def classify_batch(model: torch.nn.Module, x: torch.Tensor, mean: float, std: float) -> np.ndarray:
    """P(abnormal) per film from the classifier on ``x`` in [0, 1] (normalised here, as in
    training)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model((x - mean) / std).float().reshape(-1)
    model.train(was_training)
    return torch.sigmoid(logits).cpu().numpy()


@dataclass(frozen=True)
class ChestOutput:
    """One film's prediction at every stage, boxes in original pixels.

    ``members`` holds each detector's own boxes (by role); ``fused`` the WBF of them (the
    lone detector's boxes for a single bundle); ``final`` the boxes after the classifier
    rule; ``no_finding`` the "No finding" score the rule adds (None without a classifier).
    """

    image_id: str
    size: tuple[int, int]
    members: dict[str, Boxes]
    fused: Boxes
    final: Boxes
    p_abnormal: float | None = None
    no_finding: float | None = None
    action: str = "no classifier: boxes as detected"
    timings_ms: dict[str, float] = field(default_factory=dict)


def with_rule(out: ChestOutput, rule: ClassifierRule) -> ChestOutput:
    """``out`` with ``final`` recomputed from its fused boxes under ``rule`` (no model runs:
    how a rule is fitted, and how the app shows a changed rule)."""
    if out.p_abnormal is None:
        return out
    outcome = apply_rule(*out.fused, out.p_abnormal, rule)
    return replace(out, final=(outcome.boxes, outcome.scores, outcome.labels),
                   no_finding=outcome.no_finding, action=outcome.action)  # fmt: skip


class ChestRunner:
    """A loaded chest bundle ready to run. Models are the bundle's (shared, eval mode)."""

    def __init__(self, bundle: Bundle, *, rule: ClassifierRule | None = None) -> None:
        if bundle.study != "chest":
            raise ValueError(f"{bundle.path}: a {bundle.study} bundle, not a chest one")
        self.bundle = bundle
        self.detectors = detector_roles(bundle.models)
        self.classifier = CLASSIFIER if CLASSIFIER in bundle.models else None
        settings = bundle.settings
        self.fusion = (
            EnsembleSettings.from_dict(settings["ensemble"])
            if settings.get("ensemble")
            else EnsembleSettings()
        )
        stored = (
            ClassifierRule.from_dict(settings["rule"]) if settings.get("rule") else ClassifierRule()
        )
        self.rule = rule if rule is not None else stored

    def _input(self, role: str, films: Sequence[np.ndarray],
               inputs: dict[int, torch.Tensor]) -> torch.Tensor:  # fmt: skip
        """The films at ``role``'s side, resized once per side per batch (members of an
        ensemble usually share one)."""
        side = self.bundle.spec(role).input.size[0]
        if side not in inputs:
            x = np.stack([resize_film(p, side) for p in films]).astype(np.float32) / 255.0
            inputs[side] = torch.from_numpy(x[:, None]).to(self.bundle.device)
        return inputs[side]

    def _detect(self, role: str, films: Sequence[np.ndarray], sizes: Sequence[tuple[int, int]],
                inputs: dict[int, torch.Tensor]) -> list[Boxes]:  # fmt: skip
        return detect_batch(self.bundle.model(role), self._input(role, films, inputs), sizes)

    def _classify(self, films: Sequence[np.ndarray], inputs: dict[int, torch.Tensor]) -> np.ndarray:
        spec = self.bundle.spec(CLASSIFIER)
        x = self._input(CLASSIFIER, films, inputs)
        return classify_batch(
            self.bundle.model(CLASSIFIER), x, spec.input.mean[0], spec.input.std[0]
        )

    @on_model_thread
    def run(
        self,
        films: Sequence[np.ndarray],
        sizes: Sequence[tuple[int, int]],
        image_ids: Sequence[str],
    ) -> list[ChestOutput]:
        """One output per film. ``films`` are display pixels (uint8, grey or RGB);
        ``sizes`` the original ``(width, height)`` each film's boxes are wanted in."""
        timings: dict[str, float] = {}
        members: dict[str, list[Boxes]] = {}
        inputs: dict[int, torch.Tensor] = {}  # per side; models never write to their input
        for role in self.detectors:
            t = time.perf_counter()
            members[role] = self._detect(role, films, sizes, inputs)
            timings[role] = (time.perf_counter() - t) * 1000 / max(len(films), 1)
        t = time.perf_counter()
        p = self._classify(films, inputs) if self.classifier else [None] * len(films)
        if self.classifier:
            timings[CLASSIFIER] = (time.perf_counter() - t) * 1000 / max(len(films), 1)
        outputs = []
        for i, (image_id, size) in enumerate(zip(image_ids, sizes)):
            t = time.perf_counter()
            own = {role: members[role][i] for role in self.detectors}
            if len(own) > 1:
                fused = fuse_members(list(own.values()), size, self.fusion)
            else:
                fused = next(iter(own.values()), _EMPTY)
            fuse_ms = (time.perf_counter() - t) * 1000
            out = ChestOutput(
                image_id=str(image_id), size=(int(size[0]), int(size[1])), members=own,
                fused=fused, final=fused, p_abnormal=None if p[i] is None else float(p[i]),
                timings_ms=timings | {"fusion": fuse_ms},
            )  # fmt: skip
            outputs.append(out if p[i] is None else with_rule(out, self.rule))
        return outputs

    def iter_run(
        self, items: Iterable[tuple[str, np.ndarray, tuple[int, int]]], batch_size: int = 4
    ) -> Iterator[ChestOutput]:
        """Lazily run ``(image_id, pixels, original size)`` items in batches, in order."""
        batch: list[tuple[str, np.ndarray, tuple[int, int]]] = []
        for item in items:
            batch.append(item)
            if len(batch) == batch_size:
                yield from self.run(
                    [b[1] for b in batch], [b[2] for b in batch], [b[0] for b in batch]
                )
                batch = []
        if batch:
            yield from self.run([b[1] for b in batch], [b[2] for b in batch], [b[0] for b in batch])


def detector_no_finding(scores: np.ndarray) -> float:
    """The "No finding" score a detector alone implies: one minus its most confident box
    (1 for a film without boxes). Used wherever no classifier speaks, so a detector-only
    bundle still competes for the competition's 15th class."""
    return float(1.0 - np.max(scores)) if len(scores) else 1.0


def boxes_frame(films: Iterable[tuple[str, tuple[int, int], Boxes, float | None]]) -> pd.DataFrame:
    """Prediction rows (:data:`PREDICTION_COLUMNS`) of ``(image_id, original size, boxes,
    "No finding" score or None)`` per film: boxes clipped to the film, then the film's "No
    finding" row (None: from the boxes' own confidence, :func:`detector_no_finding`)."""
    rows: list[tuple] = []
    for image_id, (w, h), (boxes, scores, labels), no_finding in films:
        clipped = np.clip(boxes, 0, [w, h, w, h]) if len(boxes) else boxes
        rows += [
            (image_id, int(c), float(s), *map(float, b)) for b, s, c in zip(clipped, scores, labels)
        ]
        nf = detector_no_finding(scores) if no_finding is None else no_finding
        rows.append((image_id, NO_FINDING_ID, float(nf), 0.0, 0.0, 1.0, 1.0))
    frame = pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))
    return frame.astype({"image_id": str, "class_id": int})


def predictions_frame(outputs: Iterable[ChestOutput], *, stage: str = "final") -> pd.DataFrame:
    """Prediction rows (:data:`PREDICTION_COLUMNS`, original pixels) of one stage, each
    film with its "No finding" row: ``final`` (after the classifier rule, with the rule's
    "No finding" score), ``fused`` (the rule left out: the boxes, and "No finding" from
    the detectors' own confidence, :func:`detector_no_finding`), or a member role's boxes."""

    def stage_of(out: ChestOutput) -> Boxes:
        return (
            out.final if stage == "final" else out.fused if stage == "fused" else out.members[stage]
        )

    return boxes_frame(
        (o.image_id, o.size, stage_of(o), o.no_finding if stage == "final" else None)
        for o in outputs
    )
