"""The normal chest as density layers: soft tissue, lungs, heart and mediastinum with the
aortic knob, trachea, hila, ribs, clavicles, scapulae, spine, diaphragm and lung markings.

Densities are in the display convention (0 is air outside the patient, about 1 the
densest bone) and additive, so lesions drawn later simply add to them. Lungs are soft
tissue with most of its density taken away (``air``), which makes every structure that is
not lung (heart, mediastinum, abdomen under the domes, chest wall) come out as soft tissue
by itself. The lung masks keep the heart and mediastinum cut out, so that lesions and
markings placed "in a lung" never land on the heart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.studies.chest.synth.body import LEFT, RIGHT, SIDES, Body
from core.studies.chest.synth.draw import as_float, ellipse, fill, noise_field, stroke

__all__ = ["Layers", "render_anatomy"]

_LOW = 8  # the soft-tissue envelope is drawn at 1/8 resolution: it has no sharp detail
_TRUNKS = (-112.0, -140.0, -168.0, 165.0, 135.0, 108.0)  # vessel headings, right lung, deg


@dataclass
class Layers:
    """Density layers of one canvas (float32, h x w); ``density()`` is their sum."""

    tissue: np.ndarray  # soft tissue, lungs, bones, mediastinum
    markings: np.ndarray  # lung vessels (lesions such as pneumothorax erase them)
    lesion: np.ndarray  # absolute density lesions add (calcium, metal) or take away (air)
    fill: np.ndarray  # share of the local aeration lesions take away (clipped to 0..1)
    lungs: dict[int, np.ndarray]  # side -> visible lung, 0..1, heart/mediastinum cut out
    thick: np.ndarray  # soft-tissue thickness envelope, 0..1
    air: float  # density a fully aerated lung lacks at unit thickness
    taken: dict[int, list[int]] = field(default_factory=dict)  # class id -> sides drawn

    def density(self) -> np.ndarray:
        """The summed density. Filling is clipped, so overlapping opacities never turn a
        lung denser than soft tissue, and vessels vanish where the lung is filled."""
        f = np.clip(self.fill, 0.0, 1.0)
        out = self.tissue + self.markings * (1.0 - f)
        out += self.lesion
        out += f * (self.air * self.thick)
        return out


def _envelope(body: Body) -> np.ndarray:
    """Soft-tissue thickness (0 outside the patient, ~1 at the midline), with the neck,
    shoulders and, when present, breast shadows over the lower zones."""
    w, h = body.width, body.height
    sw, sh = max(8, -(-w // _LOW)), max(8, -(-h // _LOW))
    bw, top, bot = body.body_w, body.top_y, body.bottom_y
    outline = np.array([
        (-bw, bot), (-bw, 0.55), (-0.98 * bw, 0.2), (-1.02 * bw, 0.02), (-0.85 * bw, -0.14),
        (-0.45, -0.22), (-0.3, -0.35), (-0.3, top), (0.3, top), (0.3, -0.35), (0.45, -0.22),
        (0.85 * bw, -0.14), (1.02 * bw, 0.02), (0.98 * bw, 0.2), (bw, 0.55), (bw, bot),
    ])  # fmt: skip
    scale = np.array([sw / w, sh / h])
    mask = fill(np.zeros((sh, sw), np.uint8), body.px(outline) * scale)
    env = cv2.GaussianBlur(as_float(mask), (0, 0), 0.6)
    x = (np.arange(sw, dtype=np.float32) + 0.5) / scale[0]
    lateral = np.clip(1.0 - ((x - body.cx) / (bw * body.a)) ** 2, 0.0, 1.0) ** 0.3
    env *= 0.35 + 0.65 * lateral[None, :]
    if body.breasts > 0:
        b = np.zeros((sh, sw), np.uint8)
        for side in SIDES:
            c = body.px([side * 0.62, body.cp[0] - 0.02])[0] * scale
            ellipse(b, c, (0.5 * body.a * scale[0], 0.32 * body.lh * scale[1]))
        b[: int(body.px([0, body.dome[0] - 0.15])[0, 1] * scale[1])] = 0
        env += body.breasts * cv2.GaussianBlur(as_float(b), (0, 0), 1.2) / 0.62
    return cv2.resize(env, (w, h), interpolation=cv2.INTER_LINEAR)


def _ribs(body: Body, shape: tuple[int, int]) -> np.ndarray:
    """Posterior ribs (bright cortex, paler marrow) and fainter anterior ribs."""
    outer, inner = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    t_post, t_ant = 0.045 * body.lh, 0.036 * body.lh
    i = 0
    while (y0 := body.rib_y0 + i * body.rib_gap) < body.cp[1] + 0.05:
        f = min(1.0, 0.55 + 0.15 * i)  # the upper thorax is narrower
        post = np.array(
            [
                (0.07, y0),
                (0.25 * f, y0 - 0.025),
                (0.5 * f, y0 - 0.005),
                (0.75 * f, y0 + 0.05),
                (0.93 * f, y0 + 0.13),
                (1.0 * f, y0 + 0.24),
            ]
        )
        ant = np.array([(1.0 * f, y0 + 0.24), (0.8 * f, y0 + 0.33), (0.55 * f, y0 + 0.42),
                        (0.35, y0 + 0.5)])  # fmt: skip
        for side in SIDES:
            mirror = np.array([side, 1.0])
            p = body.curve(post * mirror)
            stroke(outer, p, 255, t_post)
            stroke(inner, p, 255, 0.5 * t_post)
            if y0 + 0.5 < body.cp[0]:
                stroke(outer, body.curve(ant * mirror), 120, t_ant)
        i += 1
    return 0.07 * as_float(outer) - 0.025 * as_float(inner)


def _bones(body: Body, shape: tuple[int, int]) -> np.ndarray:
    """Clavicles, scapulae, spine with its disc spaces, and the ribs."""
    bone = np.zeros(shape, np.uint8)
    cy = body.clavicle_y
    clav = np.array([(0.05, cy), (0.3, cy - 0.03), (0.55, cy - 0.075), (0.8, cy - 0.1),
                     (0.98, cy - 0.07)])  # fmt: skip
    scap = np.array([(0.92, -0.06), (0.74, 0.12), (0.8, 0.46), (1.06, 0.12)])
    for side in SIDES:
        mirror = np.array([side, 1.0])
        stroke(bone, body.curve(clav * mirror), 255, 0.05 * body.lh)
        fill(bone, body.px(scap * mirror), 70)
    spine = np.zeros(shape, np.uint8)
    fill(spine, body.px([(-0.065, body.top_y), (0.065, body.top_y), (0.065, body.bottom_y),
                         (-0.065, body.bottom_y)]))  # fmt: skip
    y = body.rib_y0 + 0.5 * body.rib_gap
    while y < body.bottom_y:  # disc spaces: thin darker gaps between vertebral bodies
        stroke(spine, body.px([(-0.065, y), (0.065, y + 0.005)]), 150, 0.012 * body.lh)
        y += 0.95 * body.rib_gap
    return 0.11 * as_float(bone) + 0.05 * as_float(spine) + _ribs(body, shape)


def _airways(body: Body, shape: tuple[int, int]) -> np.ndarray:
    """Trachea and main bronchi (air, so negative), hila (positive), gastric bubble."""
    air, hila = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    carina = np.array([0.01, body.knob[1] + 0.06])
    stroke(air, body.px([(0.0, body.top_y), (0.0, 0.1), carina]), 255, 0.065 * body.a)
    for side in SIDES:
        h = body.hilum(side)
        stroke(air, np.vstack([body.px(carina), 0.6 * h + 0.4 * body.px(carina)[0]]), 190,
               0.035 * body.a)  # fmt: skip
        ellipse(hila, h, (0.07 * body.a, 0.1 * body.lh), 255, side * 15.0)
    out = 0.06 * as_float(hila) - 0.08 * as_float(air)
    if body.bubble:
        b = ellipse(np.zeros(shape, np.uint8), body.px([0.42, body.dome[1] + 0.07])[0],
                    (0.11 * body.a, 0.045 * body.lh))  # fmt: skip
        out -= 0.16 * as_float(b)
    return out


def _vessels(body: Body, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Branching vessel trees from each hilum (the lung markings), 0..1 before masking."""
    canvas = np.zeros(shape, np.uint8)
    w0 = 0.014 * body.a

    def branch(p: np.ndarray, heading: float, length: float, width: float, depth: int) -> None:
        pts = [p]
        for _ in range(3):
            heading += rng.normal(0.0, 0.15)
            pts.append(pts[-1] + (length / 3) * np.array([math.cos(heading), math.sin(heading)]))
        stroke(canvas, np.array(pts), int(255 * 0.82**depth), width)
        if depth < 5:
            for turn in (-1.0, 1.0):
                a = heading + turn * math.radians(rng.uniform(12, 35))
                branch(pts[-1], a, length * rng.uniform(0.6, 0.8), width * 0.68, depth + 1)

    for side in SIDES:
        for deg in _TRUNKS:
            heading = math.radians(deg if side == RIGHT else 180.0 - deg)
            heading += rng.normal(0.0, 0.12)
            branch(body.hilum(side), heading, 0.13 * body.lh * rng.uniform(0.8, 1.2), w0, 0)
    return cv2.GaussianBlur(as_float(canvas), (0, 0), 0.5 + body.a / 800.0)


