"""The YOLO layout of the public 512-px PNG set: read it back to original pixels, and write it.

Layout: ``images/<image_id>.png``, ``labels/<image_id>.txt`` with one ``class cx cy w h``
line per box (class 0-13; centre and size normalised to the image, so they hold for the
copy and the original alike), ``sizes.csv`` with each image's *original* size, and
``classes.txt`` (one class name a line, line i = class i). An empty or absent label file
is a "No finding" image.

**train.csv is authoritative.** YOLO labels are derived from it and lose the readers
(one box set, usually fused), and are rounded to 6 decimals; a folder with both is read
from ``train.csv`` (:func:`core.studies.chest.layout.read_vinbigdata`). :func:`read_yolo`
returns the same :class:`Annotations` as that reader, with boxes in original pixels via
the size table, ``rad_id`` :data:`YOLO_READER`, and every malformed line in the errors
report with its line, the label file and the reason, never dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from core.studies.chest.annotations import ERROR_COLUMNS, Annotations
from core.studies.chest.classes import (
    ALL_LABELS,
    BOX_COLUMNS,
    CLASSES,
    NO_FINDING_ID,
    TRAIN_COLUMNS,
)
from core.studies.chest.layout import (
    SIZES_CSV,
    ImageTable,
    Size,
    check_folder,
    image_path,
    load_film,
    scan_folder,
)

__all__ = ["IMAGES_DIR", "LABELS_DIR", "YOLO_READER", "read_yolo", "write_yolo", "yolo_line"]

log = logging.getLogger(__name__)

YOLO_READER = "yolo"
LABELS_DIR, IMAGES_DIR = "labels", "images"
#: Normalised values this close to 0 or 1 are snapped there, undoing the 6-decimal rounding.
_SNAP = 1e-6


def yolo_line(class_id: int, box: tuple[float, float, float, float], size: Size) -> str:
    """``class cx cy w h`` of one ``x_min y_min x_max y_max`` box in a ``size`` image."""
    (x0, y0, x1, y1), (width, height) = box, size
    cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
    return f"{int(class_id)} {cx:.6f} {cy:.6f} {(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}"


def _to_corners(values: list[float], size: Size) -> list[float]:
    cx, cy, w, h = values
    corners = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    corners[np.abs(corners) < _SNAP] = 0.0
    corners[np.abs(corners - 1) < _SNAP] = 1.0
    return list(corners * np.array([*size, *size], dtype=float))


def _normal_row(image_id: str) -> tuple:
    return (image_id, ALL_LABELS[NO_FINDING_ID], NO_FINDING_ID, YOLO_READER, *[np.nan] * 4)


def _parse(path: Path, image_id: str, size: Size | None, rows: list, origin: list,
           bad: list) -> None:  # fmt: skip
    """Append one label file's rows (train.csv layout) with their ``(file, line)``."""
    name = f"{LABELS_DIR}/{path.name}"
    lines = [(n, t.split()) for n, t in enumerate(path.read_text().splitlines(), 1)]
    lines = [(n, tokens) for n, tokens in lines if tokens]
    if not lines:
        rows.append(_normal_row(image_id))
        origin.append((name, 0))
    for n, tokens in lines:
        reason = None
        if len(tokens) != 5:
            reason = f"expected 5 values (class cx cy w h), found {len(tokens)}"
        else:
            try:
                cid, values = float(tokens[0]), [float(t) for t in tokens[1:]]
            except ValueError:
                reason = f"not a number in {' '.join(tokens)!r}"
            else:
                if not all(np.isfinite([cid, *values])):
                    reason = f"not a finite number in {' '.join(tokens)!r}"
        if reason:
            bad.append({"line": n, "reason": f"{name} line {n}: {reason}", "image_id": image_id})
            continue
        known = cid.is_integer() and 0 <= cid < len(ALL_LABELS)
        box = _to_corners(values, size) if size else [np.nan] * 4
        rows.append((image_id, ALL_LABELS[int(cid)] if known else "", cid, YOLO_READER, *box))
        origin.append((name, n))


