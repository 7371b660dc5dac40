"""Exploratory numbers of a labelled VinBigData folder: what the readers marked, and how.

The original notebooks looked at the class frequencies, labels per film, box sizes and
positions and each reader's habits before training; these are those tables, computed from
:class:`~core.studies.chest.annotations.Annotations` (the checked reader rows) and, where a
"fused" view is wanted, from the same rows fused by :mod:`core.studies.chest.fusion`.

Everything starts from one tidy frame (:func:`tidy_boxes`, :data:`TIDY_COLUMNS`): one row
per ``train.csv`` row, the box as fractions of its film (centre, width, height, area), so
films of different sizes share one scale. Every other function is a pure, vectorised
function of that frame (a page caches the frame once per folder and recomputes the rest
on each rerun). "No finding" rows keep NaN boxes; they count as calls, never as boxes.
Figures are in :mod:`core.studies.chest.eda_figures`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.studies.chest.annotations import Annotations
from core.studies.chest.classes import ALL_LABELS, BOX_COLUMNS, CLASSES, NO_FINDING_ID
from core.studies.chest.fusion import DEFAULT_FUSION, FusionSettings, fuse_readers, fused_to_train

__all__ = [
    "FUSED",
    "READERS",
    "TIDY_COLUMNS",
    "class_frequencies",
    "fused_boxes",
    "labels_per_image",
    "normal_share",
    "position_grid",
    "reader_box_sizes",
    "reader_boxes",
    "reader_class_mix",
    "reader_habits",
    "size_summary",
    "tidy_boxes",
]

#: The two sources a frequency table compares: every reader row pooled, and the fused set.
READERS, FUSED = "readers", "fused"
#: Columns of the tidy frame; ``cx, cy, w, h, area`` are fractions of the film (NaN for
#: "No finding").
TIDY_COLUMNS: tuple[str, ...] = (
    "image_id", "rad_id", "class_id", "class_name", "cx", "cy", "w", "h", "area",
)  # fmt: skip


def tidy_boxes(boxes: pd.DataFrame, sizes: pd.DataFrame) -> pd.DataFrame:
    """One row per ``train.csv``-layout row with its box normalised by the film's size.

    ``boxes`` has the ``train.csv`` columns (reader rows, or :func:`fused_to_train`'s);
    ``sizes`` is indexed by ``image_id`` with ``width``/``height`` in original pixels. A row
    whose film has no size cannot be normalised and is left out (the folder reader has
    already reported it).
    """
    rows = boxes[boxes["image_id"].astype(str).isin(sizes.index)]
    ids = rows["image_id"].astype(str).to_numpy()
    width = sizes["width"].reindex(ids).to_numpy(float)
    height = sizes["height"].reindex(ids).to_numpy(float)
    x0, y0, x1, y1 = (rows[c].to_numpy(float) for c in BOX_COLUMNS)
    w, h = (x1 - x0) / width, (y1 - y0) / height
    class_id = rows["class_id"].to_numpy(int)
    return pd.DataFrame({
        "image_id": ids, "rad_id": rows["rad_id"].astype(str).to_numpy(), "class_id": class_id,
        "class_name": np.asarray(ALL_LABELS, dtype=object)[class_id],
        "cx": (x0 + x1) / 2 / width, "cy": (y0 + y1) / 2 / height, "w": w, "h": h, "area": w * h,
    }, columns=list(TIDY_COLUMNS))  # fmt: skip


def reader_boxes(annotations: Annotations) -> pd.DataFrame:
    """The readers' rows of a folder as a tidy frame."""
    return tidy_boxes(annotations.boxes, annotations.sizes)


def fused_boxes(
    annotations: Annotations, settings: FusionSettings = DEFAULT_FUSION
) -> pd.DataFrame:
    """The fused ground truth as a tidy frame (``rad_id`` "fused"; one "No finding" row per
    film left without a box). This runs the fusion: cache it, as the page does."""
    fused = fused_to_train(fuse_readers(annotations, **settings.to_dict()), rad_id=FUSED)
    return tidy_boxes(fused, annotations.sizes)


def _findings(tidy: pd.DataFrame) -> pd.DataFrame:
    return tidy[tidy["class_id"] != NO_FINDING_ID]


def class_frequencies(readers: pd.DataFrame, fused: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows ``source, class_id, class_name, boxes, images`` for all 15 labels per source.

    ``boxes`` counts rows (for "No finding": calls by a reader, or fused films);
    ``images`` counts the films with at least one such row.
    """
    parts = []
    for source, tidy in ((READERS, readers), (FUSED, fused)):
        if tidy is None:
            continue
        grouped = tidy.groupby("class_id")["image_id"]
        counts = pd.DataFrame({"boxes": grouped.size(), "images": grouped.nunique()})
        counts = counts.reindex(range(len(ALL_LABELS)), fill_value=0).astype(int)
        counts.insert(0, "class_name", ALL_LABELS)
        counts.insert(0, "source", source)
        parts.append(counts.rename_axis("class_id").reset_index())
    return pd.concat(parts, ignore_index=True)[
        ["source", "class_id", "class_name", "boxes", "images"]
    ]


def labels_per_image(tidy: pd.DataFrame, image_ids: Sequence[str]) -> pd.DataFrame:
    """Per film (``image_ids``: every film of the folder, rows or not): ``n_classes``, the
    distinct finding classes anyone marked, and ``normal`` (no finding class at all)."""
    n = _findings(tidy).groupby("image_id")["class_id"].nunique()
    n = n.reindex(pd.Index(list(image_ids), name="image_id"), fill_value=0).astype(int)
    return pd.DataFrame({"n_classes": n, "normal": n == 0}).reset_index()


def normal_share(per_image: pd.DataFrame) -> float | None:
    """The share of films with no finding class (None for a folder without films)."""
    return float(per_image["normal"].mean()) if len(per_image) else None


def size_summary(tidy: pd.DataFrame) -> pd.DataFrame:
    """Per finding class with boxes (in class order): ``boxes`` and the median ``w``, ``h``
    and ``area`` as fractions of the film."""
    found = _findings(tidy)
    out = found.groupby("class_id").agg(
        boxes=("area", "size"), w=("w", "median"), h=("h", "median"), area=("area", "median")
    )
    out.insert(0, "class_name", [CLASSES[c] for c in out.index])
    return out.reset_index()


def position_grid(tidy: pd.DataFrame, class_id: int, bins: int = 10) -> np.ndarray:
    """``(bins, bins)`` counts of box centres of one class: row 0 is the top of the film,
    column 0 its left (image orientation; a centre on the far edge counts in the last bin)."""
    found = tidy[tidy["class_id"] == int(class_id)]
    grid, _, _ = np.histogram2d(
        found["cy"].to_numpy(float), found["cx"].to_numpy(float), bins=bins,
        range=[[0.0, 1.0], [0.0, 1.0]],
    )  # fmt: skip
    return grid.astype(int)


def _reader_order(ids: pd.Index) -> list[str]:
    """R1, R2, ... R10 (numeric order within a prefix), any other name after, sorted."""
    num = pd.to_numeric(ids.str.extract(r"(\d+)$")[0], errors="coerce")
    return list(pd.DataFrame({"id": ids, "n": num}).sort_values(["n", "id"])["id"])


def reader_habits(tidy: pd.DataFrame) -> pd.DataFrame:
    """Per reader: ``films`` read, finding ``boxes``, ``boxes_per_film``,
    ``no_finding_share`` (films the reader called normal) and ``median_area``."""
    films = tidy.groupby("rad_id")["image_id"].nunique()
    found = _findings(tidy).groupby("rad_id")["area"]
    normal = tidy[tidy["class_id"] == NO_FINDING_ID].groupby("rad_id")["image_id"].nunique()
    out = pd.DataFrame({
        "films": films, "boxes": found.size().reindex(films.index, fill_value=0),
        "no_finding": normal.reindex(films.index, fill_value=0),
        "median_area": found.median().reindex(films.index),
    })  # fmt: skip
    out["boxes_per_film"] = out["boxes"] / out["films"]
    out["no_finding_share"] = out.pop("no_finding") / out["films"]
    out = out.loc[_reader_order(out.index)].rename_axis("rad_id").reset_index()
    columns = ["rad_id", "films", "boxes", "boxes_per_film", "no_finding_share", "median_area"]
    return out[columns].astype({"films": int, "boxes": int})


def _by_reader_class(tidy: pd.DataFrame, values: str, aggfunc: str) -> pd.DataFrame:
    found = _findings(tidy)
    table = found.pivot_table(index="rad_id", columns="class_id", values=values, aggfunc=aggfunc)
    table = table.reindex(columns=sorted(found["class_id"].unique()))
    table.columns = [CLASSES[c] for c in table.columns]
    return table.loc[_reader_order(table.index)] if len(table) else table


def reader_class_mix(tidy: pd.DataFrame) -> pd.DataFrame:
    """Reader x class: the share of each reader's boxes in each class (rows sum to 1)."""
    counts = _by_reader_class(tidy, "area", "size").fillna(0)
    return counts.div(counts.sum(axis=1), axis=0)


def reader_box_sizes(tidy: pd.DataFrame) -> pd.DataFrame:
    """Reader x class: the median box area (fraction of the film); NaN where a reader drew
    no box of the class."""
    return _by_reader_class(tidy, "area", "median")
