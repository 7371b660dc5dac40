"""Ensembling chest detectors: each member's boxes fused with weighted boxes fusion (WBF).

The strongest VinBigData teams ensembled their detectors with WBF at IoU 0.33-0.4 and a
tiny skip threshold. WBF averages overlapping same-class boxes, coordinates weighted by
score x member weight, instead of keeping one and dropping the rest (NMS): with members
that disagree slightly about where a lesion is, the average is the better box. A lesion
only some members found keeps a lowered score (``avg``: the weighted score sum over the
weight sum), so agreement ranks first. Defaults: IoU 0.4 (the metric's own threshold, as
:data:`~core.studies.chest.fusion.DEFAULT_FUSION`), skip 1e-4 (nothing real is dropped).

Boxes travel in original pixels; ``ensemble-boxes`` wants ``[0, 1]``, so
:func:`fuse_members` normalises by the film's size, clips, drops boxes left with no area
(the library would warn and skip them anyway) and maps the result back.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike

from core.studies.chest.classes import NO_FINDING_ID
from core.studies.chest.fusion import CONF_TYPES, FusionSettings, fuse_boxes

__all__ = ["DEFAULT_ENSEMBLE", "EnsembleError", "EnsembleSettings", "fuse_members"]

log = logging.getLogger(__name__)


class EnsembleError(ValueError):
    """Ensemble settings or member outputs that cannot be fused."""


def _number(name: str, value: object, lo: float, hi: float, hi_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise EnsembleError(f"{name} must be a number, got {value!r}")
    ok = math.isfinite(value) and lo <= value and (value < hi if hi_open else value <= hi)
    if not ok:
        raise EnsembleError(f"{name} {value!r} is not in [{lo}, {hi}{')' if hi_open else ']'}")
    return float(value)


@dataclass(frozen=True)
class EnsembleSettings:
    """How member detectors' boxes are fused; JSON-able (:meth:`to_dict`, :meth:`from_dict`).
    ``weights``: one positive number per member, in member order (``None``: all equal)."""

    iou_thr: float = 0.4
    skip_box_thr: float = 1e-4
    conf_type: str = "avg"
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "iou_thr", _number("iou_thr", self.iou_thr, 0.0, 1.0))
        skip = _number("skip_box_thr", self.skip_box_thr, 0.0, 1.0, hi_open=True)
        object.__setattr__(self, "skip_box_thr", skip)
        if self.conf_type not in CONF_TYPES:
            raise EnsembleError(f"unknown conf_type {self.conf_type!r}; use one of {CONF_TYPES}")
        if self.weights is not None:
            if isinstance(self.weights, (str, bytes)) or not isinstance(self.weights, Sequence):
                raise EnsembleError(f"weights must be a list of numbers, got {self.weights!r}")
            why = f"weights must be positive numbers, got {list(self.weights)!r}"
            try:
                w = tuple(_number("weight", v, 0.0, math.inf) for v in self.weights)
            except EnsembleError as err:
                raise EnsembleError(why) from err
            if not w or min(w) <= 0.0:
                raise EnsembleError(why)
            object.__setattr__(self, "weights", w)

    def fusion(self) -> FusionSettings:
        """The WBF settings :func:`~core.studies.chest.fusion.fuse_boxes` takes."""
        return FusionSettings("wbf", self.iou_thr, self.skip_box_thr, self.conf_type)

    def to_dict(self) -> dict[str, object]:
        return {"iou_thr": self.iou_thr, "skip_box_thr": self.skip_box_thr,
                "conf_type": self.conf_type,
                "weights": None if self.weights is None else list(self.weights)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> EnsembleSettings:
        """Saved settings; unknown fields or bad values raise :class:`EnsembleError`
        (missing fields take the defaults)."""
        if not isinstance(data, Mapping):
            raise EnsembleError(f"settings are a mapping, got {type(data).__name__}")
        if unknown := sorted(set(data) - {f.name for f in fields(cls)}):
            raise EnsembleError(f"unknown ensemble fields {unknown}")
        return cls(**data)  # type: ignore[arg-type]


#: IoU 0.4, skip 1e-4, ``avg``, equal weights (see the module docstring).
DEFAULT_ENSEMBLE = EnsembleSettings()

Member = tuple[ArrayLike, ArrayLike, ArrayLike]


def _normalised(member: Member, scale: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """One member's boxes in ``[0, 1]`` (clipped), boxes without area dropped."""
    boxes = np.asarray(member[0], float).reshape(-1, 4)
    scores = np.asarray(member[1], float).ravel()
    labels = np.asarray(member[2]).ravel()
    if not len(boxes) == len(scores) == len(labels):
        raise EnsembleError(f"member {k}: {len(boxes)} boxes, {len(scores)} scores and "
                            f"{len(labels)} labels differ")  # fmt: skip
    if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
        raise EnsembleError(f"member {k}: boxes and scores must be finite numbers")
    if len(scores) and (scores.min() < 0.0 or scores.max() > 1.0):
        raise EnsembleError(f"member {k}: scores must be in [0, 1]")
    if len(labels) and not (np.all(labels == np.round(labels)) and labels.min() >= 0
                            and labels.max() < NO_FINDING_ID):  # fmt: skip
        raise EnsembleError(f"member {k}: labels must be finding classes 0-13")
    norm = np.clip(boxes / scale, 0.0, 1.0)
    keep = (norm[:, 2] > norm[:, 0]) & (norm[:, 3] > norm[:, 1])
    if dropped := int((~keep).sum()):
        log.debug("member %d: dropped %d boxes with no area inside the film", k, dropped)
    return norm[keep], scores[keep], labels[keep].astype(int)


def fuse_members(
    per_member: Sequence[Member],
    size_wh: tuple[float, float],
    settings: EnsembleSettings = DEFAULT_ENSEMBLE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One film's member outputs (``(boxes_px (n, 4) xyxy, scores (n,), labels (n,))`` each,
    in member order) fused -> ``(boxes_px, scores, labels)``, highest score first.

    ``size_wh`` is the film's original ``(width, height)``. A member with no boxes is
    fine (it still counts in ``avg``'s weight sum: a box it missed scores lower).
    """
    if not per_member:
        raise EnsembleError("no members to fuse")
    if len(size_wh) != 2:
        raise EnsembleError(f"film size {size_wh!r} is not (width, height)")
    width, height = (_number(n, v, 0.0, math.inf) for n, v in zip(("width", "height"), size_wh))
    if width <= 0 or height <= 0:
        raise EnsembleError(f"film size {size_wh} must be positive")
    if settings.weights is not None and len(settings.weights) != len(per_member):
        raise EnsembleError(f"{len(settings.weights)} weights for {len(per_member)} members")
    scale = np.array([width, height, width, height])
    parts = [_normalised(m, scale, k) for k, m in enumerate(per_member)]
    boxes, scores, labels = fuse_boxes(
        [b for b, _, _ in parts], [s for _, s, _ in parts], [c for *_, c in parts],
        settings.fusion(), weights=settings.weights,
    )  # fmt: skip
    order = np.argsort(-scores, kind="stable")
    return np.clip(boxes[order], 0.0, 1.0) * scale, scores[order], labels[order]
