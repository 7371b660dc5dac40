"""Burned-in annotation text, as DSA consoles write it into the field.

A patient's images share one :class:`TextStyle` (one machine: same font, colour, corner
and offsets), so on ``margin_text`` images the text sits at a fixed place relative to the
field once the margin is cut. Content is technical only: view, frame rate, frame number,
exposure, window, date; never a name. Each line's box is the tight bounding box of its
glyph pixels plus one pixel, measured from what was actually drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.case import Box
from core.schema import view_info

__all__ = ["TextStyle", "burn_text"]

_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN)
#: Corner blocks: each entry is (vertical edge, horizontal edge) of one block of lines.
_PLACES = (
    (("top", "left"),),
    (("bottom", "left"),),
    (("top", "left"), ("bottom", "right")),
    (("top", "left"), ("top", "right")),
)
_PAD = 1  # px added around the glyph bounding box
_MIN_ALPHA = 32  # of 255: weaker anti-aliased coverage is dropped, so every box pixel shows


@dataclass(frozen=True)
class TextStyle:
    """How one console writes its text."""

    font: int
    height: float  # glyph height as a fraction of the field height
    thickness: int
    value: int  # grey level: mostly white, sometimes black
    place: tuple[tuple[str, str], ...]
    inset: int  # px from the field edges

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "TextStyle":
        return cls(
            font=int(_FONTS[rng.integers(len(_FONTS))]),
            height=float(rng.uniform(0.015, 0.024)),
            thickness=int(rng.choice([1, 2], p=[0.7, 0.3])),
            value=int(rng.uniform(230, 256)) if rng.random() < 0.85 else int(rng.uniform(0, 25)),
            place=_PLACES[rng.integers(len(_PLACES))],
            inset=int(rng.integers(8, 20)),
        )


def _lines(rng: np.random.Generator, view: str, count: int) -> list[str]:
    """``count`` lines (at most 8); the first names the run like a console does."""
    info = view_info(view)
    vessel = "ICA" if info.circulation == "anterior" else "VERT"
    proj = "AP" if info.projection == "A" else "LAT"
    frames = int(rng.integers(8, 41))
    day = f"20{rng.integers(15, 24)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
    pool = [
        f"Frame {int(rng.integers(1, frames + 1))}/{frames}",
        f"kV {int(rng.integers(65, 96))}  mA {int(rng.integers(10, 60)) * 10}",
        f"{day}  {rng.integers(7, 19):02d}:{rng.integers(60):02d}",
        f"W {int(rng.integers(2, 9)) * 128}  L {int(rng.integers(1, 5)) * 64}",
        f"Zoom {rng.choice(['1.0', '1.2', '1.5', '2.0'])}",
        f"FOV {int(rng.choice([17, 22, 27, 32]))} cm",
        "DSA",
    ]
    fps = rng.choice(["2", "3", "4", "6", "7.5", "12.5", "15"])
    first = f"{info.side} {vessel}  {proj}  {fps} fps"
    order = rng.permutation(len(pool))
    return [first] + [pool[i] for i in order[: count - 1]]


def _glyph_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def burn_text(
    img: np.ndarray, crop: Box, style: TextStyle, view: str, rng: np.random.Generator
) -> tuple[list[Box], list[str]]:
    """Write the style's text blocks into the field of ``img`` (in place).

    Returns one box per line in original image coordinates (inside ``crop``) and the
    strings written.
    """
    x0, y0, x1, y1 = crop
    pw, ph = x1 - x0, y1 - y0
    unit = cv2.getTextSize("Hg", style.font, 1.0, style.thickness)[0][1]
    scale = max(0.35, style.height * ph / unit)
    boxes: list[Box] = []
    written: list[str] = []
    counts = [int(rng.integers(2, 5))] + [int(rng.integers(1, 3)) for _ in style.place[1:]]
    pool = _lines(rng, view, sum(counts))
    for block, (vert, horiz) in enumerate(style.place):
        lines, pool = pool[: counts[block]], pool[counts[block] :]
        sizes = [cv2.getTextSize(t, style.font, scale, style.thickness) for t in lines]
        step = int(max(s[0][1] + s[1] for s in sizes) * 1.6)
        for i, (text, ((tw, th), base)) in enumerate(zip(lines, sizes)):
            k = i if vert == "top" else len(lines) - 1 - i
            y = style.inset + th + k * step if vert == "top" else ph - style.inset - base - k * step
            x = style.inset if horiz == "left" else pw - style.inset - tw
            m = 2 + style.thickness  # room for anti-aliasing and stroke width
            ax, ay = max(0, x - m), max(0, y - th - m)
            bx, by = min(pw, x + tw + m), min(ph, y + base + m)
            mask = np.zeros((by - ay, bx - ax), np.uint8)
            cv2.putText(mask, text, (x - ax, y - ay), style.font, scale, 255, style.thickness,
                        cv2.LINE_AA)  # fmt: skip
            mask[mask < _MIN_ALPHA] = 0  # a faint anti-aliasing fringe is not a visible glyph
            glyphs = _glyph_box(mask)
            if glyphs is None:
                continue
            roi = img[y0 + ay : y0 + by, x0 + ax : x0 + bx]
            alpha = mask.astype(np.float32) / 255.0
            roi[:] = np.rint(roi * (1.0 - alpha) + style.value * alpha).astype(np.uint8)
            gx0, gy0, gx1, gy1 = glyphs
            boxes.append((
                max(x0, x0 + ax + gx0 - _PAD), max(y0, y0 + ay + gy0 - _PAD),
                min(x1, x0 + ax + gx1 + _PAD), min(y1, y0 + ay + gy1 + _PAD),
            ))  # fmt: skip
            written.append(text)
    return boxes, written
