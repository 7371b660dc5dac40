"""Lesions of the lung fields, each with its own look and its usual place.

- Nodule/Mass: a round, slightly lobulated solid opacity anywhere in a lung (masses larger
  and denser).
- Calcification: one to four tiny, very dense dots (calcified granulomas).
- Consolidation: a dense, fairly sharp-edged patch, mostly in the lower and middle zones,
  with air bronchograms (dark branching tubes) through it.
- Lung Opacity: a fainter, soft-edged, ground-glass patch anywhere.
- Infiltration: ill-defined mottled opacity, perihilar and middle zones.
- Atelectasis: a band (plate-like collapse), nearly horizontal, in a lower zone.
- ILD: a fine reticular net, basal and peripheral, over much of one lung.
- Pulmonary fibrosis: coarse strands pointing to the hilum in an upper or middle zone.

Amounts are shares of the local aeration (see :func:`core.studies.chest.synth.place.add_patch`),
so a lesion's contrast follows the patient and the exposure like the lung's own does.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from core.studies.chest.classes import CLASS_IDS
from core.studies.chest.synth.anatomy import Layers
from core.studies.chest.synth.body import Body
from core.studies.chest.synth.draw import as_float, ellipse, noise_field, stroke
from core.studies.chest.synth.place import Lesion, add_patch, grid, lung_point, pick_side

__all__ = [
    "atelectasis",
    "calcification",
    "consolidation",
    "fibrosis",
    "ild",
    "infiltration",
    "lung_opacity",
    "nodule",
    "smoothstep",
]  # fmt: skip


def smoothstep(x: np.ndarray) -> np.ndarray:
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _blob(
    rng: np.random.Generator, r: float, edge: float, rough: float, cells: float = 5.0
) -> tuple[np.ndarray, int]:
    """A rounded patch of radius ~``r`` px, 1 inside; ``edge`` is the soft rim's share of
    the radius, ``rough`` how irregular the outline is. Returns (patch, half-size)."""
    half = int(math.ceil(r * (1.5 + rough))) + 2
    xx, yy = grid(-half, -half, half, half)
    f = 1.0 - np.hypot(xx, yy) / r + rough * noise_field(rng, xx.shape, cells)
    return smoothstep(f / max(edge, 1e-3)), half


def _at(layers: Layers, patch: np.ndarray, centre: np.ndarray, half: int, side: int,
        **kw: object) -> np.ndarray:  # fmt: skip
    x0, y0 = int(round(centre[0])) - half, int(round(centre[1])) - half
    return add_patch(layers, patch, x0, y0, side=side, **kw)


def nodule(body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    mass = rng.random() < 0.2
    r = body.a * (rng.uniform(0.07, 0.14) if mass else rng.uniform(0.02, 0.06))
    side, c = lung_point(body, layers, rng, zone=(0.08, 0.85), margin=1.2 * r)
    half = int(math.ceil(1.3 * r)) + 2
    xx, yy = grid(-half, -half, half, half)
    ang = np.arctan2(yy, xx)
    lobes = 1.0 + 0.1 * np.sin(rng.integers(2, 6) * ang + rng.uniform(0, 2 * math.pi))
    f = np.clip(1.0 - np.hypot(xx, yy) / (r * lobes), 0.0, 1.0) ** 0.5
    amount = rng.uniform(0.6, 0.95) if mass else rng.uniform(0.4, 0.8)
    pts = _at(layers, amount * f, c, half, side, frac=0.15)
    return Lesion(
        CLASS_IDS["Nodule/Mass"], pts, {"side": side, "kind": "mass" if mass else "nodule"}
    )


def calcification(body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    side, c = lung_point(body, layers, rng, zone=(0.1, 0.8), margin=0.05 * body.a)
    n = int(rng.integers(1, 5))
    half = int(math.ceil(0.07 * body.a)) + 2
    canvas = np.zeros((2 * half, 2 * half), np.uint8)
    for _ in range(n):
        spot = np.array([half, half]) + rng.normal(0.0, 0.02 * body.a, 2) * (n > 1)
        r = max(1.0, rng.uniform(0.006, 0.014) * body.a)
        ellipse(canvas, spot, (r, r * rng.uniform(0.8, 1.0)), 255, rng.uniform(0, 180))
    pts = _at(layers, rng.uniform(0.3, 0.5) * as_float(canvas), c, half, side,
              relative=False, frac=0.3)  # fmt: skip
    return Lesion(CLASS_IDS["Calcification"], pts, {"side": side, "kind": f"{n} dots"})


def consolidation(body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    r = body.a * rng.uniform(0.12, 0.28)
    side, c = lung_point(body, layers, rng, zone=(0.35, 0.9), margin=0.6 * r)
    patch, half = _blob(rng, r, edge=0.2, rough=0.35)
    tubes = np.zeros(patch.shape, np.uint8)
    toward = body.hilum(side) - c
    base = math.atan2(toward[1], toward[0]) + math.pi  # bronchi run away from the hilum
    for _ in range(int(rng.integers(2, 5))):
        start = np.array([half, half]) - 0.8 * r * np.array([math.cos(base), math.sin(base)])
        start += rng.normal(0.0, 0.25 * r, 2)
        h = base + rng.normal(0.0, 0.3)
        end = start + 1.6 * r * np.array([math.cos(h), math.sin(h)])
        stroke(tubes, np.array([start, 0.5 * (start + end) + rng.normal(0, 0.1 * r, 2), end]),
               255, max(1.0, 0.012 * body.a))  # fmt: skip
    bronchi = cv2.GaussianBlur(as_float(tubes), (0, 0), max(0.5, 0.004 * body.a))
    patch = patch * (1.0 - 0.55 * bronchi) * rng.uniform(0.7, 0.95)
    pts = _at(layers, patch, c, half, side, frac=0.25)
    return Lesion(CLASS_IDS["Consolidation"], pts, {"side": side})


def lung_opacity(body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    r = body.a * rng.uniform(0.1, 0.28)
    side, c = lung_point(body, layers, rng, zone=(0.1, 0.9), margin=0.5 * r)
    region, half = _blob(rng, r, edge=0.7, rough=0.4)
    patch = region * rng.uniform(0.4, 0.65) * (1.0 + 0.15 * noise_field(rng, region.shape, 12))
    pts = _at(layers, patch, c, half, side, frac=0.3, envelope=region)
    return Lesion(CLASS_IDS["Lung Opacity"], pts, {"side": side})


def infiltration(body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    r = body.a * rng.uniform(0.12, 0.26)
    side, c = lung_point(body, layers, rng, zone=(0.3, 0.75), margin=0.5 * r)
    region, half = _blob(rng, r, edge=0.8, rough=0.3)
    spots = smoothstep((noise_field(rng, region.shape, 2 * r / (0.05 * body.a)) - 0.1) / 0.8)
    patch = region * (0.25 + 0.75 * spots) * rng.uniform(0.45, 0.7)
    pts = _at(layers, patch, c, half, side, frac=0.3, envelope=region)
    return Lesion(CLASS_IDS["Infiltration"], pts, {"side": side})


def atelectasis(body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    length = body.a * rng.uniform(0.18, 0.4)
    side, c = lung_point(body, layers, rng, zone=(0.5, 0.85), margin=0.3 * length)
    t = body.lh * rng.uniform(0.015, 0.035)
    half = int(math.ceil(0.6 * length + t)) + 2
    canvas = np.zeros((2 * half, 2 * half), np.uint8)
    a = math.radians(rng.uniform(-25, 25))
    d = 0.5 * length * np.array([math.cos(a), math.sin(a)])
    mid = np.array([half, half]) + rng.normal(0.0, 0.05 * length, 2)
    stroke(canvas, np.array([mid - d, mid, mid + d]), 255, t)
    band = cv2.GaussianBlur(as_float(canvas), (0, 0), max(0.5, 0.3 * t))
    pts = _at(layers, band * rng.uniform(0.6, 0.9), c, half, side, frac=0.3)
    return Lesion(CLASS_IDS["Atelectasis"], pts, {"side": side})


def _zone_patch(body: Body, side: int, y_top: float, y_bottom: float) -> tuple[int, int, int, int]:
    """Window (x0, y0, x1, y1) over one lung between two Y levels (thorax units)."""
    x0, _, x1, _ = body.lung_box(side)
    y0, y1 = body.apex_y + y_top * body.lh, body.apex_y + y_bottom * body.lh
    return int(x0), int(y0), int(math.ceil(x1)), int(math.ceil(y1))


def ild(body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    side = pick_side(rng, layers, CLASS_IDS["ILD"])
    y_top = rng.uniform(0.35, 0.55)
    x0, y0, x1, y1 = _zone_patch(body, side, y_top - 0.05, body.cp[1] + 0.02)
    xx, yy = grid(x0, y0, x1, y1)
    rise = smoothstep((yy - (body.apex_y + y_top * body.lh)) / (0.1 * body.lh) + 0.5)
    out = np.abs(xx - body.cx) / body.a  # peripheral predominance
    weight = rise * (0.4 + 0.6 * np.clip(out, 0.0, 1.0))
    cells = max(x1 - x0, y1 - y0) / (0.035 * body.a)
    net = np.exp(-((noise_field(rng, xx.shape, cells) / 0.3) ** 2))
    patch = weight * (0.15 + 0.85 * net) * rng.uniform(0.3, 0.5)
    pts = add_patch(layers, patch, x0, y0, side=side, frac=0.25, envelope=weight)
    return Lesion(CLASS_IDS["ILD"], pts, {"side": side})


def fibrosis(body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    side = pick_side(rng, layers, CLASS_IDS["Pulmonary fibrosis"])
    side, c = lung_point(body, layers, rng, side=side, zone=(0.15, 0.45), margin=0.1 * body.a)
    rx, ry = body.a * rng.uniform(0.2, 0.32), body.lh * rng.uniform(0.12, 0.22)
    half = int(math.ceil(max(rx, ry) * 1.3)) + 2
    canvas = np.zeros((2 * half, 2 * half), np.uint8)
    toward = body.hilum(side) - c
    base = math.atan2(toward[1], toward[0])
    for _ in range(int(rng.integers(15, 35))):
        u = rng.uniform(-1, 1, 2)
        start = np.array([half + u[0] * rx * 0.9, half + u[1] * ry * 0.9])
        h = base + rng.normal(0.0, 0.45)
        end = start + rng.uniform(0.05, 0.14) * body.a * np.array([math.cos(h), math.sin(h)])
        stroke(canvas, np.array([start, end]), int(rng.integers(150, 256)),
               max(1.0, rng.uniform(0.006, 0.012) * body.a))  # fmt: skip
    strands = cv2.GaussianBlur(as_float(canvas), (0, 0), max(0.5, 0.003 * body.a))
    xx, yy = grid(-half, -half, half, half)
    region = smoothstep((1.0 - np.hypot(xx / rx, yy / ry)) / 0.4)
    patch = region * (0.2 + strands) * rng.uniform(0.55, 0.8)
    pts = _at(layers, patch, c, half, side, frac=0.3, envelope=region)
    return Lesion(CLASS_IDS["Pulmonary fibrosis"], pts, {"side": side})
