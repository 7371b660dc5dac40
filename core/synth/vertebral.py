"""Vertebral injection, frontal (V-A, Towne-like) and lateral (V-B), drawn for the LEFT side.

Frontal: the injected (left, viewer's right) vertebral artery loops round C1 and joins the
other vertebral in the midline; the basilar runs straight up and the PCAs splay at its top
in a 'Y', the SCAs just below them, PICA looping down from the vertebral. The other
vertebral fills partly by reflux. Lateral (anterior to the left): the vertebral loops
backwards round the atlas, the basilar climbs forwards along the clivus, the PCAs head
backwards over the occiput and PICA dips down in its caudal loop before turning back.
"""

from __future__ import annotations

import numpy as np

from core.synth.builder import Builder
from core.synth.geometry import Branching, Ellipse

__all__ = ["vertebral_frontal", "vertebral_lateral", "FRONTAL_BOUNDS", "LATERAL_BOUNDS"]

FRONTAL_BOUNDS = Ellipse(0.5, 0.47, 0.45, 0.43)
LATERAL_BOUNDS = Ellipse(0.5, 0.47, 0.47, 0.41)

PCA_TREE = Branching(rate=22.0, angle=(20, 55), depth=3, tortuosity=0.26, pull=0.1)
CEREBELLAR_TREE = Branching(rate=24.0, angle=(25, 65), depth=3, tortuosity=0.35, pull=0.1,
                            max_length=0.18)  # fmt: skip


def _perforators(b: Builder, top: np.ndarray) -> None:
    """Thalamoperforating arteries: a few hair-thin vessels rising from the basilar tip."""
    for _ in range(b.rng.integers(2, 6)):
        b.off(top + b.rng.normal(0, 0.01, 2), b.rng.uniform(-115, -65), b.rng.uniform(0.04, 0.07),
              0.0018, 0.0010, tortuosity=0.3, level=2)  # fmt: skip


def vertebral_frontal(b: Builder) -> None:
    """Left vertebral, frontal: VA to the midline junction, basilar, PCA/SCA 'Y', PICA."""
    rng = b.rng
    junction, top = b.land(0.50, 0.67, sd=0.006), b.land(0.50, 0.41, sd=0.008)
    top[0] = junction[0] + rng.normal(0, 0.006)
    va = b.trunk(
        [(0.63, 1.10), (0.64, 0.95), (0.655, 0.86), (0.69, 0.82), (0.685, 0.775),
         (0.64, 0.755), (0.58, 0.735), (0.535, 0.70), junction],
        0.016, 0.012,
    )  # fmt: skip
    other = [junction, (0.465, 0.70), (0.42, 0.735), (0.36, 0.755), (0.315, 0.775), (0.31, 0.82),
             (0.345, 0.86), (0.36, 0.95), (0.37, 1.10)]  # fmt: skip
    reach = int(rng.integers(3, len(other) + 1))  # reflux down the other vertebral
    b.trunk(other[:reach], 0.013, 0.012, opacity=float(rng.uniform(0.4, 0.9)), fade=0.1)
    ba = b.trunk([junction, junction + (0.003, -0.07), top + (-0.003, 0.08), top], 0.014, 0.012)

    pcas, scas = {}, {}
    for side in (1.0, -1.0):  # +1: the injected side (viewer's right)
        pca = b.trunk(
            [top, (0.5 + 0.045 * side, top[1] - 0.008), (0.5 + 0.10 * side, 0.40),
             (0.5 + 0.15 * side, 0.385), (0.5 + 0.19 * side, 0.35), (0.5 + 0.20 * side, 0.29)],
            0.0085, 0.0065, level=1,
        )  # fmt: skip
        b.tree(pca, PCA_TREE, (0.5, 0.52))
        sca = b.trunk(  # round the brainstem, then down over the cerebellum
            [ba.at(0.9)[0], (0.5 + 0.06 * side, 0.44), (0.5 + 0.12 * side, 0.455),
             (0.5 + 0.165 * side, 0.485), (0.5 + 0.185 * side, 0.535)],
            0.0055, 0.0045, level=1,
        )  # fmt: skip
        b.tree(sca, CEREBELLAR_TREE, (0.5, 0.36))
        aica = b.off(ba.at(0.3)[0], 90 - side * rng.uniform(50, 80), 0.12, 0.0035, 0.0025)
        b.tree(aica, CEREBELLAR_TREE, (0.5, 0.5))
        pcas[side], scas[side] = pca, sca
    _perforators(b, top)

    origin = va.at(0.72)[0]
    pica = b.trunk(
        [origin, origin + (-0.015, 0.045), origin + (-0.03, 0.095), origin + (-0.02, 0.13),
         origin + (0.005, 0.11), origin + (0.025, 0.06), origin + (0.065, 0.045)],
        0.0055, 0.004, level=1,
    )  # fmt: skip
    b.tree(pica, CEREBELLAR_TREE, (0.55, 0.70))

    b.site("BA", ba, 1.0, (0, -1))  # basilar tip
    b.side_site("BA", ba, rng.uniform(0.4, 0.7), 1.0 if rng.random() < 0.5 else -1.0)
    b.side_site("PCA", pcas[1.0], rng.uniform(0.2, 0.5), 1.0)
    b.site("SCA", scas[1.0], 0.05, (1, -0.4))
    b.side_site("VA", va, rng.uniform(0.8, 0.92), 1.0)
    b.site("VA", va, 0.72, (1, 0.4))
    b.site("PICA", pica, 0.0, (0.4, 1))  # not drawn: VIEW_SHOWS leaves PICA to V-B


