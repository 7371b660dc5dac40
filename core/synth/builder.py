"""The small vocabulary the per-view anatomy models are written in.

A :class:`Builder` holds one view's random stream, the patient's :class:`Physique` and the
growing :class:`~core.synth.geometry.Anatomy`, so that a view model reads as a list of named
vessels ("ICA through these points, MCA from the terminus, a tree over its territory")
rather than as array code. Headings are degrees in image coordinates: 0 points right,
90 down, -90 up (cranial).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from core.synth.geometry import Anatomy, Branching, Ellipse, Vessel, grow, smooth_curve, wander

__all__ = ["Physique", "Builder"]


@dataclass(frozen=True)
class Physique:
    """Per-patient anatomical variation shared by all eight views of that patient."""

    tortuosity: float  # 0.6 straight (young) .. 1.8 tortuous (elderly)
    calibre: float  # vessel width factor
    density: float  # how bushy the distal trees are

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "Physique":
        return cls(
            tortuosity=float(rng.uniform(0.6, 1.8)),
            calibre=float(rng.uniform(0.85, 1.15)),
            density=float(rng.uniform(0.8, 1.25)),
        )


class Builder:
    """Collects the vessels and aneurysm sites of one view in field units."""

    def __init__(self, rng: np.random.Generator, physique: Physique, bounds: Ellipse) -> None:
        self.rng = rng
        self.physique = physique
        self.bounds = bounds
        self.anatomy = Anatomy()

    def land(self, x: float, y: float, sd: float = 0.012) -> np.ndarray:
        """A landmark (terminus, bifurcation, junction) with per-patient displacement."""
        return np.array([x, y]) + self.rng.normal(0.0, sd, 2)

    def reach(self, start: np.ndarray, heading: float) -> float:
        """Distance from ``start`` to the skull along ``heading`` (degrees)."""
        return self.bounds.reach(start, math.radians(heading))

    def trunk(
        self,
        ctrl: list,
        w0: float,
        w1: float,
        *,
        level: int = 0,
        opacity: float = 1.0,
        fade: float = 1.0,
        jitter: float = 0.006,
    ) -> Vessel:
        """A named vessel through control points; interior points wobble with tortuosity,
        end points stay put so that vessels meet exactly at their landmarks."""
        c = np.array([np.asarray(p, float) for p in ctrl])
        c[1:-1] += self.rng.normal(0.0, jitter * self.physique.tortuosity, (len(c) - 2, 2))
        cal = self.physique.calibre
        vessel = Vessel(smooth_curve(c), w0 * cal, w1 * cal, level, opacity, fade)
        self.anatomy.vessels.append(vessel)
        return vessel

    def off(
        self,
        start: np.ndarray,
        heading: float,
        length: float,
        w0: float,
        w1: float,
        *,
        tortuosity: float = 0.15,
        level: int = 1,
        opacity: float = 1.0,
    ) -> Vessel | None:
        """A meandering vessel leaving ``start`` at an absolute heading (degrees), ending at
        the skull if it gets there first."""
        ctrl = wander(
            self.rng, start, math.radians(heading), length,
            tortuosity=tortuosity * self.physique.tortuosity, steps=max(3, int(length / 0.03)),
        )  # fmt: skip
        pts = self.bounds.clip(smooth_curve(ctrl))
        if len(pts) < 3:
            return None
        c = self.physique.calibre
        vessel = Vessel(pts, w0 * c, w1 * c, level, opacity)
        self.anatomy.vessels.append(vessel)
        return vessel

    def tree(
        self, parent: Vessel | None, rule: Branching, centre: tuple[float, float],
        start: float = 0.1,
    ) -> None:  # fmt: skip
        """Grow a distal tree on ``parent`` beyond fraction ``start``, fanning away from
        ``centre``."""
        if parent is None:
            return
        scaled = replace(
            rule,
            rate=rule.rate * self.physique.density,
            tortuosity=rule.tortuosity * self.physique.tortuosity,
        )
        self.anatomy.vessels.extend(
            grow(self.rng, parent, scaled, np.array(centre), self.bounds, start=start)
        )

    def site(self, base: str, vessel: Vessel, t: float, direction: tuple[float, float]) -> None:
        """Register an aneurysm site on ``vessel`` at ``t``; the sac points along ``direction``."""
        p, _, w = vessel.at(t)
        self.anatomy.add_site(base, p, np.asarray(direction, float), w)

    def side_site(self, base: str, vessel: Vessel, t: float, side: float) -> None:
        """A sidewall site: the sac points along the vessel's normal (``side`` = +1 or -1,
        +1 being the left of the direction of flow on screen)."""
        p, tan, w = vessel.at(t)
        self.anatomy.add_site(base, p, side * np.array([tan[1], -tan[0]]), w)
