"""One view's anatomy: pick the model for the view, mirror it for the right side, pose it.

The view models are written for the left side; the right side is their mirror image, as
the K-Ium views are. Each view then gets its own small rotation, scale and smooth warp so
that no two patients, and no two projections, share a skeleton. :func:`to_pixels` maps
the field into a picture of a given size.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from core.schema import view_info
from core.synth import carotid, vertebral
from core.synth.builder import Builder, Physique
from core.synth.geometry import Anatomy, Ellipse

__all__ = ["build_view", "to_pixels", "MODELS"]

#: (model, bounds) per circulation and projection.
MODELS: dict[tuple[str, str], tuple[Callable[[Builder], None], Ellipse]] = {
    ("anterior", "A"): (carotid.carotid_frontal, carotid.FRONTAL_BOUNDS),
    ("anterior", "B"): (carotid.carotid_lateral, carotid.LATERAL_BOUNDS),
    ("posterior", "A"): (vertebral.vertebral_frontal, vertebral.FRONTAL_BOUNDS),
    ("posterior", "B"): (vertebral.vertebral_lateral, vertebral.LATERAL_BOUNDS),
}


def _pose(rng: np.random.Generator, mirror: bool) -> Callable[[np.ndarray], np.ndarray]:
    """Mirror (right side), then a random similarity about the centre and a smooth warp."""
    angle = math.radians(rng.normal(0.0, 4.0))
    scale = rng.uniform(0.93, 1.07)
    shift = rng.normal(0.0, 0.02, 2)
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    rot = np.array([[c, -s], [s, c]])
    freq = rng.uniform(1.0, 2.5, (2, 2))
    phase = rng.uniform(0, 2 * math.pi, 2)
    amp = rng.uniform(0.004, 0.015, 2)

    def f(pts: np.ndarray) -> np.ndarray:
        p = np.asarray(pts, float).copy()
        if mirror:
            p[:, 0] = 1.0 - p[:, 0]
        p = (p - 0.5) @ rot.T + 0.5 + shift
        w = np.sin(2 * math.pi * (p @ freq.T) + phase) * amp
        return p + w[:, ::-1]

    return f


def build_view(view: str, rng: np.random.Generator, physique: Physique) -> Anatomy:
    """The posed anatomy of ``view`` in field units (unit square, y down)."""
    info = view_info(view)
    model, bounds = MODELS[(info.circulation, info.projection)]
    builder = Builder(rng, physique, bounds)
    model(builder)
    return builder.anatomy.mapped(_pose(rng, mirror=info.side == "R"), 1.0)


def to_pixels(anatomy: Anatomy, size: tuple[int, int], zoom: float, offset: np.ndarray) -> Anatomy:
    """Scale the field into a ``size`` (w, h) picture: the unit square becomes a square of
    ``zoom * min(w, h)`` pixels centred on the picture, moved by ``offset`` (in field units)."""
    w, h = size
    side = zoom * min(w, h)
    origin = np.array([w / 2.0, h / 2.0]) - side * (0.5 - np.asarray(offset, float))
    return anatomy.mapped(lambda p: origin + side * p, side)
