"""Read the synthetic generator's ``truth.json`` and a ``preprocess.csv`` for scoring.

Only the preprocessing part of the truth is read (see :mod:`core.synth` for the format):
per image file name, ``kind``, ``crop`` ``[x0, y0, x1, y1]``, ``text_boxes``
``[[x0, y0, x1, y1], ...]`` and ``size`` ``[w, h]``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from core.case import Box, PreprocessRecord

__all__ = ["Truth", "load_truth", "load_predictions"]


@dataclass(frozen=True)
class Truth:
    """What the generator did to one image."""

    path: Path
    kind: str
    crop: Box
    text_boxes: tuple[Box, ...]
    size: tuple[int, int]


def _box(values: list) -> Box:
    x0, y0, x1, y1 = (int(v) for v in values)
    return (x0, y0, x1, y1)


def load_truth(truth_dir: Path) -> dict[str, Truth]:
    """``{file name: Truth}`` for every image listed in ``truth_dir/truth.json``."""
    data = json.loads((truth_dir / "truth.json").read_text())
    # core.synth nests the per-image records under "images"; a flat mapping also works.
    entries = data["images"] if "images" in data else data
    images = {p.name: p for p in truth_dir.rglob("*") if p.is_file()}
    out = {}
    for name, t in entries.items():
        if name not in images:
            raise FileNotFoundError(f"truth.json lists {name}, which is not in {truth_dir}")
        out[name] = Truth(
            path=images[name],
            kind=str(t["kind"]),
            crop=_box(t["crop"]),
            text_boxes=tuple(_box(b) for b in t.get("text_boxes", [])),
            size=(int(t["size"][0]), int(t["size"][1])),
        )
    return out


def load_predictions(pred_dir: Path) -> dict[str, PreprocessRecord]:
    """``{file name: PreprocessRecord}`` from ``pred_dir/preprocess.csv``."""
    out = {}
    with (pred_dir / "preprocess.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            crop = _box([row["crop_x0"], row["crop_y0"], row["crop_x1"], row["crop_y1"]])
            boxes = tuple(_box(b) for b in json.loads(row["text_boxes"]))
            kind = row["image_type"]
            # Files written before surround/field_shape existed read as the defaults.
            framing = {k: row[k] for k in ("surround", "field_shape") if row.get(k)}
            out[row["file"]] = PreprocessRecord(kind, crop, boxes, **framing)  # type: ignore[arg-type]
    return out
