"""The 14 VinBigData classes: one drawing function per class id, and the three that are
not lung-field or pleural lesions.

- Aortic enlargement: the aortic knob is drawn large (``Body.sample(big_knob=True)``); the
  box is the knob, with a little of the arch towards the midline. A third of them carry a
  calcified rim.
- Cardiomegaly: the heart is drawn wide (cardiothoracic ratio 0.54-0.66 against 0.38-0.49);
  the box runs from the right to the left heart border and down to the diaphragm.
- Other lesion: "something else": an expansile bone lesion over a rib, a cluster of
  metallic surgical clips, or a thick-walled cavity in an upper zone.

The other eleven are in :mod:`~core.studies.chest.synth.parenchyma` and
:mod:`~core.studies.chest.synth.pleura`. ``GEOMETRY`` names the classes that change the
body's shape and so must be known before the anatomy is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from core.studies.chest.classes import CLASS_IDS, CLASSES
from core.studies.chest.synth import parenchyma, pleura
from core.studies.chest.synth.anatomy import Layers
from core.studies.chest.synth.body import Body
from core.studies.chest.synth.draw import as_float, ellipse, stroke
from core.studies.chest.synth.parenchyma import smoothstep
from core.studies.chest.synth.place import Lesion, add_patch, grid, lung_point, pick_side

__all__ = ["AORTIC", "CARDIOMEGALY", "DRAW", "GEOMETRY", "draw_lesion"]

AORTIC = CLASS_IDS["Aortic enlargement"]
CARDIOMEGALY = CLASS_IDS["Cardiomegaly"]
GEOMETRY = frozenset({AORTIC, CARDIOMEGALY})


def aortic_enlargement(body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    c, r = body.knob_px()
    if rng.random() < 0.33:  # calcified rim on the knob's outer curve
        half = int(math.ceil(1.2 * r)) + 2
        canvas = np.zeros((2 * half, 2 * half), np.uint8)
        a = np.linspace(math.radians(-70), math.radians(40), 20)
        arc = np.column_stack([half + 0.85 * r * np.cos(a), half + 0.85 * r * np.sin(a)])
        stroke(canvas, arc, 255, max(1.0, 0.012 * body.a))
        x0, y0 = int(round(c[0])) - half, int(round(c[1])) - half
        add_patch(layers, 0.12 * as_float(canvas), x0, y0, side=0, relative=False)
    pts = np.array([(c[0] - 1.4 * r, c[1] - r), (c[0] + r, c[1] - r), (c[0] + r, c[1] + r),
                    (c[0] - 1.4 * r, c[1] + r)])  # fmt: skip
    return Lesion(AORTIC, pts, {"radius": round(float(body.knob[2]), 4)})


def cardiomegaly(body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    return Lesion(CARDIOMEGALY, body.heart_box(), {"ctr": round(float(body.ctr), 3)})


def _bone(body: Body, layers: Layers, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    side = pick_side(rng, layers, CLASS_IDS["Other lesion"])
    y = rng.uniform(0.15, 0.65)
    c = body.px([side * rng.uniform(0.8, 0.98), y])[0]
    rx, ry = body.a * rng.uniform(0.04, 0.08), body.lh * rng.uniform(0.025, 0.045)
    half = int(math.ceil(1.3 * max(rx, ry))) + 2
    xx, yy = grid(-half, -half, half, half)
    f = smoothstep((1.0 - np.hypot(xx / rx, yy / ry)) / 0.3)
    ring = smoothstep(1.0 - np.abs(1.0 - np.hypot(xx / rx, yy / ry)) / 0.15)
    patch = 0.08 * f + 0.06 * ring
    x0, y0 = int(round(c[0])) - half, int(round(c[1])) - half
    return add_patch(layers, patch, x0, y0, side=0, relative=False), "bone"


def _clips(body: Body, layers: Layers, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    _, c = lung_point(body, layers, rng, zone=(0.2, 0.8))
    half = int(math.ceil(0.08 * body.a)) + 2
    canvas = np.zeros((2 * half, 2 * half), np.uint8)
    for _ in range(int(rng.integers(2, 6))):
        p = np.array([half, half]) + rng.normal(0.0, 0.025 * body.a, 2)
        a = rng.uniform(0, math.pi)
        d = 0.012 * body.a * np.array([math.cos(a), math.sin(a)])
        stroke(canvas, np.array([p - d, p + d]), 255, max(1.0, 0.006 * body.a))
    x0, y0 = int(round(c[0])) - half, int(round(c[1])) - half
    return add_patch(layers, 0.6 * as_float(canvas), x0, y0, side=0, relative=False,
                     frac=0.3), "clips"  # fmt: skip


def _cavity(body: Body, layers: Layers, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    r = body.a * rng.uniform(0.05, 0.1)
    side, c = lung_point(body, layers, rng, zone=(0.1, 0.45), margin=1.3 * r)
    half = int(math.ceil(1.6 * r)) + 2
    canvas = np.zeros((2 * half, 2 * half), np.uint8)
    ellipse(canvas, np.array([half, half]), (r, r * rng.uniform(0.8, 1.0)), 255)
    ellipse(canvas, np.array([half, half]) + rng.normal(0, 0.1 * r, 2), (0.6 * r, 0.55 * r), 40)
    wall = cv2.GaussianBlur(as_float(canvas), (0, 0), max(0.5, 0.08 * r))
    x0, y0 = int(round(c[0])) - half, int(round(c[1])) - half
    return add_patch(layers, 0.85 * wall, x0, y0, side=side, frac=0.3), "cavity"


def other_lesion(body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    kind = (_bone, _clips, _cavity)[int(rng.choice(3, p=[0.4, 0.25, 0.35]))]
    pts, name = kind(body, layers, rng)
    return Lesion(CLASS_IDS["Other lesion"], pts, {"kind": name})


DrawFn = Callable[[Body, Layers, np.random.Generator], Lesion]

#: Class id -> its drawing function; covers every id of ``CLASSES``.
DRAW: dict[int, DrawFn] = {
    CLASS_IDS["Aortic enlargement"]: aortic_enlargement,
    CLASS_IDS["Atelectasis"]: parenchyma.atelectasis,
    CLASS_IDS["Calcification"]: parenchyma.calcification,
    CLASS_IDS["Cardiomegaly"]: cardiomegaly,
    CLASS_IDS["Consolidation"]: parenchyma.consolidation,
    CLASS_IDS["ILD"]: parenchyma.ild,
    CLASS_IDS["Infiltration"]: parenchyma.infiltration,
    CLASS_IDS["Lung Opacity"]: parenchyma.lung_opacity,
    CLASS_IDS["Nodule/Mass"]: parenchyma.nodule,
    CLASS_IDS["Other lesion"]: other_lesion,
    CLASS_IDS["Pleural effusion"]: pleura.effusion,
    CLASS_IDS["Pleural thickening"]: pleura.pleural_thickening,
    CLASS_IDS["Pneumothorax"]: pleura.pneumothorax,
    CLASS_IDS["Pulmonary fibrosis"]: parenchyma.fibrosis,
}
if sorted(DRAW) != list(range(len(CLASSES))):  # pragma: no cover - a wiring error
    raise RuntimeError("every chest class needs exactly one drawing function")


def draw_lesion(class_id: int, body: Body, layers: Layers, rng: np.random.Generator) -> Lesion:
    """Draw one lesion of ``class_id`` into ``layers``; ``KeyError`` for an unknown id."""
    return DRAW[class_id](body, layers, rng)
