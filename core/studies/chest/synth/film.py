"""The acquisition: how one density canvas becomes stored DICOM pixel values.

Real VinBigData films differ far more by acquisition than by disease: sizes, positioning
and rotation, exposure and detector response, MONOCHROME1 or MONOCHROME2, 12 to 16 stored
bits, signed or not, rescale tags, a VOI window or none, collimation borders and lead
markers. All of that is drawn here, independently of the findings, so that it dominates
every whole-image statistic (the cohort must not be separable by one) while a lesion
stays a local change. :class:`Film` records every choice; ``truth.json`` carries it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

__all__ = ["Film", "expose", "rotation_matrix", "transform_points", "voi_window"]

_BITS, _BITS_P = (12, 14, 15, 16), (0.3, 0.3, 0.15, 0.25)


@dataclass(frozen=True)
class Film:
    """Every acquisition choice for one image (sizes in pixels, angles in degrees)."""

    width: int
    height: int
    modality: str  # "DX" or "CR"
    photometric: str  # "MONOCHROME1" (bone stored low) or "MONOCHROME2"
    bits_stored: int
    signed: bool  # PixelRepresentation 1
    rescale: tuple[float, float]  # (slope, intercept)
    window_pct: tuple[float, float] | None  # VOI window over these data percentiles
    voi_function: str  # "LINEAR" or "SIGMOID", with a window only
    pixel_spacing: float | None  # mm, square pixels; None: not recorded
    rotation: float  # counter-clockwise as viewed
    exposure: float  # detector response S = 1 - exp(-exposure * density)
    gamma: float  # tone curve applied to S
    span: tuple[float, float]  # share of the stored range the body's values occupy
    heel: float  # exposure gradient from top to bottom
    noise: float  # quantum noise sd in display units (0..1)
    blur: float  # unsharpness sigma, px at 1024 px
    collimation: tuple[float, float, float, float] | None  # margins l, t, r, b (fractions)
    marker: str | None  # lead marker letter burned in at the top, "L" or "R"

    @classmethod
    def sample(cls, rng: np.random.Generator, size: int) -> Film:
        """A film whose longer side is 82-100 % of ``size`` (mostly portrait)."""
        if size < 64:
            raise ValueError(f"film size must be at least 64 px, got {size}")
        long = int(round(size * rng.uniform(0.82, 1.0)))
        ratio = rng.uniform(1.0, 1.25) if rng.random() < 0.8 else rng.uniform(0.85, 1.0)
        h, w = (long, int(round(long / ratio))) if ratio >= 1 else (int(round(long * ratio)), long)
        bits = int(rng.choice(_BITS, p=_BITS_P))
        signed = bool(rng.random() < 0.1)
        pick = rng.random()
        if pick < 0.75:
            rescale = (1.0, 0.0)
        elif pick < 0.9 and not signed:
            rescale = (1.0, float(-(2 ** (bits - 1))))
        else:
            rescale = (float(rng.choice([0.5, 2.0])), 0.0)
        windowed = rng.random() < 0.5
        lo, hi = rng.uniform(0.05, 0.6), rng.uniform(0.05, 0.5)
        base = rng.uniform(0.02, 0.35)
        margins = tuple(float(v) for v in rng.uniform(0.005, 0.06, 4))
        return cls(
            width=w, height=h, modality="DX" if rng.random() < 0.6 else "CR",
            photometric="MONOCHROME1" if rng.random() < 0.4 else "MONOCHROME2",
            bits_stored=bits, signed=signed, rescale=rescale,
            window_pct=(round(float(lo), 3), round(float(100 - hi), 3)) if windowed else None,
            voi_function="SIGMOID" if windowed and rng.random() < 0.15 else "LINEAR",
            pixel_spacing=(round(rng.uniform(350, 430) / max(w, h), 4)
                           if rng.random() < 0.65 else None),
            rotation=float(np.clip(rng.normal(0.0, 1.8), -6.0, 6.0)),
            exposure=float(rng.uniform(1.4, 3.2)), gamma=float(rng.uniform(0.7, 1.4)),
            span=(float(base), float(base + rng.uniform(0.3, 0.95 - base))),
            heel=float(rng.uniform(-0.1, 0.1)), noise=float(rng.uniform(0.004, 0.02)),
            blur=float(rng.uniform(0.8, 1.6)),
            collimation=margins if rng.random() < 0.55 else None,
            marker=str(rng.choice(["L", "R"])) if rng.random() < 0.6 else None,
        )  # fmt: skip

    @property
    def max_stored(self) -> int:
        return 2**self.bits_stored - 1

    def to_json(self) -> dict:
        """The film's choices as JSON-ready values (tuples become lists)."""
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, float):
                out[k] = round(v, 5)
            elif isinstance(v, tuple):
                out[k] = [round(x, 5) for x in v]
        return out


