"""Heatmaps of one film for the review page: EigenCAM of any detector member, Grad-CAM of
one box for a Faster R-CNN member, each as a ``[0, 1]`` map the size of the film.

The film goes in as the runner feeds it (:func:`~core.studies.chest.runner.resize_film`,
the model's square side), so the map explains the very input the boxes came from; it is
resized back to the displayed film. Which method suits which member, and what each can
say, is stated here once (:data:`METHOD_LIMITS`) for the page and the report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from core.models.bundle import Bundle
from core.studies.chest.cam import (
    GRADCAM_LIMITS,
    GRADCAM_METHOD,
    LIMITS,
    METHOD,
    BoxNotFound,
    detector_eigencam,
    frcnn_box_gradcam,
)
from core.studies.chest.classes import CLASS_IDS
from core.studies.chest.detectors.torchvision_families import ChestFasterRCNN
from core.studies.chest.roles import detector_roles
from core.studies.chest.runner import resize_film

__all__ = [
    "BoxNotFound",
    "HeatmapRequest",
    "METHOD_LIMITS",
    "film_heatmap",
    "methods_for",
    "normalise",
]

log = logging.getLogger(__name__)

#: Each method and what it can and cannot say.
METHOD_LIMITS: dict[str, str] = {METHOD: LIMITS, GRADCAM_METHOD: GRADCAM_LIMITS}


@dataclass(frozen=True)
class HeatmapRequest:
    """One heatmap: ``method`` on detector ``role``; Grad-CAM also names the box
    (original pixels) and its class."""

    method: str
    role: str
    box: tuple[float, float, float, float] | None = None
    label: str | None = None

    def describe(self) -> str:
        where = (
            ""
            if self.box is None
            else f", box {self.label} @ " + ",".join(f"{v:.0f}" for v in self.box)
        )
        return f"{self.method} on {self.role}{where}"


def is_frcnn(bundle: Bundle, role: str) -> bool:
    """Whether ``role`` is a Faster R-CNN member (the family Grad-CAM per box supports)."""
    return isinstance(bundle.model(role), ChestFasterRCNN)


def methods_for(bundle: Bundle) -> dict[str, tuple[str, ...]]:
    """``method -> detector roles`` it can run on in this bundle."""
    roles = detector_roles(bundle.models)
    out = {METHOD: roles}
    frcnn = tuple(r for r in roles if is_frcnn(bundle, r))
    if frcnn:
        out[GRADCAM_METHOD] = frcnn
    return out


def normalise(heat: np.ndarray) -> np.ndarray:
    """A map scaled to [0, 1] (a flat map stays 0: nothing stands out)."""
    lo, hi = float(np.min(heat)), float(np.max(heat))
    return np.zeros_like(heat, np.float32) if hi - lo < 1e-12 else ((heat - lo) / (hi - lo))


def film_heatmap(
    bundle: Bundle, pixels: np.ndarray, original_size: tuple[int, int], req: HeatmapRequest
) -> np.ndarray:
    """The map of ``req`` on the film's display ``pixels``, the size of ``pixels``.

    Raises :class:`BoxNotFound` when Grad-CAM's box is not found again, ``ValueError``
    for a method the member does not support."""
    spec, model = bundle.spec(req.role), bundle.model(req.role)
    side = spec.input.size[0]
    x = torch.from_numpy(resize_film(pixels, side).astype(np.float32)[None, None] / 255.0)
    x = x.to(bundle.device)
    if req.method == METHOD:
        heat = detector_eigencam(model, spec, x)[0]
    elif req.method == GRADCAM_METHOD:
        if req.box is None or req.label is None or not is_frcnn(bundle, req.role):
            raise ValueError(f"{GRADCAM_METHOD} needs a Faster R-CNN member and a box")
        ow, oh = original_size
        scale = np.array([side / ow, side / oh] * 2, np.float32)
        box = np.asarray(req.box, np.float32) * scale
        heat = frcnn_box_gradcam(model, spec, x, box, CLASS_IDS[req.label])
    else:
        raise ValueError(f"unknown heatmap method {req.method!r}")
    h, w = pixels.shape[:2]
    return normalise(
        cv2.resize(np.asarray(heat, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    )
