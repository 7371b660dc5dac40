"""Plotly figures of the chest dataset EDA, one per table of :mod:`core.studies.chest.eda`.

Each takes the table its twin in ``eda`` returns and only draws, so a page can cache the
tables and redraw cheaply. Colours follow the app's dark figures (:mod:`core.cohort.figures`):
transparent background, light text, one blue for the readers, one amber for the fused set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.review.palette import STATUS_COLOURS
from core.studies.chest.classes import CLASSES
from core.studies.chest.eda import FUSED, READERS, normal_share

__all__ = [
    "SOURCE_COLOURS",
    "box_size_figure",
    "class_frequency_figure",
    "labels_per_image_figure",
    "position_figure",
    "reader_habits_figure",
    "reader_matrix_figure",
]

SOURCE_COLOURS: dict[str, str] = {READERS: STATUS_COLOURS["clear"], FUSED: "#ffb347"}
_FONT = dict(size=12, color="#d8dde6")
_GRID = "#2a3140"


def _style(fig: go.Figure, title: str, height: int = 360) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, font=dict(size=13)), height=height, font=_FONT,
        margin=dict(l=8, r=8, t=40, b=8), paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)", legend=dict(bgcolor="rgba(20,24,32,0.75)"),
    )  # fmt: skip
    fig.update_xaxes(gridcolor=_GRID, zeroline=False)
    return fig.update_yaxes(gridcolor=_GRID, zeroline=False)


def class_frequency_figure(freq: pd.DataFrame, measure: str = "boxes") -> go.Figure:
    """Grouped bars per label, one bar per source, of ``measure`` (``boxes`` or ``images``)
    from :func:`~core.studies.chest.eda.class_frequencies`."""
    if measure not in ("boxes", "images"):
        raise ValueError(f"measure must be 'boxes' or 'images', not {measure!r}")
    fig = go.Figure()
    for source, part in freq.groupby("source", sort=False):
        fig.add_bar(
            x=part["class_name"], y=part[measure], name=str(source),
            marker_color=SOURCE_COLOURS.get(str(source)),
            hovertemplate="%{x}: %{y} " + measure + "<extra>%{fullData.name}</extra>",
        )  # fmt: skip
    fig.update_layout(barmode="group")
    fig.update_yaxes(title=measure)
    return _style(fig, f"Class frequencies — {measure} per label")


def labels_per_image_figure(per_image: dict[str, pd.DataFrame]) -> go.Figure:
    """Films by number of distinct finding classes, one bar series per source (``{source:
    labels_per_image frame}``); the title gives each source's normal-film share."""
    fig, shares = go.Figure(), []
    for source, frame in per_image.items():
        counts = frame["n_classes"].value_counts().sort_index()
        fig.add_bar(x=counts.index, y=counts.to_numpy(), name=source,
                    marker_color=SOURCE_COLOURS.get(source))  # fmt: skip
        share = normal_share(frame)
        shares.append(f"{source} {'n/a' if share is None else f'{share:.0%}'}")
    fig.update_layout(barmode="group")
    fig.update_xaxes(title="distinct finding classes on the film", dtick=1)
    fig.update_yaxes(title="films")
    return _style(fig, "Labels per film — normal films: " + ", ".join(shares))


def box_size_figure(tidy: pd.DataFrame, source: str = READERS) -> go.Figure:
    """Box area as a share of the film per class (log scale: areas span three decades)."""
    fig = go.Figure()
    found = tidy[tidy["class_id"] < len(CLASSES)]
    for class_id, part in found.groupby("class_id"):
        fig.add_box(
            y=part["area"], name=CLASSES[int(class_id)], boxpoints=False,
            marker_color=SOURCE_COLOURS.get(source), showlegend=False,
        )  # fmt: skip
    fig.update_yaxes(type="log", title="box area / film area")
    return _style(fig, f"Box sizes per class ({source})", height=400)


def position_figure(grid: np.ndarray, class_name: str) -> go.Figure:
    """A :func:`~core.studies.chest.eda.position_grid` as a heatmap in film orientation
    (top of the film at the top, the patient's right on the left as on a PA film)."""
    bins = grid.shape[0]
    centres = (np.arange(bins) + 0.5) / bins
    fig = go.Figure(go.Heatmap(
        z=grid, x=centres, y=centres, colorscale="Viridis", colorbar=dict(title="boxes"),
        hovertemplate="x %{x:.2f}, y %{y:.2f}: %{z} box centres<extra></extra>",
    ))  # fmt: skip
    fig.update_xaxes(range=[0, 1], title="x / film width", constrain="domain")
    fig.update_yaxes(range=[1, 0], title="y / film height", scaleanchor="x")
    return _style(fig, f"Where {class_name} boxes sit — {int(grid.sum())} centres", height=420)


def reader_habits_figure(habits: pd.DataFrame) -> go.Figure:
    """Boxes per film and the share of films called "No finding", per reader."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("boxes per film", "No-finding share"))
    text = [f"{n} films" for n in habits["films"]]
    colour = SOURCE_COLOURS[READERS]
    fig.add_bar(x=habits["rad_id"], y=habits["boxes_per_film"], hovertext=text, row=1, col=1,
                marker_color=colour, showlegend=False)  # fmt: skip
    fig.add_bar(x=habits["rad_id"], y=habits["no_finding_share"], hovertext=text, row=1, col=2,
                marker_color=colour, showlegend=False)  # fmt: skip
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    return _style(fig, "Reader habits")


def reader_matrix_figure(matrix: pd.DataFrame, title: str, fmt: str = ".0%") -> go.Figure:
    """A reader x class table (:func:`~core.studies.chest.eda.reader_class_mix` or
    :func:`~core.studies.chest.eda.reader_box_sizes`) as a heatmap, values in the cells."""
    z = matrix.to_numpy(float)
    fig = go.Figure(go.Heatmap(
        z=z, x=list(matrix.columns), y=list(matrix.index), colorscale="Blues",
        texttemplate="%{z:" + fmt + "}", hovertemplate="%{y} · %{x}: %{z:" + fmt + "}<extra></extra>",
    ))  # fmt: skip
    fig.update_yaxes(autorange="reversed")
    return _style(fig, title, height=max(320, 60 + 24 * len(matrix)))