def rotation_matrix(film: Film) -> np.ndarray:
    """The 2 x 3 affine that turns the upright canvas into the film (about its centre)."""
    return cv2.getRotationMatrix2D((film.width / 2.0, film.height / 2.0), film.rotation, 1.0)


def transform_points(pts: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, float).reshape(-1, 2)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def _collimate(d: np.ndarray, film: Film, keep: np.ndarray, level: float) -> None:
    """Unexposed borders outside the collimated field (never cutting into ``keep``)."""
    if film.collimation is None:
        return
    h, w = d.shape
    ml, mt, mr, mb = film.collimation
    x0 = int(min(ml * w, max(0.0, keep[0] - 0.02 * w)))
    y0 = int(min(mt * h, max(0.0, keep[1] - 0.02 * h)))
    x1 = int(max(w - mr * w, min(w, keep[2] + 0.02 * w)))
    y1 = int(max(h - mb * h, min(h, keep[3] + 0.02 * h)))
    d[:y0], d[y1:], d[:, :x0], d[:, x1:] = level, level, level, level


def _marker(d: np.ndarray, film: Film, level: float) -> None:
    if film.marker is None:
        return
    h, w = d.shape
    scale = max(h, w) / 700.0
    x = 0.1 * w if film.marker == "R" else 0.84 * w  # R on the viewer's left on a PA film
    ink = np.zeros(d.shape, np.uint8)
    cv2.putText(ink, film.marker, (int(x), int(0.07 * h)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                255, max(1, int(round(2 * scale))), cv2.LINE_AA)  # fmt: skip
    np.maximum(d, ink.astype(np.float32) * np.float32(level / 255.0), out=d)


def expose(
    density: np.ndarray, film: Film, rng: np.random.Generator, keep: np.ndarray
) -> np.ndarray:
    """Stored pixel values (``uint16``, or ``int16`` when signed) of the upright canvas
    ``density``: unsharpness, rotation, collimation (clear of the ``keep`` box, in film
    pixels), marker, detector response and tone, heel effect, noise and quantisation."""
    h, w = density.shape
    if (w, h) != (film.width, film.height):
        raise ValueError(f"canvas is {w}x{h}, the film {film.width}x{film.height}")
    d = cv2.GaussianBlur(density, (0, 0), film.blur * max(w, h) / 1024.0)
    d = cv2.warpAffine(d, rotation_matrix(film), (w, h), flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    _collimate(d, film, keep, 1.0)
    _marker(d, film, 1.1)
    k = film.exposure
    s = 1.0 - np.exp(-k * np.maximum(d, 0.0))
    s *= np.float32(1.0 / (1.0 - math.exp(-k)))
    np.power(np.maximum(s, 0.0), film.gamma, out=s)
    s *= (1.0 + film.heel * (np.linspace(-0.5, 0.5, h, dtype=np.float32)))[:, None]
    sd = (0.6 + 0.8 * s) * film.noise
    sd *= rng.standard_normal((h, w), dtype=np.float32)
    s += sd
    lo, hi = film.span
    top = film.max_stored
    v = (lo + (hi - lo) * (s if film.photometric == "MONOCHROME2" else 1.0 - s)) * top
    np.clip(np.rint(v), 0, top, out=v)
    if film.signed:
        return (v - 2 ** (film.bits_stored - 1)).astype(np.int16)
    return v.astype(np.uint16)


def voi_window(stored: np.ndarray, film: Film) -> tuple[float, float] | None:
    """(centre, width) in modality units over the film's data percentiles, or ``None``."""
    if film.window_pct is None:
        return None
    slope, intercept = film.rescale
    lo, hi = np.percentile(stored[::4, ::4], film.window_pct)
    lo, hi = slope * lo + intercept, slope * hi + intercept
    return round(float((lo + hi) / 2), 1), round(float(max(hi - lo, 2.0)), 1)
