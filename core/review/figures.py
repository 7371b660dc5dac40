"""Plotly figures of a case's numbers: the 21 locations and the stage-1 score.

Both take plain frames/values (see :mod:`core.review.table`), not model objects, so the
page, the report and the tests build the same figure from the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.review.palette import STATUS_COLOURS, STATUS_LABELS, STATUSES, THRESHOLD_COLOUR
from core.schema import split_location

__all__ = ["location_label", "location_bars", "stage1_bars"]

_FONT = dict(size=12, color="#d8dde6")


def location_label(column: str) -> str:
    """``L_MCA`` -> ``MCA · L``; ``BA`` -> ``BA``: base first so L/R pairs read together."""
    side, base = split_location(column)
    return base if side is None else f"{base} · {side}"


def _layout(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(
        height=height,
        margin=dict(l=8, r=8, t=28, b=8),
        font=_FONT,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0, font=dict(size=11)),
        bargap=0.25,
    )
    fig.update_xaxes(range=[0, 1], gridcolor="#2a3140", zeroline=False, tickformat=".1f")
    return fig


def location_bars(table: pd.DataFrame) -> go.Figure:
    """Horizontal bar per location in ``LOCATIONS`` order (L/R pairs adjacent), coloured by
    status, with the location's own threshold as a white tick on its bar.

    ``table`` needs columns ``location, probability, threshold, status``.
    """
    labels = [location_label(c) for c in table["location"]]
    prob = table["probability"].astype(float)
    fig = go.Figure()
    for status in STATUSES:
        sel = (table["status"] == status).to_numpy()
        if not sel.any():
            continue
        fig.add_bar(
            y=np.asarray(labels)[sel],
            x=prob.fillna(0.0)[sel],
            orientation="h",
            name=STATUS_LABELS[status],
            marker_color=STATUS_COLOURS[status],
            marker_pattern_shape="/" if status == "gated" else "",
            customdata=np.stack([table["location"][sel], table["threshold"][sel]], axis=1),
            hovertemplate="%{customdata[0]}: p=%{x:.3f} (threshold %{customdata[1]:.3f})"
            "<extra></extra>",
        )
    fig.add_scatter(
        y=labels,
        x=table["threshold"].astype(float),
        mode="markers",
        name="threshold",
        marker=dict(symbol="line-ns", size=14, line=dict(width=3, color=THRESHOLD_COLOUR)),
        hovertemplate="%{y}: threshold %{x:.3f}<extra></extra>",
    )
    fig.update_yaxes(categoryorder="array", categoryarray=labels, autorange="reversed")
    # A faint rule after each L/R pair keeps pairs visually grouped. The shapes are what
    # ``add_hline`` draws, set in one layout update: ``add_hline`` re-walks the axes and
    # re-validates the layout on every call (10 calls were 230 of this figure's 300 ms in
    # a profile of the page).
    bases = [split_location(c)[1] for c in table["location"]]
    rules = [
        dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=i - 0.5, y1=i - 0.5,
             line=dict(color="#2a3140", width=1))
        for i in range(1, len(bases)) if bases[i] != bases[i - 1]
    ]  # fmt: skip
    fig.update_layout(barmode="overlay", shapes=rules)
    return _layout(fig, height=28 + 22 * len(labels))


def stage1_bars(
    score: float, threshold: float, anterior: float | None, posterior: float | None
) -> go.Figure:
    """Patient score and the two circulation means against the stage-1 threshold.

    A mean is ``None`` when none of that circulation's views was supplied.
    """
    rows = [
        ("patient score", score),
        ("anterior mean (I views)", anterior),
        ("posterior mean (V views)", posterior),
    ]
    names = [n for n, _ in rows]
    values = [np.nan if v is None else float(v) for _, v in rows]
    colours = [
        STATUS_COLOURS["flagged" if (v == v and v >= threshold) else "clear"] for v in values
    ]
    fig = go.Figure(
        go.Bar(
            y=names,
            x=values,
            orientation="h",
            marker_color=colours,
            showlegend=False,
            text=["n/a" if v != v else f"{v:.3f}" for v in values],
            textposition="outside",
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig.add_vline(
        x=threshold,
        line=dict(color=THRESHOLD_COLOUR, width=2, dash="dash"),
        annotation_text=f"threshold {threshold:.3f}",
        annotation_position="top",
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height=150)
