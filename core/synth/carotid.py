"""Internal carotid injection, frontal (I-A) and lateral (I-B), drawn for the LEFT side.

Frontal views follow the radiological convention: the patient's left is on the viewer's
right, so the left ICA rises right of the midline, the MCA runs laterally (right) and the
ACA medially to the midline, then up. Lateral views face left (anterior to the left): the
carotid siphon, the ACA arching forward over the corpus callosum and the MCA fanning
backwards. Right-side views are mirror images (see :mod:`core.synth.anatomy`).
"""

from __future__ import annotations

import numpy as np

from core.synth.builder import Builder
from core.synth.geometry import Branching, Ellipse

__all__ = ["carotid_frontal", "carotid_lateral", "FRONTAL_BOUNDS", "LATERAL_BOUNDS"]

FRONTAL_BOUNDS = Ellipse(0.5, 0.46, 0.45, 0.43)
LATERAL_BOUNDS = Ellipse(0.5, 0.42, 0.47, 0.39)

MCA_TREE = Branching(rate=24.0, angle=(20, 50), depth=3, tortuosity=0.24, pull=0.1)
ACA_TREE = Branching(rate=16.0, angle=(25, 60), depth=3, tortuosity=0.24, pull=0.15)
#: In the frontal view the ACA's branches stay in a band beside the midline.
FRONTAL_ACA_TREE = Branching(rate=14.0, angle=(10, 35), depth=3, tortuosity=0.2, pull=0.15,
                             max_length=0.18)  # fmt: skip


def _unit(heading: float) -> np.ndarray:
    return np.array([np.cos(np.radians(heading)), np.sin(np.radians(heading))])


def carotid_frontal(b: Builder) -> None:
    """Left ICA, frontal: ICA up to its terminus, MCA lateral, ACA medial then midline."""
    rng = b.rng
    term = b.land(0.585, 0.51)
    ica = b.trunk(
        [(0.60, 1.10), (0.615, 0.92), (0.62, 0.80), (0.595, 0.72), (0.565, 0.675),
         (0.575, 0.625), (0.605, 0.585), (0.60, 0.545), term],
        0.024, 0.018,
    )  # fmt: skip
    bif = b.land(0.745, 0.475)
    m1 = b.trunk([term, term + (0.05, -0.012), bif - (0.04, 0.0), bif], 0.015, 0.013)
    for _ in range(int(rng.integers(3, 6))):  # M2: up the insula, over its top, out laterally
        rise, dx = rng.uniform(0.07, 0.16), rng.uniform(-0.03, 0.03)
        top = bif + (dx, -rise)
        heading = rng.uniform(-55, 5)
        far = top + b.reach(top, heading) * rng.uniform(0.7, 0.95) * _unit(heading)
        m2 = b.trunk([bif, bif + (0.5 * dx, -0.5 * rise), top, top + 0.3 * (far - top) - (0, 0.02),
                      far], 0.008, 0.004, level=1, jitter=0.01)  # fmt: skip
        b.tree(m2, MCA_TREE, (0.6, 1.0))  # cortical branches climb the convexity
    for _ in range(rng.integers(3, 7)):  # lenticulostriate arteries rise from M1
        b.off(m1.at(rng.uniform(0.15, 0.8))[0], rng.uniform(-110, -70), rng.uniform(0.05, 0.09),
              0.0022, 0.0012, tortuosity=0.25, level=2)  # fmt: skip

    acom = b.land(0.505, 0.465, sd=0.006)
    # A1 medially to the ACOM, then A2 up beside the midline: one smooth vessel.
    aca = b.trunk([term, (0.55, 0.485), acom, (0.50, 0.40), (0.507, 0.30), (0.50, 0.20),
                   (0.51, 0.11)], 0.011, 0.0045)  # fmt: skip
    t_acom = aca.nearest(acom)
    t_cm = t_acom + 0.3 * (1 - t_acom)
    b.tree(aca, FRONTAL_ACA_TREE, (0.3, 0.9), start=t_acom)
    cm = b.off(aca.at(t_cm)[0], -70, 0.28, 0.006, 0.003, tortuosity=0.1)  # callosomarginal
    b.tree(cm, FRONTAL_ACA_TREE, (0.3, 0.9))
    if rng.random() < 0.35:  # contralateral A2 filling across the ACOM
        fill = float(rng.uniform(0.45, 0.85))
        ca2 = b.trunk([acom, (0.49, 0.40), (0.485, 0.30), (0.49, 0.19)], 0.009, 0.005,
                      opacity=fill)  # fmt: skip
        b.tree(ca2, FRONTAL_ACA_TREE, (0.7, 0.9))

    b.off(ica.at(0.9)[0], -125, 0.09, 0.004, 0.002, tortuosity=0.25)  # ophthalmic, to the orbit
    b.off(ica.at(0.95)[0], 125, rng.uniform(0.05, 0.08), 0.0045, 0.0035,
          opacity=float(rng.uniform(0.5, 1.0)))  # PCOM, foreshortened  # fmt: skip
    b.off(ica.at(0.97)[0], -60, 0.14, 0.0028, 0.0018, tortuosity=0.35)  # anterior choroidal

    b.site("ICA", ica, rng.uniform(0.8, 0.92), (-1, 0) if rng.random() < 0.5 else (1, 0))
    b.site("ICA", ica, 1.0, (0, -1))  # carotid terminus
    b.site("MCA", m1, 1.0, m1.at(1.0)[1])
    b.side_site("MCA", m1, 0.5, 1.0)
    b.site("ACA", aca, t_cm, (0.6, -1))
    b.site("ACOM", aca, t_acom, (0, -1))
    b.site("PCOM", ica, 0.95, (1, 0.6))
    b.site("AntChor", ica, 0.97, (1, -0.3))


