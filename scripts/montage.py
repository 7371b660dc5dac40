"""Write ``docs/montage.png``: one synthetic patient's eight views before and after
preprocessing.

Columns are the views grouped by injection (ICA, vertebral), then side (L, R), then
projection (A frontal, B lateral). The top row is the raw image with the crop box (green)
and the detected text boxes (red) drawn on it; the bottom row is the cleaned crop. The
patient is the first one, from ``--seed``, whose views show all three image kinds.

    .venv/bin/python scripts/montage.py [--out docs/montage.png] [--seed 2026] [--tile 280]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.preprocess import preprocess_image  # noqa: E402
from core.schema import view_info  # noqa: E402
from core.synth import generate_patient, sample_labels  # noqa: E402

log = logging.getLogger("montage")

#: Column order: injection, then side, then projection.
ORDER = ("LI-A", "LI-B", "RI-A", "RI-B", "LV-A", "LV-B", "RV-A", "RV-B")
FONT = cv2.FONT_HERSHEY_SIMPLEX
GREEN, RED, INK, PAPER = (60, 200, 60), (50, 50, 230), (30, 30, 30), (255, 255, 255)


def _pick_patient(seed: int, tries: int = 20) -> tuple[int, dict]:
    """The first patient index whose eight views include clean, margin and margin_text."""
    rng = np.random.default_rng(seed)
    for index in range(1, tries + 1):
        views = generate_patient(index, sample_labels(rng), rng)
        kinds = {truth["kind"] for _, truth in views.values()}
        if kinds == {"clean", "margin", "margin_text"}:
            return index, views
    return index, views


def _fit(img: np.ndarray, tile: int) -> tuple[np.ndarray, float]:
    """``img`` scaled to fit a ``tile`` square, centred on white; and the scale used."""
    h, w = img.shape[:2]
    s = tile / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    out = np.full((tile, tile, 3), PAPER, np.uint8)
    y, x = (tile - small.shape[0]) // 2, (tile - small.shape[1]) // 2
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    return out, s


def _raw_tile(gray: np.ndarray, record, tile: int) -> np.ndarray:
    colour = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    thick = max(2, round(max(gray.shape) / tile))
    x0, y0, x1, y1 = record.crop
    cv2.rectangle(colour, (x0, y0), (x1 - 1, y1 - 1), GREEN, thick)
    for bx0, by0, bx1, by1 in record.text_boxes:
        cv2.rectangle(colour, (bx0, by0), (bx1 - 1, by1 - 1), RED, thick)
    return _fit(colour, tile)[0]


def _label(width: int, height: int, text: str, scale: float = 0.5) -> np.ndarray:
    strip = np.full((height, width, 3), PAPER, np.uint8)
    (tw, th), _ = cv2.getTextSize(text, FONT, scale, 1)
    origin = ((width - tw) // 2, (height + th) // 2)
    cv2.putText(strip, text, origin, FONT, scale, INK, 1, cv2.LINE_AA)
    return strip


def build(seed: int, tile: int) -> np.ndarray:
    index, views = _pick_patient(seed)
    gap = 6
    columns = []
    for view in ORDER:
        gray, _ = views[view]
        cleaned, record = preprocess_image(gray)
        projection = "frontal" if view_info(view).projection == "A" else "lateral"
        caption = f"{view}  {projection}: {record.image_type}"
        columns.append(np.vstack([
            _label(tile, 24, caption, 0.42),
            _raw_tile(gray, record, tile),
            np.full((gap, tile, 3), PAPER, np.uint8),
            _fit(cv2.cvtColor(cleaned, cv2.COLOR_GRAY2BGR), tile)[0],
        ]))  # fmt: skip
    spacer = np.full((columns[0].shape[0], gap, 3), PAPER, np.uint8)
    body = np.hstack([c for col in columns for c in (col, spacer)][:-1])
    pair = 2 * tile + gap  # one side of one injection: A and B
    sides = np.hstack([
        np.hstack([_label(pair, 22, side), np.full((22, gap, 3), PAPER, np.uint8)])
        for side in ("left side", "right side", "left side", "right side")
    ])[:, : body.shape[1]]  # fmt: skip
    half = body.shape[1] // 2
    injections = np.hstack([
        _label(half, 26, "ICA injection (anterior)", 0.55),
        _label(body.shape[1] - half, 26, "vertebral injection (posterior)", 0.55),
    ])  # fmt: skip
    title = _label(body.shape[1], 30, f"synthetic patient {index} (seed {seed}): raw with crop "
                   "(green) and text boxes (red), top; cleaned, bottom", 0.55)  # fmt: skip
    return np.vstack([title, injections, sides, body])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/montage.png"))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--tile", type=int, default=280, help="tile side in pixels")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    image = build(args.seed, args.tile)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        log.error("could not write %s", args.out)
        return 1
    log.info("wrote %s (%dx%d, %.0f kB)", args.out, image.shape[1], image.shape[0],
             args.out.stat().st_size / 1024)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
