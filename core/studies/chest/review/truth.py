"""The truth of one labelled film: each reader's boxes and the readers fused, when the
film was opened from a labelled VinBigData folder (``train.csv`` beside it).

Reading the folder (:func:`~core.studies.chest.layout.read_vinbigdata`) checks every row;
the film's own rows are then fused as the rest of the study fuses them
(:func:`~core.studies.chest.fusion.fuse_readers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.studies.chest.annotations import Annotations
from core.studies.chest.classes import BOX_COLUMNS, NO_FINDING_ID
from core.studies.chest.fusion import fuse_readers
from core.studies.chest.layout import TRAIN_CSV, read_vinbigdata

__all__ = ["FilmTruth", "film_truth", "is_labelled", "read_truth"]


@dataclass(frozen=True)
class FilmTruth:
    """``readers``: reader id -> rows (``class_name``, box); ``fused``: the fused rows."""

    image_id: str
    readers: dict[str, pd.DataFrame]
    fused: pd.DataFrame


def is_labelled(folder: str | Path | None) -> bool:
    """Whether ``folder`` is a labelled VinBigData folder."""
    return folder is not None and (Path(folder) / TRAIN_CSV).is_file()


def _boxes(frame: pd.DataFrame) -> pd.DataFrame:
    keep = frame[frame["class_id"].astype(int) != NO_FINDING_ID]
    return keep[["class_name", *BOX_COLUMNS]].reset_index(drop=True)


def film_truth(annotations: Annotations, image_id: str) -> FilmTruth:
    """One film's readers and fused boxes from a folder's checked annotations
    (``KeyError`` when the folder does not know the film)."""
    if image_id not in annotations.sizes.index:
        raise KeyError(f"image {image_id!r} is not in this folder's train.csv")
    rows = annotations.boxes[annotations.boxes["image_id"].astype(str) == image_id]
    one = Annotations(rows, annotations.sizes.loc[[image_id]], annotations.errors.iloc[0:0])
    readers = {str(r): _boxes(g) for r, g in rows.groupby(rows["rad_id"].astype(str))}
    return FilmTruth(image_id, readers, _boxes(fuse_readers(one)))


def read_truth(folder: str | Path, image_id: str) -> FilmTruth:
    """:func:`film_truth` of a folder on disk."""
    return film_truth(read_vinbigdata(folder), image_id)
