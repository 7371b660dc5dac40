"""Chest boxes as a COCO detection file, the one format every detector of the study reads.

Choices, so that a COCO file and the ``train.csv`` it came from never disagree:

- **Category ids are the competition's class ids, 0-13** (not ``class_id + 1``), with the
  competition's names, so a detector's label, ``train.csv`` and the submission all use
  one number. pycocotools and COCOeval accept 0; a trainer that reserves 0 for the
  background (torchvision) adds 1 itself. "No finding" (14) is not a category: a normal
  image is an image entry with no annotation.
- Image ids are 1..N in sorted ``image_id`` order and annotation ids start at 1 (COCOeval
  reads id 0 as "unmatched"); ``file_name`` is the image's file (its stem is the
  ``image_id``), ``width``/``height`` the *original* size, boxes ``[x, y, w, h]`` in
  original pixels, ``area = w * h``, ``iscrowd`` 0.
- The boxes are the readers' boxes fused (``source="fused"``, the default: the top
  teams trained on fused labels, by :func:`core.studies.chest.fusion.fuse_readers`), one
  reader's (``source="reader"``, ``reader="R9"``: only the images that reader read), or
  every reader's box as it is (``reader=None``; each annotation keeps its ``rad_id``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from core.studies.chest.annotations import Annotations
from core.studies.chest.classes import BOX_COLUMNS, CLASSES, NO_FINDING_ID

__all__ = ["CocoError", "Source", "categories", "coco_boxes", "to_coco", "write_coco"]

log = logging.getLogger(__name__)

Source = Literal["fused", "reader"]


class CocoError(ValueError):
    """A COCO export that cannot be made (unknown source, or a reader with no rows)."""


def categories() -> list[dict[str, Any]]:
    """The 14 finding classes as COCO categories, ``id`` = class id."""
    return [{"id": i, "name": name, "supercategory": "finding"} for i, name in enumerate(CLASSES)]


def _chosen(
    annotations: Annotations, source: Source, reader: str | None, fused: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[str], str]:
    """The boxes to export, the images they cover, and a description of the source."""
    if source == "fused":
        if fused is None:
            from core.studies.chest.fusion import fuse_readers

            fused = fuse_readers(annotations)
        return fused, annotations.image_ids, "readers fused"
    if source != "reader":
        raise CocoError(f"unknown COCO source {source!r}; use 'fused' or 'reader'")
    boxes = annotations.boxes
    if reader is None:
        return boxes, annotations.image_ids, "every reader's boxes"
    mine = boxes[boxes["rad_id"].astype(str) == reader]
    if mine.empty:
        raise CocoError(
            f"reader {reader!r} has no row; readers: {sorted(boxes['rad_id'].unique())}"
        )
    images = sorted(set(mine["image_id"]) & set(annotations.image_ids))
    return mine, images, f"reader {reader}"


def to_coco(
    annotations: Annotations,
    *,
    source: Source = "fused",
    reader: str | None = None,
    fused_boxes: pd.DataFrame | None = None,
    file_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A COCO detection dict (see the module for every choice).

    ``fused_boxes`` (``fuse_readers``' table) saves fusing again; ``file_names`` maps an
    ``image_id`` to its file (default: the id itself).
    """
    boxes, image_ids, described = _chosen(annotations, source, reader, fused_boxes)
    names = file_names or {}
    images = []
    index = {}
    for n, key in enumerate(image_ids, 1):
        width, height = (int(v) for v in annotations.sizes.loc[key, ["width", "height"]])
        images.append({"id": n, "file_name": names.get(key, key), "width": width,
                       "height": height})  # fmt: skip
        index[key] = n
    found = boxes[(boxes["class_id"].astype(int) != NO_FINDING_ID) & boxes["image_id"].isin(index)]
    extra = [c for c in ("rad_id", "score") if c in found.columns]
    anns = []
    for n, row in enumerate(found.itertuples(index=False), 1):
        x0, y0, x1, y1 = (float(getattr(row, c)) for c in BOX_COLUMNS)
        ann = {
            "id": n, "image_id": index[row.image_id], "category_id": int(row.class_id),
            "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0,
        }  # fmt: skip
        ann.update({c: getattr(row, c) for c in extra})
        anns.append(ann)
    info = {"description": "VinBigData chest X-ray boxes, original pixels", "source": described,
            "category_ids": "class_id 0-13; No finding images have no annotation"}  # fmt: skip
    return {"info": info, "images": images, "annotations": anns, "categories": categories()}


def write_coco(data: Mapping[str, Any], path: str | Path) -> Path:
    """Write a COCO dict as JSON (``pycocotools.coco.COCO(path)`` loads it)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, allow_nan=False, default=_plain))
    log.info("wrote %d images, %d boxes to %s", len(data["images"]), len(data["annotations"]), out)
    return out


def _plain(value: object) -> object:
    """numpy scalars as Python numbers for ``json``."""
    if hasattr(value, "item"):
        return value.item()  # type: ignore[attr-defined]
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def coco_boxes(data: Mapping[str, Any]) -> pd.DataFrame:
    """A COCO dict back to ``image_id, class_id, x_min, y_min, x_max, y_max`` rows
    (``image_id`` is the stem of ``file_name``), for round trips and COCO-only inputs."""
    stems = {im["id"]: Path(im["file_name"]).stem for im in data["images"]}
    rows = [
        (stems[a["image_id"]], int(a["category_id"]), x, y, x + w, y + h)
        for a in data["annotations"]
        for x, y, w, h in [a["bbox"]]
    ]
    return pd.DataFrame(rows, columns=["image_id", "class_id", *BOX_COLUMNS])
