"""Vessel geometry in *field units*: smooth centre lines, tapering widths, random branching.

Every view's anatomy is laid out in a unit square (x to the right, y down, cranial at the
top as angiograms are read) and scaled to pixels only when drawn, so one anatomical model
serves every image size. Named trunks come from hand-placed control points; the distal
trees that make an angiogram look like an angiogram are grown here by random branching.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = [
    "STEP",
    "Vessel",
    "Site",
    "Anatomy",
    "Ellipse",
    "Branching",
    "smooth_curve",
    "wander",
    "grow",
]

#: Spacing of centre-line samples in field units (about 4 px in a 1000 px field).
STEP = 0.004


@dataclass
class Vessel:
    """One contrast-filled vessel: an evenly sampled centre line and a linear taper."""

    points: np.ndarray  # (n, 2), evenly spaced
    w0: float  # width at the start
    w1: float  # width at the end
    level: int = 0  # 0 trunk, 1 main branch, 2+ distal; trunks and branches add up on overlap
    opacity: float = 1.0  # below 1 for reflux or cross-filling, which carry less contrast
    fade: float = 1.0  # opacity factor reached at the end: reflux washes out gradually

    @property
    def length(self) -> float:
        return float(np.hypot(*np.diff(self.points, axis=0).T).sum())

    def widths(self) -> np.ndarray:
        n = len(self.points)
        return self.w0 + (self.w1 - self.w0) / max(n - 1, 1) * np.arange(n)

    def nearest(self, point: np.ndarray) -> float:
        """Fraction along the centre line of the sample closest to ``point``."""
        i = int(np.argmin(((self.points - point) ** 2).sum(axis=1)))
        return i / max(len(self.points) - 1, 1)

    def at(self, t: float) -> tuple[np.ndarray, np.ndarray, float]:
        """Point, unit tangent and width at fraction ``t`` of the centre line."""
        n = len(self.points)
        i = min(max(int(round(t * (n - 1))), 0), n - 1)
        tan = self.points[min(i + 2, n - 1)] - self.points[max(i - 2, 0)]
        tan = tan / max(float(np.hypot(*tan)), 1e-9)
        return self.points[i].copy(), tan, self.w0 + (self.w1 - self.w0) * i / max(n - 1, 1)


@dataclass
class Site:
    """Where an aneurysm of one location may sit: a wall point and the way the sac points."""

    point: np.ndarray
    direction: np.ndarray  # unit vector from the vessel axis towards the sac
    width: float  # width of the parent vessel there


@dataclass
class Anatomy:
    """The vessels of one view plus candidate aneurysm sites per base location."""

    vessels: list[Vessel] = field(default_factory=list)
    sites: dict[str, list[Site]] = field(default_factory=dict)

    def add_site(self, base: str, point: np.ndarray, direction: np.ndarray, width: float) -> None:
        d = np.asarray(direction, float)
        self.sites.setdefault(base, []).append(
            Site(np.asarray(point, float), d / max(float(np.hypot(*d)), 1e-9), width)
        )

    def mapped(self, f: Callable[[np.ndarray], np.ndarray], width_scale: float) -> "Anatomy":
        """The same anatomy under a point map ``f`` ((n, 2) -> (n, 2)); widths scale by
        ``width_scale``. Directions are carried by mapping a nearby point, so that mirror
        images and warps turn them correctly."""
        # One call of ``f`` for all vessels: per-vessel calls dominated the cost.
        ends = np.cumsum([len(v.points) for v in self.vessels])[:-1]
        moved = np.split(f(np.concatenate([v.points for v in self.vessels])), ends)
        vessels = [
            replace(v, points=p, w0=v.w0 * width_scale, w1=v.w1 * width_scale)
            for v, p in zip(self.vessels, moved)
        ]
        sites: dict[str, list[Site]] = {}
        for base, group in self.sites.items():
            for s in group:
                p, q = f(np.stack([s.point, s.point + 1e-3 * s.direction]))
                d = (q - p) / max(float(np.hypot(*(q - p))), 1e-12)
                sites.setdefault(base, []).append(Site(p, d, s.width * width_scale))
        return Anatomy(vessels, sites)


@dataclass(frozen=True)
class Ellipse:
    """The region distal branches may occupy (roughly the cranial vault in the view)."""

    cx: float
    cy: float
    rx: float
    ry: float

    def clip(self, pts: np.ndarray) -> np.ndarray:
        """The leading part of ``pts`` that stays inside: a cortical branch ends at the skull."""
        q = (pts - (self.cx, self.cy)) / (self.rx, self.ry)
        out = np.flatnonzero((q * q).sum(axis=1) > 1.0)
        return pts if out.size == 0 else pts[: out[0]]

    def reach(self, p: np.ndarray, heading: float) -> float:
        """Distance from ``p`` to the boundary along ``heading`` (0 when ``p`` is outside)."""
        d = np.array([math.cos(heading), math.sin(heading)])
        q = (p - (self.cx, self.cy)) / (self.rx, self.ry)
        e = d / (self.rx, self.ry)
        a, b, c = float(e @ e), 2.0 * float(q @ e), float(q @ q) - 1.0
        if c >= 0.0:
            return 0.0
        return (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)


@dataclass(frozen=True)
class Branching:
    """How a territory ramifies: side branches per unit length, their angles, taper, depth.

    A branch runs a ``reach`` fraction of the way to the skull along its heading, because
    cortical arteries end at the brain surface, capped at ``max_length``.
    """

    rate: float = 10.0  # side branches per field unit of parent length
    angle: tuple[float, float] = (25.0, 65.0)  # degrees off the parent's heading
    width_ratio: tuple[float, float] = (0.4, 0.65)
    reach: tuple[float, float] = (0.45, 0.95)
    max_length: float = 0.3
    tortuosity: float = 0.18  # radians of heading drift per control step
    depth: int = 3
    min_width: float = 0.0009
    pull: float = 0.15  # how strongly branches turn away from the territory centre


def _catmull_rom_basis(k: int) -> np.ndarray:
    """(k, 4) weights of the four control points at ``k`` evenly spaced parameters."""
    t = np.linspace(0.0, 1.0, k, endpoint=False)[:, None]
    return 0.5 * np.hstack([-t + 2 * t**2 - t**3, 2 - 5 * t**2 + 3 * t**3,
                            t + 4 * t**2 - 3 * t**3, -(t**2) + t**3])  # fmt: skip


_BASIS = _catmull_rom_basis(10)


def smooth_curve(ctrl: np.ndarray, step: float = STEP) -> np.ndarray:
    """Catmull-Rom spline through ``ctrl``, resampled to even ``step`` spacing."""
    p = np.asarray(ctrl, float)
    ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    n = len(p) - 1
    quads = np.stack([ext[i : i + n] for i in range(4)], axis=1)  # (segments, 4, 2)
    dense = np.vstack([np.einsum("tk,skd->std", _BASIS, quads).reshape(-1, 2), p[-1:]])
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(dense, axis=0).T))])
    u = np.arange(max(2, int(arc[-1] / step) + 1)) * (arc[-1] / max(1, int(arc[-1] / step)))
    return np.column_stack([np.interp(u, arc, dense[:, 0]), np.interp(u, arc, dense[:, 1])])


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def wander(
    rng: np.random.Generator,
    start: np.ndarray,
    heading: float,
    length: float,
    *,
    tortuosity: float = 0.2,
    steps: int = 8,
    away_from: np.ndarray | None = None,
    pull: float = 0.0,
) -> np.ndarray:
    """Control points of a meandering path of about ``length`` from ``start``.

    The heading drifts by ``tortuosity`` radians per step; ``away_from`` turns it radially
    outwards so that a territory fans out instead of branches crossing back over its root.
    """
    pts = [np.asarray(start, float)]
    h, step = heading, length / steps
    for _ in range(steps):
        h += rng.normal(0.0, tortuosity)
        if away_from is not None:
            dx, dy = pts[-1] - away_from
            h += pull * _wrap(math.atan2(dy, dx) - h)
        pts.append(pts[-1] + step * np.array([math.cos(h), math.sin(h)]))
    return np.array(pts)


def grow(
    rng: np.random.Generator,
    parent: Vessel,
    rule: Branching,
    centre: np.ndarray,
    bounds: Ellipse,
    depth: int = 0,
    start: float = 0.1,
) -> list[Vessel]:
    """Side branches of ``parent`` beyond fraction ``start`` and, recursively, theirs."""
    if depth >= rule.depth:
        return []
    out: list[Vessel] = []
    for _ in range(rng.poisson(rule.rate * parent.length)):
        t = rng.uniform(start, 0.95)
        p, tan, w = parent.at(t)
        width = w * rng.uniform(*rule.width_ratio)
        if width < rule.min_width:
            continue
        side = 1.0 if rng.random() < 0.5 else -1.0
        heading = math.atan2(tan[1], tan[0]) + side * math.radians(rng.uniform(*rule.angle))
        length = min(bounds.reach(p, heading), rule.max_length) * rng.uniform(*rule.reach)
        if length < 0.02:
            continue
        steps = max(3, int(length / 0.03))
        ctrl = wander(
            rng, p, heading, length,
            tortuosity=rule.tortuosity, steps=steps, away_from=centre, pull=rule.pull,
        )  # fmt: skip
        pts = bounds.clip(smooth_curve(ctrl))
        if len(pts) < 3:
            continue
        child = Vessel(pts, width, width * rng.uniform(0.45, 0.7), parent.level + 1, parent.opacity)
        out.append(child)
        out.extend(grow(rng, child, rule, centre, bounds, depth + 1))
    return out