def vertebral_lateral(b: Builder) -> None:
    """Left vertebral, lateral: atlas loop, basilar along the clivus, PCA back, PICA loops."""
    rng = b.rng
    junction, top = b.land(0.525, 0.675, sd=0.008), b.land(0.455, 0.445)
    va = b.trunk(
        [(0.60, 1.10), (0.605, 0.95), (0.60, 0.86), (0.63, 0.83), (0.68, 0.81), (0.70, 0.785),
         (0.675, 0.765), (0.62, 0.755), (0.57, 0.73), (0.54, 0.70), junction],
        0.016, 0.012,
    )  # fmt: skip
    shift = rng.normal(0, 0.01, 2)
    reach = int(rng.integers(3, 8))  # the other vertebral overlaps, filled by reflux
    b.trunk([junction] + [np.array(p) + shift for p in [(0.545, 0.705), (0.575, 0.735),
            (0.625, 0.76), (0.68, 0.77), (0.705, 0.79), (0.685, 0.815), (0.635, 0.835)][:reach]],
            0.013, 0.012, opacity=float(rng.uniform(0.3, 0.8)), fade=0.1)  # fmt: skip
    ba = b.trunk([junction, (0.505, 0.61), (0.48, 0.54), (0.462, 0.48), top], 0.014, 0.012)

    pcas = []
    for fill in (1.0, float(rng.uniform(0.7, 1.0))):  # both PCAs, nearly superimposed
        pca = b.trunk(
            [top, (0.48, 0.43), (0.53, 0.415), (0.58, 0.41), (0.64, 0.39), (0.70, 0.36),
             (0.76, 0.33)],
            0.0085, 0.006, level=1, opacity=fill, jitter=0.012,
        )  # fmt: skip
        b.tree(pca, PCA_TREE, (0.55, 0.50))
        sca = b.trunk(
            [ba.at(0.93)[0], (0.50, 0.475), (0.56, 0.47), (0.62, 0.48), (0.67, 0.50)],
            0.0055, 0.0045, level=1, opacity=fill, jitter=0.01,
        )  # fmt: skip
        b.tree(sca, CEREBELLAR_TREE, (0.56, 0.40))
        pcas.append(pca)
    if rng.random() < 0.6:  # PCOM filling forwards from P1
        b.off(pcas[0].at(0.05)[0], rng.uniform(175, 200), 0.10, 0.004, 0.0035,
              opacity=float(rng.uniform(0.4, 0.9)))  # fmt: skip
    aica = b.off(ba.at(0.35)[0], rng.uniform(0, 30), 0.12, 0.0035, 0.0025)
    b.tree(aica, CEREBELLAR_TREE, (0.50, 0.55))
    _perforators(b, top)

    origin = va.at(0.85)[0]
    pica = b.trunk(
        [origin, origin + (0.04, 0.03), origin + (0.06, 0.08), origin + (0.055, 0.13),
         origin + (0.08, 0.135), origin + (0.095, 0.095), origin + (0.09, 0.04),
         origin + (0.105, 0.005), origin + (0.14, 0.01), origin + (0.17, 0.04)],
        0.0055, 0.0035, level=1,
    )  # fmt: skip
    b.tree(pica, CEREBELLAR_TREE, (0.62, 0.68))

    b.site("BA", ba, 1.0, ba.at(1.0)[1])  # basilar tip
    b.side_site("BA", ba, rng.uniform(0.4, 0.7), 1.0 if rng.random() < 0.5 else -1.0)
    b.side_site("PCA", pcas[0], rng.uniform(0.2, 0.45), 1.0)
    b.site("PICA", pica, 0.0, (1, 0.8))
    b.side_site("VA", va, rng.uniform(0.8, 0.95), 1.0)
    b.site("SCA", ba, 0.93, (1, -0.2))  # not drawn: VIEW_SHOWS leaves SCA to V-A
