"""Exploratory numbers of a labelled K-Ium cohort: where its aneurysms are, how many each
patient has, and (synthetic cohorts only) how big the drawn sacs are.

The labels come from the folder's ``train.csv`` through the one K-Ium folder reader
(:func:`core.intake.folder.read_kium_folder`, which checks the schema); the sacs from
``truth.json`` through :func:`core.sacs.read_sacs`. Real data has no ``truth.json``:
:func:`sac_sizes` is then ``None`` and the page says so. The tables are pure functions of
the label frame or the sac map, so a page caches the reads and redraws freely.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from core.cohort.figures import chart_layout
from core.intake.errors import BadFile
from core.intake.folder import read_kium_folder
from core.review.palette import STATUS_COLOURS
from core.sacs import SacMap, read_sacs
from core.schema import LOCATIONS, ORIGINAL_GROUPS, TRAIN_COLUMNS, split_location

__all__ = [
    "SAC_COLUMNS",
    "label_frame",
    "location_count_figure",
    "location_counts",
    "positives_figure",
    "positives_per_patient",
    "read_cohort_sacs",
    "sac_size_figure",
    "sac_sizes",
]

#: One row per aneurysm (patient x location): its median drawn radius over the views that
#: show it, in original-image pixels, and how many views show it.
SAC_COLUMNS: tuple[str, ...] = ("Index", "location", "radius_px", "views")
_BAR = STATUS_COLOURS["clear"]


def label_frame(cohort_dir: Path) -> pd.DataFrame:
    """The cohort's ``train.csv`` as ``Index`` + ``Aneurysm`` + the 21 locations (0/1).

    Raises :class:`~core.intake.errors.BadFile` for a missing folder, a table that breaks
    the schema, or a folder without ``train.csv`` (an unlabelled folder has nothing to count).
    """
    folder = read_kium_folder(cohort_dir)
    if folder.labels is None:
        raise BadFile(Path(cohort_dir).name, "no train.csv: the folder is unlabelled")
    frame = pd.DataFrame.from_dict(folder.labels, orient="index", columns=list(TRAIN_COLUMNS[1:]))
    return frame.rename_axis("Index").reset_index().sort_values("Index", ignore_index=True)


def location_counts(labels: pd.DataFrame) -> pd.DataFrame:
    """Per location column in schema order: ``positives``, their ``share`` of patients, and
    the ``circulation`` the original grouping puts it in."""
    positives = labels[list(LOCATIONS)].sum().astype(int)
    circulation = [ORIGINAL_GROUPS.circulation_of(split_location(c)[1]) for c in LOCATIONS]
    return pd.DataFrame({
        "location": list(LOCATIONS), "positives": positives.to_numpy(),
        "share": positives.to_numpy() / max(len(labels), 1), "circulation": circulation,
    })  # fmt: skip


def positives_per_patient(labels: pd.DataFrame) -> pd.DataFrame:
    """``locations`` (0, 1, 2, ...) -> ``patients`` with that many positive locations,
    every count from 0 to the maximum listed (zeros included)."""
    n = labels[list(LOCATIONS)].sum(axis=1).astype(int)
    top = int(n.max()) if len(n) else 0
    counts = n.value_counts().reindex(range(top + 1), fill_value=0)
    return pd.DataFrame({"locations": counts.index, "patients": counts.to_numpy(int)})


def read_cohort_sacs(cohort_dir: Path) -> SacMap | None:
    """The folder's sacs, ``None`` without ``truth.json``; :class:`ValueError` when the file
    is there but is not the generator's format (bad JSON, missing keys)."""
    try:
        return read_sacs(cohort_dir)
    except (ValueError, KeyError, TypeError, IndexError) as err:  # JSONDecodeError is a ValueError
        raise ValueError(f"truth.json cannot be read ({type(err).__name__}: {err})") from err


def sac_sizes(sacs: SacMap) -> pd.DataFrame:
    """One row per aneurysm (:data:`SAC_COLUMNS`), locations in schema order.

    A patient's aneurysm is drawn on every view that shows it with one size in field units,
    but the views differ in pixel scale; the median over those views is its size here.
    """
    rows = [(index, s.location, s.radius) for (index, _), found in sacs.items() for s in found]
    drawn = pd.DataFrame(rows, columns=["Index", "location", "radius_px"])
    out = drawn.groupby(["Index", "location"], as_index=False).agg(
        radius_px=("radius_px", "median"), views=("radius_px", "size")
    )
    rank = out["location"].map({c: i for i, c in enumerate(LOCATIONS)})
    out = out.assign(_rank=rank).sort_values(["_rank", "Index"], ignore_index=True)
    return out[list(SAC_COLUMNS)]


def location_count_figure(counts: pd.DataFrame) -> go.Figure:
    """Positives per location column, in ``train.csv`` order, anterior and posterior apart."""
    fig = go.Figure()
    for circ, colour in (("anterior", _BAR), ("posterior", "#ffb347")):
        part = counts[counts["circulation"] == circ]
        fig.add_bar(
            x=part["location"], y=part["positives"], name=circ, marker_color=colour,
            customdata=part["share"], hovertemplate="%{x}: %{y} (%{customdata:.1%})<extra></extra>",
        )  # fmt: skip
    fig = chart_layout(
        fig, "Positives per location", "location (train.csv order)", "patients", "top right"
    )
    return fig.update_xaxes(categoryorder="array", categoryarray=list(counts["location"]))


def positives_figure(per_patient: pd.DataFrame) -> go.Figure:
    """Patients by number of positive locations (0 = no aneurysm)."""
    fig = go.Figure()
    fig.add_bar(x=per_patient["locations"], y=per_patient["patients"], name="patients",
                marker_color=_BAR)  # fmt: skip
    fig = chart_layout(
        fig, "Positive locations per patient", "positive locations", "patients", "top right"
    )
    fig.update_layout(showlegend=False)
    return fig.update_xaxes(dtick=1)


def sac_size_figure(sizes: pd.DataFrame) -> go.Figure:
    """Stacked histogram of sac radii, one colour per location (schema order)."""
    fig = go.Figure()
    for location in [c for c in LOCATIONS if c in set(sizes["location"])]:
        part = sizes[sizes["location"] == location]
        fig.add_histogram(x=part["radius_px"], name=location, xbins=dict(size=2))
    fig = chart_layout(
        fig, "Sac radius by location", "radius (px, median over views)", "aneurysms", "top right"
    )
    return fig.update_layout(barmode="stack")
