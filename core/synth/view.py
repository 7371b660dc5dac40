"""One synthetic view: anatomy, aneurysms, DSA rendering, margin and overlays, and its truth."""

from __future__ import annotations

import numpy as np

from core.synth.anatomy import build_view, to_pixels
from core.synth.aneurysm import AneurysmSpec, place, shows
from core.synth.builder import Physique
from core.synth.overlays import compose, draw_border_lines, draw_ruler, sample_layout
from core.synth.render import Look, render_picture
from core.synth.text import TextStyle, burn_text

__all__ = ["SynthError", "render_view"]

_RULER_P = 0.2  # share of margin images with a tick ruler
_BORDER_P = 0.25  # share of margin images with thin border lines


class SynthError(RuntimeError):
    """The generator could not honour its own guarantees (e.g. a sac outside the field)."""


def _round(xy: tuple[float, float]) -> list[float]:
    return [round(float(xy[0]), 2), round(float(xy[1]), 2)]


def render_view(
    view: str,
    index: int,
    physique: Physique,
    aneurysms: list[AneurysmSpec],
    text_style: TextStyle,
    rng: np.random.Generator,
    heights: tuple[int, int] = (720, 1000),
) -> tuple[np.ndarray, dict]:
    """The uint8 image of ``view`` and its truth record (see :mod:`core.synth`)."""
    layout = sample_layout(rng, heights)
    size = layout.picture_size
    anatomy = build_view(view, rng, physique)
    visible = [a for a in aneurysms if shows(view, a.location)]
    # A random framing first; if it would push a sac out of the field, a centred, smaller one.
    framings = [(float(rng.uniform(0.95, 1.25)), rng.normal(0.0, 0.03, 2)), (0.85, np.zeros(2))]
    for zoom, offset in framings:
        scale = zoom * min(size)
        pixels = to_pixels(anatomy, size, zoom, offset)
        sacs = [place(a, pixels, scale, size) for a in visible]
        if all(s is not None for s in sacs):
            break
    else:
        raise SynthError(f"patient {index} {view}: no framing keeps every aneurysm in the field")
    look = Look.sample(rng)
    picture = render_picture(pixels, sacs, size, scale, look, rng)  # type: ignore[arg-type]

    img = compose(picture, layout, rng)
    kind, crop = layout.kind, layout.crop
    margin = kind != "clean"
    clear = draw_border_lines(img, crop, rng) if margin and rng.random() < _BORDER_P else 0
    ruler = draw_ruler(img, crop, rng, clear) if margin and rng.random() < _RULER_P else None
    boxes, text = burn_text(img, crop, text_style, view, rng) if kind == "margin_text" else ([], [])
    x0, y0 = crop[:2]
    truth = {
        "patient": index,
        "view": view,
        "size": list(layout.size),
        "kind": kind,
        "crop": list(crop),
        "text_boxes": [list(b) for b in boxes],
        "text": text,
        "ruler": list(ruler) if ruler else None,
        "border_lines": bool(clear),
        "aneurysms": [
            {"location": a.location, "center": _round((s.center[0] + x0, s.center[1] + y0)),
             "radius": round(float(s.radius), 2)}
            for a, s in zip(visible, sacs)  # type: ignore[misc]
        ],  # fmt: skip
    }
    return img, truth
