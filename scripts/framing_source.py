"""A second, independent source of angiogram framings, to score preprocessing on images the
main generator (:mod:`core.synth`) did not draw.

It shares no code with :mod:`core.synth` and is deliberately different in every step the
preprocessing sees: vessels are branching random walks drawn with Pillow (not anatomy
splines), text is Pillow's FreeType font (not OpenCV's Hershey strokes), and the framing is
what real DSA shows and :mod:`core.synth` never draws: black, white or grey surrounds,
margins on any subset of the four sides, circular (image intensifier) and rounded (shutter)
fields, a soft field edge and vignetting, text in white or black, inside the field or in
the surround at the corners of a circular field's bounding box.

:func:`generate` writes ``OUT/{i:04d}.jpg``, ``OUT/masks/{i:04d}.png`` (the exact glyph
mask of the text inside the crop, 255 = glyph) and ``OUT/truth.json`` in the layout
:func:`core.preprocess.truth.load_truth` reads, with ``surround`` and ``field_shape`` added
per image. Each image is drawn from its own stream keyed by ``(seed, index)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["Framing", "draw_image", "generate"]

Box = tuple[int, int, int, int]

#: Surround, field shape and text mixes. ``none``: the field fills the image.
_SURROUNDS = {"black": 0.3, "white": 0.3, "grey": 0.25, "none": 0.15}
_SHAPES = {"rectangular": 0.45, "circular": 0.3, "rounded": 0.25}
_TEXT_P = 0.5
_WORDS = ("LAO 12", "CRA 5", "RAO 30", "CAU 8", "15 fps", "7.5 fps", "F 12/30", "F 3/24",
          "80 kV", "DSA", "ROAD", "SUB", "Run 4", "AP", "LAT", "mA 250", "Zoom 1.5",
          "0.1 mGy", "12.4 s", "ICA", "VA", "ECA")  # fmt: skip


@dataclass(frozen=True)
class Framing:
    """The truth of one image (original pixels, boxes end exclusive)."""

    size: tuple[int, int]  # (width, height)
    surround: str  # black | white | grey | none
    field_shape: str  # rectangular | circular | rounded | full
    crop: Box
    text_boxes: tuple[Box, ...]

    @property
    def kind(self) -> str:
        if self.text_boxes:
            return "margin_text"
        return "clean" if self.crop == (0, 0, *self.size) else "margin"


def _pick(rng: np.random.Generator, mix: dict[str, float]) -> str:
    names = list(mix)
    return str(rng.choice(names, p=np.array([mix[n] for n in names])))


def _field_box(rng: np.random.Generator, w: int, h: int, shape: str) -> tuple[float, ...]:
    """The field's geometric box, which may run past the image on sides without margin."""
    if shape == "circular":
        r = rng.uniform(0.40, 0.56) * min(w, h)
        cx, cy = w / 2 + rng.uniform(-0.04, 0.04) * w, h / 2 + rng.uniform(-0.04, 0.04) * h
        return cx - r, cy - r, cx + r, cy + r
    # A shutter's rounded corners show only when it is inside the image on all sides.
    sides = np.ones(4, bool) if shape == "rounded" else rng.random(4) < 0.55
    if not sides.any():
        sides[rng.integers(4)] = True
    m = rng.uniform(0.03, 0.2, 4) * np.array([w, h, w, h])
    out = -0.2 * np.array([w, h, w, h])  # far past the image: no margin on that side
    x0, y0, x1, y1 = np.where(sides, m, out)
    return x0, y0, w - x1, h - y1


def _shape_mask(w: int, h: int, shape: str, box: tuple[float, ...], rng) -> Image.Image:
    """8-bit field mask at 4x supersampling, downsampled (anti-aliased edge)."""
    s = 4
    mask = Image.new("L", (w * s, h * s), 0)
    d = ImageDraw.Draw(mask)
    big = [v * s for v in box]
    if shape == "circular":
        d.ellipse(big, fill=255)
    elif shape == "rounded":
        radius = rng.uniform(0.06, 0.2) * min(box[2] - box[0], box[3] - box[1]) * s
        d.rounded_rectangle(big, radius=int(radius), fill=255)
    else:
        d.rectangle(big, fill=255)
    return mask.resize((w, h), Image.Resampling.BOX)


