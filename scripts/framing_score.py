"""``python -m scripts.framing_score --images 400 --seed 0 OUT``: preprocessing scored on the
independent framing source (:mod:`scripts.framing_source`).

Writes the images to ``OUT/images``, runs ``python -m core preprocess`` on them into
``OUT/pred``, scores them with :func:`core.preprocess.score.score_dirs` (the same metrics as
the main generator's score) and adds what only this source knows:

- ``glyph_masked``: per image with text, the share of its true glyph pixels (the rendered
  glyph mask at alpha >= 0.5, inside the true crop) that lie inside a predicted text box;
  ``glyph_images_ge_0.98`` is the share of text images where that reaches 98 %. Unlike the
  contrast-based ``text_pixels_masked`` it needs no background estimate;
- ``surround_accuracy`` / ``field_shape_accuracy``: the record's surround and field shape
  against the truth;
- the crop and kind results broken down by surround and by field shape.

Prints the JSON and writes it to ``OUT/score.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from core.preprocess import cli
from core.preprocess.metrics import IOU_TARGET, box_iou, box_mask
from core.preprocess.score import score_dirs
from core.preprocess.truth import load_predictions
from scripts.framing_source import Framing, generate

__all__ = ["score_framings", "main"]

log = logging.getLogger(__name__)


def _glyph_share(mask_path: Path, framing: Framing, boxes: tuple) -> float | None:
    """Share of true glyph pixels inside the crop that lie in a predicted text box."""
    glyphs = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) > 0
    glyphs &= box_mask(glyphs.shape, (framing.crop,))
    total = int(glyphs.sum())
    if not total:
        return None
    return float((glyphs & box_mask(glyphs.shape, boxes)).sum() / total)


def _rate(values: list[bool]) -> float:
    return round(float(np.mean(values)), 4) if values else float("nan")


def score_framings(out: Path, images: int, seed: int, reference: bool = True) -> dict[str, object]:
    """Generate, preprocess and score (and the original algorithm beside it unless
    ``reference`` is false); the JSON-ready result."""
    src, pred = out / "images", out / "pred"
    truth = generate(src, images, seed)
    status = cli.run(argparse.Namespace(input=src, output=pred))
    if status == 2:
        raise OSError(f"preprocess could not run on {src}")
    result = score_dirs(src, pred, reference=reference)
    shares, surround_ok, shape_ok = [], [], []
    by: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    records = load_predictions(pred)
    for name, framing in truth.items():
        record = records[name]
        share = _glyph_share(src / "masks" / f"{Path(name).stem}.png", framing, record.text_boxes)
        if share is not None:
            shares.append((name, share))
        surround_ok.append(record.surround == framing.surround)
        shape_ok.append(record.field_shape == framing.field_shape)
        ok_crop = box_iou(record.crop, framing.crop) >= IOU_TARGET
        for group in (f"surround={framing.surround}", f"shape={framing.field_shape}"):
            by[group]["crop"].append(ok_crop)
            by[group]["kind"].append(record.image_type == framing.kind)
    values = [s for _, s in shares]
    result["independent"] = {
        "glyph_text_images": len(shares),
        "glyph_masked_mean": _rate(values),
        "glyph_masked_min": round(min(values), 4) if values else None,
        "glyph_images_ge_0.98": _rate([s >= 0.98 for s in values]),
        "glyph_failures": sorted(
            ([n, round(s, 3)] for n, s in shares if s < 0.98), key=lambda x: x[1]
        )[:10],  # fmt: skip
        "surround_accuracy": _rate(surround_ok),
        "field_shape_accuracy": _rate(shape_ok),
        "by_group": {
            g: {
                "images": len(v["crop"]),
                "crop_iou_ge_0.98": _rate(v["crop"]),
                "kind_accuracy": _rate(v["kind"]),
            }  # fmt: skip
            for g, v in sorted(by.items())
        },
    }
    result["seed"] = seed
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.framing_score", description=__doc__.splitlines()[0]
    )
    parser.add_argument("out", type=Path, help="work folder (images, predictions, score.json)")
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = score_framings(args.out, args.images, args.seed)
    except (OSError, ValueError, KeyError) as err:
        log.error("%s", err)
        return 2
    text = json.dumps(result, indent=2)
    (args.out / "score.json").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
