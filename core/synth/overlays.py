"""What surrounds the DSA field: the image size, the dark margin, tick rulers, border lines.

Image kinds follow the brief: ``clean`` (the field fills the image), ``margin`` (a near-black
border of varying width, each side 0-25% of its dimension) and ``margin_text`` (margin plus
burned-in text inside the field, see :mod:`core.synth.text`). The default mix is 35% clean,
35% margin, 30% margin_text. Rulers and border lines live in the margin band only, so the
crop box is exactly the DSA field.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.case import Box, ImageKind

__all__ = ["KIND_MIX", "Layout", "sample_layout", "compose", "draw_border_lines", "draw_ruler"]

#: Share of each image kind.
KIND_MIX: dict[str, float] = {"clean": 0.35, "margin": 0.35, "margin_text": 0.30}
_MIN_MARGIN = 6  # px: a thinner dark band would be indistinguishable from JPEG ringing
_MAX_W, _MIN_W = 1670, 720


@dataclass(frozen=True)
class Layout:
    """Size of the whole image and where the DSA field sits in it."""

    kind: ImageKind
    size: tuple[int, int]  # (w, h)
    crop: Box  # the field, end exclusive

    @property
    def picture_size(self) -> tuple[int, int]:
        x0, y0, x1, y1 = self.crop
        return x1 - x0, y1 - y0


def _band(rng: np.random.Generator, n: int, frac: float) -> int:
    """One side's margin: none a third of the time, else up to ``frac`` of ``n``."""
    if rng.random() < 0.35:
        return 0
    return max(_MIN_MARGIN, int(n * rng.uniform(0.01, frac)))


def _split(rng: np.random.Generator, total: int, n: int) -> tuple[int, int]:
    """Split ``total`` margin pixels over two opposite sides, each at most 25% of ``n``."""
    cap = n // 4
    a = int(np.clip(round(total * rng.uniform(0.25, 0.75)), max(0, total - cap), cap))
    b = min(total - a, cap)
    return (a if a >= _MIN_MARGIN else 0), (b if b >= _MIN_MARGIN else 0)


def sample_layout(rng: np.random.Generator, heights: tuple[int, int] = (720, 1000)) -> Layout:
    """Image kind, size (720x720 up to 1670x1000) and field position."""
    kind = str(rng.choice(list(KIND_MIX), p=list(KIND_MIX.values())))
    h = int(rng.integers(heights[0], heights[1] + 1))
    if kind == "clean":
        w = h if rng.random() < 0.6 else min(_MAX_W, int(h * rng.uniform(1.0, 1.3)))
        return Layout(kind, (w, h), (0, 0, w, h))  # type: ignore[arg-type]
    w = int(np.clip(h * rng.uniform(1.0, 1.67), _MIN_W, _MAX_W))
    top, bottom = _band(rng, h, 0.12), _band(rng, h, 0.12)
    ph = h - top - bottom
    pw = int(np.clip(ph * rng.uniform(0.9, 1.25), w - 2 * (w // 4), w))
    left, right = _split(rng, w - pw, w)
    if left + right + top + bottom == 0:  # a margin image needs some margin
        left = right = max(_MIN_MARGIN, w // 20)
    return Layout(kind, (w, h), (left, top, w - right, h - bottom))  # type: ignore[arg-type]


def compose(picture: np.ndarray, layout: Layout, rng: np.random.Generator) -> np.ndarray:
    """The whole image: a near-black, faintly noisy margin with the field pasted in."""
    w, h = layout.size
    x0, y0, x1, y1 = layout.crop
    level, sd = rng.uniform(0, 14), rng.uniform(0, 1.5)
    out = np.empty((h, w), np.uint8)
    # Only the margin bands get noise: the field is overwritten anyway.
    for rows, cols in ((slice(0, y0), slice(0, w)), (slice(y1, h), slice(0, w)),
                       (slice(y0, y1), slice(0, x0)), (slice(y0, y1), slice(x1, w))):  # fmt: skip
        band = out[rows, cols]
        if band.size:
            noise = level + sd * rng.standard_normal(band.shape, dtype=np.float32)
            band[:] = np.clip(noise, 0, 255).astype(np.uint8)
    out[y0:y1, x0:x1] = picture
    return out


def draw_border_lines(img: np.ndarray, crop: Box, rng: np.random.Generator) -> int:
    """Thin grey lines a few px outside the field on every side with room for them.

    Returns the gap used (0 when no side had room), so a ruler can keep clear of them.
    """
    h, w = img.shape
    x0, y0, x1, y1 = crop
    g = int(rng.integers(2, 6))
    value = int(rng.uniform(90, 220))
    xa, xb, ya, yb = max(0, x0 - g - 1), min(w - 1, x1 + g), max(0, y0 - g - 1), min(h - 1, y1 + g)
    drawn = False
    for ok, p, q in (
        (y0 - g - 1 >= 0, (xa, y0 - g - 1), (xb, y0 - g - 1)),
        (y1 + g < h, (xa, y1 + g), (xb, y1 + g)),
        (x0 - g - 1 >= 0, (x0 - g - 1, ya), (x0 - g - 1, yb)),
        (x1 + g < w, (x1 + g, ya), (x1 + g, yb)),
    ):
        if ok:
            cv2.line(img, p, q, value, 1, cv2.LINE_8)
            drawn = True
    return g + 1 if drawn else 0


def draw_ruler(img: np.ndarray, crop: Box, rng: np.random.Generator, clear: int = 0) -> Box | None:
    """A tick-mark ruler in the margin band along one side of the field.

    ``clear`` px next to the field are kept free (border lines). Returns the exact box of
    the drawn pixels, or ``None`` when no margin is wide enough.
    """
    h, w = img.shape
    x0, y0, x1, y1 = crop
    off = clear + int(rng.integers(3, 8))
    long = int(rng.integers(8, 15))
    room = {"right": w - x1, "left": x0, "bottom": h - y1, "top": y0}
    sides = [s for s, m in room.items() if m >= off + long + 2]
    if not sides:
        return None
    side = sides[int(rng.integers(len(sides)))]
    vertical = side in ("left", "right")
    lo, hi = (y0, y1) if vertical else (x0, x1)
    span = int((hi - lo) * rng.uniform(0.5, 0.9))
    a = lo + (hi - lo - span) // 2
    b = a + span - 1
    step = int(rng.integers(8, 17))
    value = int(rng.uniform(170, 255))
    # ``base`` is the ruler's spine; ticks grow from it away from the field.
    base, sign = {"right": (x1 + off, 1), "left": (x0 - off - 1, -1),
                  "bottom": (y1 + off, 1), "top": (y0 - off - 1, -1)}[side]  # fmt: skip

    def pt(along: int, across: int) -> tuple[int, int]:
        return (across, along) if vertical else (along, across)

    cv2.line(img, pt(a, base), pt(b, base), value, 1, cv2.LINE_8)
    for i, t in enumerate(range(a, b + 1, step)):
        length = long if i % 5 == 0 else long // 2
        cv2.line(img, pt(t, base), pt(t, base + sign * length), value, 1, cv2.LINE_8)
    far = base + sign * long
    c0, c1 = min(base, far), max(base, far) + 1
    return (c0, a, c1, b + 1) if vertical else (a, c0, b + 1, c1)
