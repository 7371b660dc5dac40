"""Plotly figures of the chest cohort page: PR per class, FROC, class confusion matrix.

Curves come from :mod:`.curves` (threshold-free, built once per setting); only the
operating-point markers and the confusion counts move with the thresholds. Styling is the
aneurysm cohort's (:func:`core.cohort.figures.chart_layout`), so both pages look alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.cohort.figures import chart_layout
from core.review.palette import STATUS_COLOURS, THRESHOLD_COLOUR

__all__ = ["confusion_figure", "froc_figure", "pr_figure"]

_CURVE = STATUS_COLOURS["clear"]
_POINT = STATUS_COLOURS["flagged"]


def _marker(fig: go.Figure, x: float | None, y: float | None, name: str) -> None:
    if x is None or y is None:
        return
    fig.add_scatter(x=[x], y=[y], mode="markers", name=name,
                    marker=dict(color=_POINT, size=12, line=dict(color=THRESHOLD_COLOUR, width=2)))  # fmt: skip


def pr_figure(curve: pd.DataFrame, name: str, recall: float | None, precision: float | None,
              threshold: float) -> go.Figure:  # fmt: skip
    """One class's PR curve (step) with the point at its threshold."""
    fig = go.Figure()
    fig.add_scatter(x=curve["recall"], y=curve["precision"], mode="lines", name="PR",
                    line=dict(color=_CURVE), line_shape="hv",
                    hovertemplate="recall %{x:.3f}, precision %{y:.3f}<extra></extra>")  # fmt: skip
    _marker(fig, recall, precision, f"threshold {threshold:.3f}")
    fig = chart_layout(fig, f"Precision–recall: {name}", "recall", "precision", "bottom left")
    fig.update_xaxes(range=[-0.01, 1.01])
    return fig.update_yaxes(range=[-0.01, 1.01])


def froc_figure(curve: pd.DataFrame, point: tuple[float, float | None],
                rates: tuple[float, ...]) -> go.Figure:  # fmt: skip
    """Lesion sensitivity against false positives per image (log x, the usual rates
    marked) with the point at the current thresholds."""
    fig = go.Figure()
    fp = np.maximum(curve["fp_per_image"].to_numpy(float), min(rates) / 2)
    fig.add_scatter(x=fp, y=curve["sensitivity"], mode="lines", name="FROC",
                    line=dict(color=_CURVE), line_shape="hv",
                    hovertemplate="%{x:.3f} FP/image, sensitivity %{y:.3f}<extra></extra>")  # fmt: skip
    _marker(fig, max(point[0], min(rates) / 2), point[1], "at the thresholds")
    fig = chart_layout(fig, "FROC (14 finding classes pooled)", "false positives per image",
                  "lesion sensitivity", "bottom right")  # fmt: skip
    fig.update_xaxes(type="log", tickvals=list(rates), ticktext=[f"{r:g}" for r in rates])
    return fig.update_yaxes(range=[-0.01, 1.01])


def confusion_figure(matrix: pd.DataFrame) -> go.Figure:
    """Counts as a heatmap, truth in rows and prediction in columns, each cell labelled."""
    z = matrix.to_numpy()
    fig = go.Figure(go.Heatmap(z=np.log1p(z), x=list(matrix.columns), y=list(matrix.index),
                               text=z, texttemplate="%{text}", showscale=False,
                               colorscale="Blues",
                               hovertemplate="truth %{y}<br>predicted %{x}<br>%{text}<extra></extra>"))  # fmt: skip
    fig = chart_layout(fig, "Class confusion at IoU 0.4", "predicted", "truth", height=560)
    fig.update_layout(showlegend=False)
    return fig.update_yaxes(autorange="reversed")
