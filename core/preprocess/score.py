"""``python -m core.preprocess.score TRUTH_DIR PRED_DIR``: preprocessing against synthetic truth.

``TRUTH_DIR`` holds the raw images and the generator's ``truth.json``; ``PRED_DIR`` holds
what ``python -m core preprocess`` wrote (``preprocess.csv`` and the cleaned PNGs). Prints
one JSON object: crop IoU, kind accuracy and confusion, the share of text pixels masked,
and whether anything outside the predicted text boxes changed. The original algorithm
(:mod:`core.preprocess.reference`) is scored on the same images beside it unless
``--no-reference``.

Definitions (all in original-image pixels):

- *text pixel*: inside a truth text box and at least ``TEXT_CONTRAST`` grey levels from
  the local background of the raw image (the glyph strokes, not the box's empty corners);
- *masked*: covered by a predicted text box;
- *untouched*: outside the predicted boxes the cleaned image equals the raw crop;
- *false masking*: vessel pixels (``TEXT_CONTRAST`` darker than the background) inside a
  predicted box but in no truth box, i.e. anatomy the fill may have erased;
- *vessel pixels changed*: of those, the ones the fill really altered.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from core.preprocess.metrics import ImageScore, score_image, summarise
from core.preprocess.reference import reference_preprocess
from core.preprocess.truth import load_predictions, load_truth

__all__ = ["score_dirs", "main"]


def _read_gray(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise OSError(f"cannot read {path}")
    return img


def score_dirs(truth_dir: Path, pred_dir: Path, reference: bool = True) -> dict[str, object]:
    """All metrics for one run, as a JSON-ready dict."""
    truth = load_truth(truth_dir)
    preds = load_predictions(pred_dir)
    ours: list[ImageScore] = []
    ref: list[ImageScore] = []
    missing = sorted(set(truth) - set(preds))
    for name, t in truth.items():
        raw = _read_gray(t.path)
        if name in preds:
            cleaned = _read_gray(pred_dir / f"{Path(name).stem}.png")
            ours.append(score_image(raw, t, preds[name], cleaned))
        if reference:
            image, record = reference_preprocess(raw)
            ref.append(score_image(raw, t, record, image))
    result: dict[str, object] = {
        "images": len(truth),
        "missing_predictions": missing[:20],
        "n_missing_predictions": len(missing),
        "ours": summarise(ours),
    }
    if reference:
        result["reference"] = summarise(ref)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.preprocess.score", description=__doc__.splitlines()[0]
    )
    parser.add_argument("truth_dir", type=Path)
    parser.add_argument("pred_dir", type=Path)
    parser.add_argument(
        "--no-reference", action="store_true", help="do not score the original algorithm"
    )
    args = parser.parse_args(argv)
    try:
        result = score_dirs(args.truth_dir, args.pred_dir, reference=not args.no_reference)
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
