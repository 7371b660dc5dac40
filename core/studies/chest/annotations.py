"""Readers' boxes of a VinBigData ``train.csv``, checked row by row.

Every row is kept or reported, never silently dropped: a box outside its image,
``x_max <= x_min`` (or ``y``), an unknown class, a name that does not match its id, class
14 ("No finding") with a box, a finding without one, a row whose image is missing and
numbers that are not numbers each go to the errors table with the row's line and the
reason, and every good row is kept. The checks need each image's original size, which the
folder reader (:mod:`core.studies.chest.layout`) gets from the DICOM header or the PNG
size table without decoding pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.studies.chest.classes import (
    ALL_LABELS,
    BOX_COLUMNS,
    NO_FINDING_ID,
    TRAIN_COLUMNS,
)

__all__ = [
    "AnnotationError",
    "ERROR_COLUMNS",
    "Annotations",
    "check_rows",
]

#: Columns of the errors report: the file line (header = line 1), then why, then the row.
ERROR_COLUMNS: tuple[str, ...] = ("line", "reason", *TRAIN_COLUMNS)


class AnnotationError(ValueError):
    """A ``train.csv`` that cannot be read at all (missing columns, not a CSV)."""


@dataclass(frozen=True)
class Annotations:
    """The good rows, each image's original size, and the rejected rows with reasons.

    ``boxes`` has :data:`TRAIN_COLUMNS` (``class_id`` int, coordinates float, NaN for "No
    finding"); ``sizes`` is indexed by ``image_id`` with ``width`` and ``height`` in
    original pixels; ``errors`` has :data:`ERROR_COLUMNS`.
    """

    boxes: pd.DataFrame
    sizes: pd.DataFrame
    errors: pd.DataFrame

    @property
    def image_ids(self) -> list[str]:
        """Every image with a size, in sorted order (images whose rows were all rejected
        are still images: they are scored, as normal, if they have no good row)."""
        return sorted(self.sizes.index)

    def findings(self) -> pd.DataFrame:
        """The rows with a box (classes 0-13)."""
        return self.boxes[self.boxes["class_id"] != NO_FINDING_ID]


def _reason(row: Mapping[str, object], size: tuple[int, int] | None) -> str | None:
    """Why a row is rejected, or None for a good row (``row``: one record, plain values,
    not a Series: a Series lookup per field made a 500-film folder take seconds)."""
    if size is None:
        return "no image for this image_id"
    cid = row["class_id"]
    if pd.isna(cid) or not float(cid).is_integer() or not 0 <= int(cid) <= NO_FINDING_ID:
        return f"unknown class id {row['class_id']!r}"
    if str(row["class_name"]) != ALL_LABELS[int(cid)]:
        return f"class name {row['class_name']!r} does not match id {int(cid)}"
    if pd.isna(row["rad_id"]) or not str(row["rad_id"]).strip():
        return "no reader (rad_id)"
    coords = [row[c] for c in BOX_COLUMNS]
    if int(cid) == NO_FINDING_ID:
        return None if all(pd.isna(c) for c in coords) else "class 14 (No finding) with a box"
    if any(pd.isna(c) for c in coords):
        return "a finding without a complete box"
    x0, y0, x1, y1 = (float(v) for v in coords)
    if x1 <= x0 or y1 <= y0:
        return f"empty box: x_max <= x_min or y_max <= y_min ({x0}, {y0}, {x1}, {y1})"
    width, height = size
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        return f"box ({x0}, {y0}, {x1}, {y1}) outside the {width}x{height} image"
    return None


def check_rows(raw: pd.DataFrame, sizes: Mapping[str, tuple[int, int]]) -> Annotations:
    """Split ``train.csv`` rows into good rows and reported ones.

    ``raw`` is the CSV as read (any dtypes); ``sizes`` maps each image found on disk to
    its original ``(width, height)``. Raises :class:`AnnotationError` only when a column
    is missing: a bad row never stops the others.
    """
    missing = [c for c in TRAIN_COLUMNS if c not in raw.columns]
    if missing:
        raise AnnotationError(f"train.csv lacks the columns {missing}")
    raw = raw.reset_index(drop=True)  # row i is file line i + 2
    frame = raw[list(TRAIN_COLUMNS)].copy()
    frame["image_id"] = frame["image_id"].astype(str).str.strip()
    for col in ("class_id", *BOX_COLUMNS):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    reasons = []
    given = raw[["class_id", *BOX_COLUMNS]].to_dict("records")
    for row, typed in zip(frame.to_dict("records"), given):
        bad_number = [
            c for c in ("class_id", *BOX_COLUMNS)
            if pd.isna(row[c]) and not pd.isna(typed[c]) and str(typed[c]).strip()
        ]  # fmt: skip
        if bad_number:
            reasons.append(f"not a number in {bad_number}")
        else:
            reasons.append(_reason(row, sizes.get(row["image_id"])))
    bad = np.array([r is not None for r in reasons], dtype=bool)
    good = frame[~bad].copy()
    good["class_id"] = good["class_id"].astype(int)
    errors = raw.loc[bad, list(TRAIN_COLUMNS)].copy()
    errors.insert(0, "reason", [r for r in reasons if r is not None])
    errors.insert(0, "line", (np.flatnonzero(bad) + 2).astype(int))  # header is line 1
    size_frame = pd.DataFrame(
        [(k, int(w), int(h)) for k, (w, h) in sorted(sizes.items())],
        columns=["image_id", "width", "height"],
    ).set_index("image_id")
    return Annotations(good.reset_index(drop=True), size_frame, errors.reset_index(drop=True))
