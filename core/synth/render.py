"""The DSA look: vessels as dark, blurred, noisy absorption on a light-grey subtracted field.

Vessels are drawn as anti-aliased polylines into two uint8 opacity layers (trunks and
branches) so that a branch crossing a trunk adds up darker, as contrast does. Wide vessels
get a denser core, since the X-ray path through a cylinder is longest at its axis; thin
distal vessels carry less contrast than thick ones for the same reason. The opacity is
blurred slightly, turned into attenuation of a low-frequency background, and given
Gaussian plus intensity-dependent (Poisson-like) noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.synth.geometry import Anatomy

__all__ = ["Sac", "Look", "render_picture"]

_SHIFT = 3  # cv2 sub-pixel bits: coordinates are drawn in 1/8 pixel
_FULL_CONTRAST_WIDTH = 0.008  # field units: vessels this wide and wider are fully opaque
_VALUE_STEPS = 32  # opacity levels along a vessel: finer would only add draw calls


@dataclass(frozen=True)
class Sac:
    """An aneurysm as drawn, in picture pixels: sac, neck to the parent wall, and lobules."""

    center: tuple[float, float]
    radius: float
    neck: tuple[float, float]  # point on the parent vessel's axis
    neck_width: float
    lobes: tuple[tuple[float, float, float], ...] = ()  # (x, y, r) daughter blebs
    opacity: float = 1.0


@dataclass(frozen=True)
class Look:
    """Per-image acquisition settings: brightness, contrast, blur and noise."""

    background: float  # grey level of the subtracted field
    contrast: float  # attenuation at full opacity, 0..1
    blur: float  # Gaussian sigma in pixels at 1000 px field scale
    gaussian_noise: float  # sd in grey levels
    poisson_noise: float  # variance per grey level
    mottle: float  # sd of coarse-grained quantum mottle
    blush: float  # weight of the parenchymal haze around dense branches

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "Look":
        return cls(
            background=float(rng.uniform(150, 200)),
            contrast=float(rng.uniform(0.85, 0.97)),
            blur=float(rng.uniform(0.7, 1.4)),
            gaussian_noise=float(rng.uniform(1.0, 3.5)),
            poisson_noise=float(rng.uniform(0.01, 0.08)),
            mottle=float(rng.uniform(1.0, 3.0)),
            blush=float(rng.uniform(0.3, 1.0)),
        )


def _strokes(anatomy: Anatomy, scale: float) -> list[tuple[float, int, np.ndarray, int]]:
    """(value, layer, int points, thickness) for every run of constant thickness and value."""
    full = _FULL_CONTRAST_WIDTH * scale
    out = []
    for v in anatomy.vessels:
        widths = v.widths()
        thick = np.maximum(1, np.rint(widths)).astype(int)
        # Thin vessels carry less contrast; sub-pixel ones are drawn 1 px wide but fainter.
        n = len(widths)
        value = v.opacity * (1.0 + (v.fade - 1.0) / max(n - 1, 1) * np.arange(n))
        value *= np.minimum(1.0, 0.15 + 0.85 * widths / full) * np.sqrt(np.minimum(1.0, widths))
        steps = np.rint(value * _VALUE_STEPS).astype(int)
        cuts = np.flatnonzero(np.diff(thick) | np.diff(steps)) + 1
        pts = np.rint(v.points * (1 << _SHIFT)).astype(np.int32)
        layer = 0 if v.level == 0 else 1
        for a, z in zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [len(thick)]])):
            run = pts[a : min(z + 1, len(pts))]
            if len(run) < 2 or steps[a] == 0:
                continue
            val, w = steps[a] / _VALUE_STEPS, 0.5 * float(widths[a] + widths[z - 1])
            if w >= 5:  # denser core: the path through a cylinder is longest at its axis
                out.append((0.8 * val, layer, run, int(thick[a])))
                out.append((val, layer, run, max(1, int(round(0.55 * w)))))
            else:
                out.append((val, layer, run, int(thick[a])))
    out.sort(key=lambda s: s[0])  # denser strokes drawn last: overlap keeps the maximum
    return out


def _draw_sac(layer: np.ndarray, sac: Sac) -> None:
    value = int(round(255 * sac.opacity))
    k = 1 << _SHIFT

    def p(xy: tuple[float, float]) -> tuple[int, int]:
        return int(round(xy[0] * k)), int(round(xy[1] * k))

    cv2.line(layer, p(sac.neck), p(sac.center), value, max(1, int(round(sac.neck_width))),
             cv2.LINE_AA, _SHIFT)  # fmt: skip
    cv2.circle(layer, p(sac.center), int(round(sac.radius * k)), value, -1, cv2.LINE_AA, _SHIFT)
    for x, y, r in sac.lobes:
        cv2.circle(layer, p((x, y)), int(round(r * k)), value, -1, cv2.LINE_AA, _SHIFT)


def _smooth_noise(rng: np.random.Generator, size: tuple[int, int], cells: int) -> np.ndarray:
    """Unit-sd random field with about ``cells`` independent values across the shorter side."""
    w, h = size
    k = max(2, cells)
    grid = rng.standard_normal((max(2, k * h // min(w, h)), max(2, k * w // min(w, h))),
                               dtype=np.float32)  # fmt: skip
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def _coarse_background(rng: np.random.Generator, size: tuple[int, int], level: float) -> np.ndarray:
    """The subtracted field: a grey ``level``, a slow drift and faint subtraction residue,
    built at 1/24 of the resolution and scaled up once."""
    w, h = size
    small = (max(4, w // 24), max(4, h // 24))
    drift = cv2.resize(rng.standard_normal((4, 4), dtype=np.float32), small,
                       interpolation=cv2.INTER_CUBIC)  # fmt: skip
    field = level + 7.0 * drift + rng.standard_normal(small[::-1], dtype=np.float32)
    return cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC)


def _haze(branches: np.ndarray, scale: float) -> np.ndarray:
    """Where distal branches are dense, the capillary bed beyond them greys the field too
    (the blush of a late arterial frame): a heavy blur of the branch layer."""
    small = cv2.resize(branches, None, fx=0.125, fy=0.125, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small.astype(np.float32) / 255.0, (0, 0), 0.004 * scale)
    return cv2.resize(small, branches.shape[::-1], interpolation=cv2.INTER_LINEAR)


def render_picture(
    anatomy: Anatomy,
    sacs: list[Sac],
    size: tuple[int, int],
    scale: float,
    look: Look,
    rng: np.random.Generator,
) -> np.ndarray:
    """The DSA field of ``size`` (w, h) as uint8; ``anatomy`` and ``sacs`` in its pixels,
    ``scale`` the pixels per field unit."""
    w, h = size
    layers = np.zeros((2, h, w), np.uint8)
    for value, layer, run, thickness in _strokes(anatomy, scale):
        cv2.polylines(layers[layer], [run], False, int(round(255 * value)), thickness,
                      cv2.LINE_AA, _SHIFT)  # fmt: skip
    for sac in sacs:
        _draw_sac(layers[0], sac)
    opacity = cv2.add(layers[0], layers[1], dtype=cv2.CV_32F)
    sigma = look.blur * max(scale, 500.0) / 1000.0
    opacity = cv2.GaussianBlur(opacity, (0, 0), sigma)
    opacity += (255.0 * look.blush) * _haze(layers[1], scale)
    # Transmission exp(-k * opacity); the field keeps (1 - contrast) of it at full opacity.
    img = np.exp(opacity * (-2.5 / 255.0))
    img *= look.contrast
    img += 1.0 - look.contrast
    bg = _coarse_background(rng, size, look.background)
    img *= bg
    sd = img * look.poisson_noise
    sd += look.gaussian_noise**2
    np.sqrt(sd, out=sd)
    sd *= rng.standard_normal((h, w), dtype=np.float32)
    img += sd
    img += look.mottle * _smooth_noise(rng, size, min(w, h) // 3)
    np.clip(img, 0, 255, out=img)
    return img.astype(np.uint8)
