"""What every lesion shares: its record, where in a lung it may sit, and how it is added.

A lesion is drawn as a local density patch (never a whole-canvas array, which keeps a
1024-px film fast) and reports its extent as canvas points; the box in ``truth.json`` is
those points carried through the film's rotation, so it is the lesion's extent exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.studies.chest.synth.anatomy import Layers
from core.studies.chest.synth.body import LEFT, RIGHT, SIDES, Body
from core.studies.chest.synth.draw import extent_points, window

__all__ = ["Lesion", "add_patch", "grid", "lung_point", "pick_side"]


@dataclass
class Lesion:
    """One true finding: its class, the canvas points its box must cover, and a few words
    on how it was drawn (``side``, ``kind``) for ``truth.json``."""

    class_id: int
    points: np.ndarray
    detail: dict = field(default_factory=dict)


def pick_side(rng: np.random.Generator, layers: Layers, class_id: int) -> int:
    """A random side for a lesion of ``class_id``, the other one when the class already
    has a lesion on this film (a second effusion is the bilateral one, not a duplicate)."""
    taken = layers.taken.setdefault(class_id, [])
    free = [s for s in SIDES if s not in taken] or list(SIDES)
    side = free[int(rng.integers(len(free)))]
    taken.append(side)
    return side


def lung_point(
    body: Body,
    layers: Layers,
    rng: np.random.Generator,
    *,
    side: int | None = None,
    zone: tuple[float, float] = (0.05, 0.95),
    margin: float = 0.0,
) -> tuple[int, np.ndarray]:
    """A random (side, pixel point) inside a lung, between Y ``zone`` (thorax units), with
    ``margin`` pixels of lung on four sides when that can be had (it is relaxed after many
    tries, so a small lung never fails the draw)."""
    sides = [side] if side is not None else list(SIDES)
    h, w = body.height, body.width
    for attempt in range(400):
        s = sides[int(rng.integers(len(sides)))]
        x0, _, x1, _ = body.lung_box(s)
        y = body.apex_y + rng.uniform(*zone) * body.lh
        p = np.array([rng.uniform(x0, x1), y])
        m = margin * max(0.0, 1.0 - attempt / 300)
        probe = p + np.array([(0, 0), (m, 0), (-m, 0), (0, m), (0, -m)])
        cols = np.clip(np.rint(probe[:, 0]).astype(int), 0, w - 1)
        rows = np.clip(np.rint(probe[:, 1]).astype(int), 0, h - 1)
        if (layers.lungs[s][rows, cols] > 0.95).all():
            return s, p
    s = sides[0]
    return s, body.hilum(s) + np.array([s * 0.25 * body.a, 0.0])


def grid(x0: float, y0: float, x1: float, y1: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (xx, yy) of the window (x0, y0)-(x1, y1), float32."""
    xs = np.arange(int(x0), int(x1), dtype=np.float32) + 0.5
    ys = np.arange(int(y0), int(y1), dtype=np.float32) + 0.5
    return np.meshgrid(xs, ys)


def add_patch(
    layers: Layers,
    patch: np.ndarray,
    x0: int,
    y0: int,
    *,
    side: int | None = None,
    frac: float = 0.2,
    relative: bool = True,
    envelope: np.ndarray | None = None,
) -> np.ndarray:
    """Add ``patch`` at canvas (x0, y0), kept to one lung (``side``), to both (``None``)
    or unmasked (``side=0``); returns the extent points of what was actually added.

    A ``relative`` patch is the share of the local aeration it takes away (1 turns the lung
    into soft tissue, whatever the exposure or the patient's thickness, as fluid or a solid
    lesion does, and hides the vessels there); otherwise it is absolute density (calcium,
    metal). The extent is where the patch reaches ``frac`` of its peak, or, for textured
    lesions, where their smooth ``envelope`` (same shape as the patch) does."""
    h, w = layers.lesion.shape
    win = window((h, w), x0, y0, x0 + patch.shape[1] - 1, y0 + patch.shape[0] - 1)
    if win is None:
        return np.zeros((0, 2))
    rows, cols, c0, r0 = win
    p = patch[r0 - y0 : r0 - y0 + (rows.stop - r0), c0 - x0 : c0 - x0 + (cols.stop - c0)]
    if side == 0:
        mask = None
    elif side is None:
        mask = layers.lungs[RIGHT][rows, cols] + layers.lungs[LEFT][rows, cols]
    else:
        mask = layers.lungs[side][rows, cols]
    added = p if mask is None else p * mask
    (layers.fill if relative else layers.lesion)[rows, cols] += added
    if envelope is not None:
        e = envelope[r0 - y0 : r0 - y0 + p.shape[0], c0 - x0 : c0 - x0 + p.shape[1]]
        added = e if mask is None else e * mask
    return extent_points(added, c0, r0, frac)