def _low_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """A wide Gaussian blur done at 1/4 resolution (the result is smooth anyway)."""
    h, w = img.shape
    small = cv2.resize(img, (max(4, w // 4), max(4, h // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(0.5, sigma / 4))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def render_anatomy(body: Body, rng: np.random.Generator) -> Layers:
    """Density layers of a normal chest for ``body`` (lesions add to ``Layers.lesion``)."""
    shape = (body.height, body.width)
    heart = fill(np.zeros(shape, np.uint8), body.heart_outline())
    medi = fill(np.zeros(shape, np.uint8), body.px(body.mediastinum_ctrl()))
    c, r = body.knob_px()
    ellipse(medi, c, (r, r))
    kx, ky, kr = body.knob
    stroke(medi, body.px([(kx - 0.3 * kr, ky), (kx - 0.5 * kr, body.dome[1])]), 255,
           1.4 * kr * body.a)  # descending aorta  # fmt: skip
    cut = 1.0 - as_float(np.maximum(heart, medi))
    lungs = {s: as_float(fill(np.zeros(shape, np.uint8), body.lung_outline(s))) * cut
             for s in SIDES}  # fmt: skip
    lung = lungs[RIGHT] + lungs[LEFT]
    thick = _envelope(body)
    air = float(rng.uniform(0.6, 0.72))
    soft = float(rng.uniform(0.56, 0.64))
    # Aeration varies across the lungs (and a fine mottle stands for the many small
    # vessels no tree draws); over soft tissue bones lose much of their contrast.
    aeration = 1.0 + 0.07 * noise_field(rng, shape, 6) + 0.03 * noise_field(rng, shape, 60)
    # The bases lie under more soft tissue than the apices: a gentle vertical gradient.
    y = (np.arange(shape[0], dtype=np.float32) - body.apex_y) / body.lh
    aeration *= air * (1.0 - 0.1 * np.clip(y, 0.0, 1.0))[:, None]
    tissue = soft * thick * (1.0 - aeration * lung)
    tissue += 0.04 * as_float(heart) * thick
    fade = _low_blur(lung, 0.04 * body.a)  # markings thin out towards the chest wall
    visible = np.minimum(thick * 4.0, 1.0) * (0.3 + 0.7 * fade)
    tissue += _bones(body, shape) * visible + _airways(body, shape) * np.minimum(thick * 4.0, 1.0)
    markings = _vessels(body, shape, rng) * (0.12 * lung * fade)
    return Layers(tissue=tissue, markings=markings, lesion=np.zeros(shape, np.float32),
                  fill=np.zeros(shape, np.float32), lungs=lungs, thick=thick,
                  air=air * soft)  # fmt: skip
