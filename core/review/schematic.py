"""An anatomical schematic of the circle of Willis and the posterior circulation.

Seen from below with anterior at the top, in radiological convention: the patient's right
is on the viewer's left. Each of the 21 locations is a dot on its vessel, coloured by its
decision and labelled with its probability. Coordinates are given for the left side only
and mirrored, so left and right can never drift apart.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from core.review.palette import STATUS_COLOURS, STATUS_LABELS, STATUSES
from core.schema import split_location

__all__ = ["NODE_XY", "VESSELS", "node_position", "willis_figure"]

#: Where each base location's dot sits on the patient's left (x > 0). BA is midline.
NODE_XY: dict[str, tuple[float, float]] = {
    "ICA": (2.08, 0.8),
    "PCOM": (1.72, 1.1),
    "AntChor": (3.0, 1.95),
    "ACA": (1.2, 4.05),
    "ACOM": (0.3, 4.9),
    "MCA": (3.3, 3.45),
    "VA": (0.75, -4.2),
    "PICA": (2.15, -5.6),
    "SCA": (2.05, -0.6),
    "BA": (0.0, -1.5),
    "PCA": (2.7, 0.05),
}

#: Vessel polylines on the patient's left; each is mirrored to the right.
VESSELS: tuple[tuple[tuple[float, float], ...], ...] = (
    ((2.1, 0.2), (1.95, 3.2)),  # ICA up to its terminus
    ((1.95, 3.2), (0.3, 4.9), (0.15, 5.7)),  # ACA: A1 to the ACOM, then A2
    ((0.0, 4.9), (0.3, 4.9)),  # half of the ACOM
    ((1.95, 3.2), (4.3, 3.75)),  # MCA
    ((2.0, 2.4), (3.4, 1.8)),  # anterior choroidal
    ((2.03, 1.7), (1.45, 0.45)),  # PCOM down to the PCA
    ((0.0, 0.4), (1.45, 0.45), (3.7, -0.35)),  # PCA: P1 then P2
    ((0.0, -0.1), (1.2, -0.4), (2.9, -0.85)),  # SCA
    ((1.3, -6.1), (0.0, -3.0)),  # VA up to the confluence
    ((1.08, -5.5), (2.8, -5.8)),  # PICA
    ((0.0, -3.0), (0.0, 0.4)),  # basilar (drawn twice when mirrored; harmless)
)

_VESSEL_COLOUR = "#3b4456"


def node_position(column: str) -> tuple[float, float]:
    """Plot coordinates of a location column (patient's right mirrored to negative x)."""
    side, base = split_location(column)
    x, y = NODE_XY[base]
    return (-x if side == "R" else x, y)


def _text_position(column: str) -> str:
    side, base = split_location(column)
    outer, inner = ("right", "left") if side in ("L", None) else ("left", "right")
    if base == "ACOM":
        return f"top {outer}"
    # PCOM's outer side is the ICA trunk; its label goes towards the midline.
    return f"middle {inner if base == 'PCOM' else outer}"


def willis_figure(table: pd.DataFrame, height: int = 460) -> go.Figure:
    """The schematic coloured from ``table`` (columns ``location, probability, threshold,
    status``); gated or missing probabilities are labelled ``–``."""
    fig = go.Figure()
    for line in VESSELS:
        for sign in (1, -1):
            fig.add_scatter(
                x=[sign * x for x, _ in line],
                y=[y for _, y in line],
                mode="lines",
                line=dict(color=_VESSEL_COLOUR, width=5),
                hoverinfo="skip",
                showlegend=False,
            )
    rows = table.set_index("location")
    for status in STATUSES:
        cols = [c for c in rows.index if rows.at[c, "status"] == status]
        if not cols:
            continue
        xy = [node_position(c) for c in cols]
        probs = [float(rows.at[c, "probability"]) for c in cols]
        text = [
            f"{split_location(c)[1]} {'–' if math.isnan(p) else f'{p:.2f}'}"
            for c, p in zip(cols, probs)
        ]
        fig.add_scatter(
            x=[p[0] for p in xy],
            y=[p[1] for p in xy],
            mode="markers+text",
            name=STATUS_LABELS[status],
            text=text,
            textposition=[_text_position(c) for c in cols],
            textfont=dict(size=11, color="#ffffff" if status == "flagged" else "#c9d1dc"),
            marker=dict(
                size=17 if status == "flagged" else 12,
                color=STATUS_COLOURS[status],
                line=dict(width=1.5, color="#0e1117"),
            ),
            customdata=[[c, float(rows.at[c, "threshold"])] for c in cols],
            hovertemplate="%{customdata[0]}: %{text}<br>threshold %{customdata[1]:.3f}"
            "<extra></extra>",
        )
    for x, label in ((-4.6, "R"), (4.6, "L")):
        fig.add_annotation(
            x=x, y=5.6, text=f"<b>{label}</b>", showarrow=False, font=dict(size=15, color="#9aa4b2")
        )
    fig.add_annotation(
        x=0, y=6.3, text="anterior", showarrow=False, font=dict(size=11, color="#9aa4b2")
    )
    fig.update_xaxes(visible=False, range=[-5.2, 5.2])
    fig.update_yaxes(visible=False, range=[-6.4, 6.5])
    fig.update_layout(
        height=height,
        margin=dict(l=0, r=0, t=24, b=0),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font=dict(size=12, color="#d8dde6"),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0, font=dict(size=11)),
    )
    return fig