def carotid_lateral(b: Builder) -> None:
    """Left ICA, lateral: siphon, ACA arching forward and over, MCA fanning backwards."""
    rng = b.rng
    term = b.land(0.425, 0.505)
    ica = b.trunk(
        [(0.62, 1.10), (0.605, 0.93), (0.595, 0.80), (0.575, 0.735), (0.52, 0.70),
         (0.45, 0.675), (0.385, 0.655), (0.345, 0.625), (0.33, 0.575), (0.35, 0.54),
         (0.39, 0.525), term],
        0.024, 0.017,
    )  # fmt: skip
    b.off(ica.at(0.86)[0], 185, 0.13, 0.0045, 0.002, tortuosity=0.3)  # ophthalmic, forward
    pcom = b.off(ica.at(0.93)[0], 10, rng.uniform(0.09, 0.13), 0.005, 0.004,
                 opacity=float(rng.uniform(0.5, 1.0)))  # fmt: skip
    if pcom is not None and rng.random() < 0.15:  # fetal PCOM: the PCA fills from the ICA
        b.tree(pcom, MCA_TREE, (0.45, 0.45))
    b.off(ica.at(0.96)[0], -25, 0.16, 0.003, 0.0018, tortuosity=0.35)  # anterior choroidal

    aca0 = b.land(0.385, 0.445)
    # A1 up to the ACOM, then the pericallosal arching forward and over the callosum.
    peri = b.trunk(
        [term, (0.41, 0.47), aca0, (0.35, 0.39), (0.335, 0.32), (0.36, 0.25), (0.42, 0.195),
         (0.51, 0.165), (0.61, 0.17), (0.69, 0.205), (0.75, 0.26)],
        0.010, 0.004,
    )  # fmt: skip
    t_acom = peri.nearest(aca0)
    t_cm = t_acom + 0.18 * (1 - t_acom)
    cm_start = peri.at(t_cm)[0]
    cm = b.trunk([cm_start, (0.315, 0.27), (0.34, 0.18), (0.42, 0.115), (0.53, 0.09),
                  (0.64, 0.10)], 0.006, 0.003, level=1)  # fmt: skip
    b.tree(peri, ACA_TREE, (0.52, 0.34), start=t_acom)
    b.tree(cm, ACA_TREE, (0.52, 0.34))
    b.off(peri.at(t_acom + 0.08 * (1 - t_acom))[0], 195, 0.15, 0.004, 0.002,
          tortuosity=0.2)  # fronto-orbital  # fmt: skip

    mca0 = b.land(0.465, 0.47)
    m1 = b.trunk([term, (0.45, 0.49), mca0], 0.014, 0.013)
    for heading in np.sort(rng.uniform(-65, 15, rng.integers(3, 6))):
        m2 = b.off(mca0, heading, b.reach(mca0, heading) * rng.uniform(0.6, 0.9), 0.008, 0.005,
                   tortuosity=0.12)  # fmt: skip
        b.tree(m2, MCA_TREE, (mca0[0] - 0.08, mca0[1] + 0.05))

    b.side_site("ICA", ica, rng.uniform(0.72, 0.8), 1.0)  # cavernous / anterior genu
    b.site("ICA", ica, 0.88, (0, -1))  # ophthalmic segment
    b.site("ICA", ica, 1.0, (0.2, -1))  # terminus
    b.site("PCOM", ica, 0.93, (0.5, 0.85))
    b.site("AntChor", ica, 0.96, (1, -0.3))
    b.site("ACA", peri, t_cm, (-1, -0.3))
    b.site("MCA", m1, 1.0, m1.at(1.0)[1])
    b.site("ACOM", peri, t_acom, (-1, -0.5))  # not drawn: VIEW_SHOWS leaves ACOM to I-A