def read_yolo(folder: str | Path, sizes: Mapping[str, Size] | None = None) -> Annotations:
    """Read a YOLO folder into :class:`Annotations` in original pixels.

    Original sizes come from ``sizes`` when given (e.g. ``read_vinbigdata(...).sizes``),
    else from the folder's images and ``sizes.csv`` by the layout rules. Raises
    :class:`~core.studies.chest.annotations.AnnotationError` only for an unusable folder.
    """
    root = Path(folder)
    table = scan_folder(root, read_headers=sizes is None)
    if sizes is not None:
        given = {str(k): (int(w), int(h)) for k, (w, h) in sizes.items()}
        table = ImageTable(table.paths, given, {}, table.notes)
    labels = root / LABELS_DIR
    files = {p.stem: p for p in sorted(labels.glob("*.txt"))} if labels.is_dir() else {}
    rows: list[tuple] = []
    origin: list[tuple[str, int]] = []
    bad: list[dict[str, object]] = []
    for image_id in sorted(set(files) | set(table.sizes) | set(table.unusable)):
        size = table.sizes.get(image_id)
        if image_id in files:
            _parse(files[image_id], image_id, size, rows, origin, bad)
        elif size is not None:  # an image without a label file: No finding
            rows.append(_normal_row(image_id))
            origin.append(("", 0))
    raw = pd.DataFrame(rows, columns=list(TRAIN_COLUMNS))
    ann = check_folder(raw, table, unlabelled=LABELS_DIR)
    errors = ann.errors.copy()
    for i in np.flatnonzero(errors["line"].to_numpy(int) >= 2):
        name, line = origin[int(errors.at[i, "line"]) - 2]
        where = f"{name} line {line}" if line else name or "(no label file)"
        errors.at[i, "reason"] = f"{where}: {errors.at[i, 'reason']}"
        errors.at[i, "line"] = line
    parts = [f for f in (errors, pd.DataFrame(bad, columns=list(ERROR_COLUMNS))) if len(f)]
    errors = pd.concat(parts, ignore_index=True) if parts else errors
    return Annotations(ann.boxes, ann.sizes, errors[list(ERROR_COLUMNS)])


def write_yolo(annotations: Annotations, out: str | Path, *, boxes: pd.DataFrame | None = None,
               source: str | Path | None = None, image_size: int = 512) -> Path:  # fmt: skip
    """Write ``labels/``, ``sizes.csv`` and ``classes.txt`` (and ``images/`` from ``source``).

    ``boxes`` (``image_id``, ``class_id`` and the box columns, original pixels; e.g.
    :func:`core.studies.chest.fusion.fuse_readers`) default to every reader's findings;
    "No finding" rows are skipped, so a normal image gets an empty label file. With
    ``source`` (the VinBigData folder) each film is decoded and written as an
    ``image_size`` square PNG, as the public set has them.
    """
    root = Path(out)
    (root / LABELS_DIR).mkdir(parents=True, exist_ok=True)
    chosen = annotations.findings() if boxes is None else boxes
    chosen = chosen[chosen["class_id"].astype(int) != NO_FINDING_ID]
    by_image = dict(tuple(chosen.groupby("image_id", sort=False)))
    sizes = annotations.sizes
    for image_id in annotations.image_ids:
        size = (int(sizes.at[image_id, "width"]), int(sizes.at[image_id, "height"]))
        frame = by_image.get(image_id, chosen.iloc[:0])
        coords = frame[list(BOX_COLUMNS)].to_numpy(float)
        lines = [yolo_line(int(c), tuple(b), size) for c, b in zip(frame["class_id"], coords)]
        (root / LABELS_DIR / f"{image_id}.txt").write_text("".join(f"{t}\n" for t in lines))
        if source is not None:
            _write_image(Path(source), image_id, root / IMAGES_DIR, image_size)
    sizes.reset_index().to_csv(root / SIZES_CSV, index=False)
    (root / "classes.txt").write_text("".join(f"{name}\n" for name in CLASSES))
    log.info("wrote YOLO labels of %d images (%d boxes) to %s", len(sizes), len(chosen), root)
    return root


def _write_image(source: Path, image_id: str, folder: Path, side: int) -> None:
    folder.mkdir(exist_ok=True)
    film = load_film(image_path(source, image_id))
    small = cv2.resize(film.pixels, (side, side), interpolation=cv2.INTER_AREA)
    if not cv2.imwrite(str(folder / f"{image_id}.png"), small):
        raise OSError(f"could not write {folder / image_id}.png")