def _crop_of(mask: np.ndarray) -> Box:
    """Bounding box of the field: every pixel that is at least half field."""
    ys, xs = np.nonzero(mask >= 128)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _vessels(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Opacity 0..1 of a few branching random-walk trees."""
    layer = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(layer)
    stack = [(rng.uniform(0.2, 0.8) * w, rng.uniform(0.7, 1.0) * h, -np.pi / 2 + rng.normal(0, 0.4),
              rng.uniform(6, 13), 0) for _ in range(int(rng.integers(2, 4)))]  # fmt: skip
    while stack:
        x, y, angle, width, depth = stack.pop()
        for _ in range(int(rng.integers(15, 40))):
            step = rng.uniform(8, 16)
            angle += rng.normal(0, 0.25)
            nx, ny = x + step * np.cos(angle), y + step * np.sin(angle)
            d.line([(x, y), (nx, ny)], fill=int(rng.uniform(170, 255)), width=max(1, int(width)))
            x, y = nx, ny
            if depth < 4 and rng.random() < 0.08:
                turn = rng.choice([-1, 1]) * rng.uniform(0.4, 1.1)
                stack.append((x, y, angle + turn, width * rng.uniform(0.5, 0.8), depth + 1))
            width = max(1.5, width * 0.985)
    layer = layer.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 1.8)))
    return np.asarray(layer, np.float32) / 255


def _lines(rng: np.random.Generator) -> list[str]:
    return [" ".join(rng.choice(_WORDS, size=int(rng.integers(1, 4)))) for _ in
            range(int(rng.integers(1, 5)))]  # fmt: skip


def _burn_block(canvas: np.ndarray, glyphs: np.ndarray, corner: tuple[bool, bool],
                region: Box, value: int, rng: np.random.Generator) -> list[Box]:  # fmt: skip
    """Burn a block of lines into ``canvas`` at one corner of ``region``; line boxes."""
    font = ImageFont.load_default(size=int(rng.integers(13, 27)))
    right, bottom = corner
    lines = _lines(rng)
    pitch = int(font.size * rng.uniform(1.3, 1.8))
    inset = int(rng.uniform(0.015, 0.04) * min(region[2] - region[0], region[3] - region[1]))
    widths = [int(font.getlength(t)) + 2 for t in lines]
    top = region[3] - inset - pitch * len(lines) if bottom else region[1] + inset
    boxes = []
    for i, (text, tw) in enumerate(zip(lines, widths)):
        x = region[2] - inset - tw if right else region[0] + inset
        y = top + i * pitch
        layer = Image.new("L", (canvas.shape[1], canvas.shape[0]), 0)
        ImageDraw.Draw(layer).text((x, y), text, fill=255, font=font)
        alpha = np.asarray(layer, np.float32) / 255
        if not alpha.any():
            continue
        canvas[:] = canvas * (1 - alpha) + value * alpha
        glyphs[:] = np.maximum(glyphs, alpha)
        ys, xs = np.nonzero(alpha > 0)  # glyphs + 1 px, as core.synth's truth boxes
        h, w = canvas.shape
        boxes.append((max(0, int(xs.min()) - 1), max(0, int(ys.min()) - 1),
                      min(w, int(xs.max()) + 2), min(h, int(ys.max()) + 2)))  # fmt: skip
    return boxes


def draw_image(index: int, seed: int) -> tuple[np.ndarray, np.ndarray, Framing]:
    """One image (uint8, before JPEG), its glyph mask (uint8) and its truth."""
    rng = np.random.default_rng([seed, index])
    w, h = int(rng.integers(640, 1101)), int(rng.integers(640, 1101))
    surround = _pick(rng, _SURROUNDS)
    shape = "full" if surround == "none" else _pick(rng, _SHAPES)
    box = (-10.0, -10.0, w + 10.0, h + 10.0) if shape == "full" else _field_box(rng, w, h, shape)
    field_mask = _shape_mask(w, h, "rectangular" if shape == "full" else shape, box, rng)
    # A soft edge: the field fades into the surround over a few pixels.
    field_mask = field_mask.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 2.0)))
    fm = np.asarray(field_mask, np.float32) / 255

    # The field: a background with vignetting towards its edge, and vessels.
    vig = rng.uniform(0.0, 0.22)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    rad = np.hypot(
        (xx - cx) / max(1.0, (box[2] - box[0]) / 2), (yy - cy) / max(1.0, (box[3] - box[1]) / 2)
    )
    bg = rng.uniform(140, 215)
    level = rng.uniform(0, 30)  # black
    if surround == "white":  # saturated, well above the field
        bg = rng.uniform(130, 200)
        level = rng.uniform(max(230.0, bg + 35), 255)
    elif surround == "grey":  # well apart from the vignetted field edge
        level = rng.uniform(55, min(110, bg * (1 - vig) - 50))
    field = bg * (1 - vig * np.clip(rad, 0, 1.2) ** 2)
    field = field * (1 - rng.uniform(0.55, 0.9) * _vessels(w, h, rng))
    img = field * fm + level * (1 - fm)

    crop = (0, 0, w, h) if shape == "full" else _crop_of(np.asarray(field_mask))
    glyphs = np.zeros((h, w), np.float32)
    boxes: list[Box] = []
    if rng.random() < _TEXT_P:
        corners = [(False, False), (True, False), (False, True), (True, True)]
        for k in rng.permutation(4)[: int(rng.integers(1, 3))]:
            corner = corners[k]
            on_surround = shape == "circular"  # the bbox corners lie outside the circle
            if on_surround and surround in ("black", "white"):
                value = 255 if surround == "black" else 0
            else:
                value = 255 if rng.random() < 0.5 else 0
            boxes += _burn_block(img, glyphs, corner, crop, int(value), rng)
    # Decoy: a caption on a wide margin, outside the crop (cropped away, not text truth).
    if shape == "rectangular" and crop[3] < h - 40 and rng.random() < 0.4:
        region = (crop[0], crop[3] + 8, crop[2], h)
        _burn_block(img, np.zeros_like(glyphs), (False, False), region,
                    0 if surround == "white" else 255, rng)  # fmt: skip
    img = img + rng.normal(0, rng.uniform(1.5, 5.0), img.shape)
    out = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    keep = tuple(b for b in boxes if b[0] >= crop[0] and b[1] >= crop[1]
                 and b[2] <= crop[2] and b[3] <= crop[3])  # fmt: skip
    mask = (glyphs >= 0.5).astype(np.uint8) * 255
    return out, mask, Framing((w, h), surround, shape, crop, keep)


def generate(out: Path, images: int, seed: int, quality: int = 92) -> dict[str, Framing]:
    """Write ``images`` framings into ``out`` (see module docstring); their truth by name."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    truth: dict[str, Framing] = {}
    for i in range(images):
        img, mask, framing = draw_image(i, seed)
        name = f"{i:04d}.jpg"
        Image.fromarray(img).save(out / name, quality=quality)
        Image.fromarray(mask).save(out / "masks" / f"{i:04d}.png")
        truth[name] = framing
    record = {
        "seed": seed,
        "source": "scripts.framing_source",
        "images": {
            name: {
                "size": list(f.size),
                "kind": f.kind,
                "crop": list(f.crop),
                "text_boxes": [list(b) for b in f.text_boxes],
                "surround": f.surround,
                "field_shape": f.field_shape,
            }  # fmt: skip
            for name, f in truth.items()
        },
    }
    (out / "truth.json").write_text(json.dumps(record, indent=1))
    return truth
