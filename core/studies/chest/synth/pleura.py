"""Pleural findings, placed against the lung outline they belong to.

- Pleural effusion: fluid in a costophrenic angle; its upper edge is a meniscus, highest at
  the chest wall and falling towards the mediastinum, and below it the angle, the dome and
  the lung markings are gone.
- Pleural thickening: a band of soft tissue along the chest wall, as an apical cap or a
  run along the lateral wall.
- Pneumothorax: at an apex, air between the chest wall and a thin, bright visceral pleural
  line, with no lung markings beyond that line.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from core.studies.chest.classes import CLASS_IDS
from core.studies.chest.synth.anatomy import Layers
from core.studies.chest.synth.body import Body
from core.studies.chest.synth.draw import as_float, extent_points, fill, stroke, window
from core.studies.chest.synth.parenchyma import smoothstep
from core.studies.chest.synth.place import Lesion, add_patch, grid, pick_side

__all__ = ["effusion", "pleural_thickening", "pneumothorax"]

EFFUSION = CLASS_IDS["Pleural effusion"]
THICKENING = CLASS_IDS["Pleural thickening"]
PNEUMOTHORAX = CLASS_IDS["Pneumothorax"]


def effusion(body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    side = pick_side(rng, layers, EFFUSION)
    k = 0 if side < 0 else 1
    cp, dome = body.cp[k], body.dome[k]
    height = rng.uniform(0.1, 0.5)  # meniscus height at the wall, thorax units
    x0, y0, x1, y1 = body.lung_box(side)
    y0 = body.apex_y + (min(cp - height, dome) - 0.05) * body.lh
    xx, yy = grid(x0, y0, x1 + 1, y1 + 1)
    u = np.clip((np.abs(xx - body.cx) / body.a - 0.15) / 0.83, 0.0, 1.0)
    level = body.apex_y + (cp - height * (0.45 + 0.55 * u**1.5)) * body.lh  # meniscus
    fluid = smoothstep((yy - level) / (0.03 * body.lh) + 0.5)
    pts = add_patch(layers, fluid * rng.uniform(0.85, 1.0), int(x0), int(y0), side=side,
                    frac=0.3)  # fmt: skip
    return Lesion(EFFUSION, pts, {"side": side, "height": round(float(height), 3)})


def _wall_run(body: Body, side: int, apical: bool, rng: np.random.Generator) -> np.ndarray:
    """A stretch of the lung outline against the chest wall: the apical cap, or a run of
    the lateral wall (the outline from the apex down to the costophrenic angle)."""
    pts = body.lung_outline(side)
    u = body.units(pts)
    apex = int(np.argmin(u[:, 1]))
    if apical:
        keep = np.flatnonzero(u[:, 1] < rng.uniform(0.06, 0.12))
    else:
        top = rng.uniform(0.25, 0.7)
        wall = np.arange(apex, len(pts))
        keep = wall[(u[wall, 1] > top) & (u[wall, 1] < top + rng.uniform(0.15, 0.3))]
    return pts[keep] if len(keep) >= 2 else pts[apex : apex + 2]


def pleural_thickening(body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    side = pick_side(rng, layers, THICKENING)
    apical = rng.random() < 0.4
    run = _wall_run(body, side, apical, rng)
    t = body.a * rng.uniform(0.015, 0.035)
    (x0, y0), (x1, y1) = run.min(0) - 2 * t, run.max(0) + 2 * t
    canvas = np.zeros((int(y1 - y0) + 1, int(x1 - x0) + 1), np.uint8)
    local = run - np.array([x0, y0])
    stroke(canvas, local, 255, 2 * t)  # half of the band lies on the wall side
    band = cv2.GaussianBlur(as_float(canvas), (0, 0), max(0.5, 0.25 * t))
    pts = add_patch(layers, band * rng.uniform(0.75, 0.95), int(x0), int(y0), side=side,
                    frac=0.3)  # fmt: skip
    return Lesion(THICKENING, pts, {"side": side, "kind": "apical" if apical else "lateral"})


def pneumothorax(body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    side = pick_side(rng, layers, PNEUMOTHORAX)
    pts = body.lung_outline(side)
    u = body.units(pts)
    bottom = rng.uniform(0.3, 0.6)
    apex = int(np.argmin(u[:, 1]))
    # The apical-lateral outline: from the apex's medial shoulder round to the wall at
    # ``bottom`` (the outline runs medial -> apex -> lateral wall after its dome part).
    start = apex
    while start > 0 and u[start - 1, 1] < 0.08 and abs(u[start - 1, 0]) > 0.22:
        start -= 1
    stop = apex
    while stop + 1 < len(pts) and u[stop + 1, 1] < bottom:
        stop += 1
    path = pts[start : stop + 1]
    t = np.linspace(0.0, 1.0, len(path))[:, None]
    depth = rng.uniform(0.15, 0.35) * np.sin(math.pi * t) ** 0.6
    edge = path + (body.hilum(side) - path) * depth  # the collapsed lung's edge
    region = np.vstack([path, edge[::-1]])
    (x0, y0), (x1, y1) = region.min(0) - 3, region.max(0) + 3
    win = window(layers.lesion.shape, x0, y0, x1, y1)
    if win is None:
        raise ValueError("pneumothorax region fell outside the canvas")
    rows, cols, c0, r0 = win
    shape = (rows.stop - r0, cols.stop - c0)
    air = as_float(fill(np.zeros(shape, np.uint8), region - np.array([c0, r0])))
    air *= layers.lungs[side][rows, cols]
    layers.markings[rows, cols] *= 1.0 - air
    layers.lesion[rows, cols] -= air * (0.35 * layers.air * layers.thick[rows, cols])
    line = stroke(np.zeros(shape, np.uint8), edge - np.array([c0, r0]), 255,
                  max(1.0, 0.005 * body.a))  # fmt: skip
    layers.lesion[rows, cols] += 0.09 * as_float(line) * layers.lungs[side][rows, cols]
    return Lesion(
        PNEUMOTHORAX,
        extent_points(air, c0, r0, 0.5),
        {"side": side, "depth": round(float(depth.max()), 3)},
    )
