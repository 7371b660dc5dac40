"""Saccular aneurysms: one per positive location, drawn on every view that shows it.

A patient's aneurysm has one size, one choice of site and one shape; each view that shows
its location (``core.schema.VIEW_SHOWS``, on the side of the injection, BA on both sides)
places it on that view's candidate site for the location. The sac is a round, sometimes
lobulated blob on a neck at the parent wall, as opaque as contrast-filled vessel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from core.schema import VIEW_SHOWS, split_location, view_info
from core.synth.geometry import Anatomy
from core.synth.labels import positive_locations
from core.synth.render import Sac

__all__ = ["AneurysmSpec", "RADIUS_RANGE", "sample_aneurysms", "shows", "place"]

#: Sac radius in field units: 6 to 35 px when the field is 1000 px across.
RADIUS_RANGE = (0.006, 0.035)


@dataclass(frozen=True)
class AneurysmSpec:
    """One patient's aneurysm at one location, independent of view."""

    location: str  # train.csv column, e.g. "L_MCA"
    radius: float  # field units
    pick: float  # 0..1: which of a view's candidate sites
    tilt: float  # radians off the site's nominal direction
    lobes: tuple[tuple[float, float], ...]  # (angle off the dome, radius fraction)


def sample_aneurysms(labels: Mapping[str, int], rng: np.random.Generator) -> list[AneurysmSpec]:
    """Specs for the patient's positive locations; log-uniform radii, so many are subtle."""
    lo, hi = np.log(RADIUS_RANGE)
    specs = []
    for loc in positive_locations(labels):
        lobes = tuple(
            (float(rng.uniform(-1.2, 1.2)), float(rng.uniform(0.3, 0.5)))
            for _ in range(rng.choice(3, p=[0.55, 0.3, 0.15]))
        )
        specs.append(
            AneurysmSpec(loc, float(np.exp(rng.uniform(lo, hi))), float(rng.random()),
                         float(rng.normal(0.0, 0.3)), lobes)  # fmt: skip
        )
    return specs


def shows(view: str, location: str) -> bool:
    """Whether ``view`` shows an aneurysm at ``location`` (a train.csv column)."""
    side, base = split_location(location)
    return base in VIEW_SHOWS[view] and (side is None or side == view_info(view).side)


def _fits(sac: Sac, size: tuple[int, int]) -> bool:
    (x, y), r = sac.center, sac.radius
    return r <= x <= size[0] - r and r <= y <= size[1] - r


def place(spec: AneurysmSpec, anatomy: Anatomy, scale: float, size: tuple[int, int]) -> Sac | None:
    """The sac of ``spec`` on ``anatomy`` (picture pixels, ``scale`` px per field unit).

    Tries the picked site first, then the others; ``None`` if no site keeps the whole sac
    inside the ``size`` (w, h) picture.
    """
    sites = anatomy.sites[split_location(spec.location)[1]]
    first = min(int(spec.pick * len(sites)), len(sites) - 1)
    r = spec.radius * scale
    for k in range(len(sites)):
        site = sites[(first + k) % len(sites)]
        c, s = math.cos(spec.tilt), math.sin(spec.tilt)
        d = np.array([[c, -s], [s, c]]) @ site.direction
        center = site.point + d * (0.5 * site.width + 0.75 * r)
        dome = math.atan2(d[1], d[0])
        lobes = tuple(
            (float(center[0] + 0.8 * r * math.cos(dome + a)),
             float(center[1] + 0.8 * r * math.sin(dome + a)), f * r)
            for a, f in spec.lobes
        )  # fmt: skip
        sac = Sac(
            center=(float(center[0]), float(center[1])),
            radius=r,
            neck=(float(site.point[0]), float(site.point[1])),
            neck_width=float(max(2.0, min(1.1 * r, max(1.5 * site.width, 0.6 * r)))),
            lobes=lobes,
        )
        if _fits(sac, size):
            return sac
    return None
