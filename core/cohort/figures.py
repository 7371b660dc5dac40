"""Plotly figures of a cohort: ROC and PR with the operating point, confusion matrix,
reliability diagram and score histograms.

Curves are drawn from :mod:`core.metrics.binary` tables, which do not depend on the
threshold; only the marker does. So the page builds the curve data once per table and a
threshold change moves one marker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.calibration import calibration_curve

from core.review.palette import STATUS_COLOURS, THRESHOLD_COLOUR

__all__ = [
    "chart_layout",
    "roc_figure",
    "pr_figure",
    "confusion_figure",
    "reliability_figure",
    "histogram_figure",
]

_FONT = dict(size=12, color="#d8dde6")
_GRID = "#2a3140"
_CURVE = STATUS_COLOURS["clear"]
_POINT = STATUS_COLOURS["flagged"]


#: Legend corners inside the plot area, chosen per figure where its curve leaves room.
_CORNERS = {
    "bottom right": dict(x=0.98, y=0.02, xanchor="right", yanchor="bottom"),
    "bottom left": dict(x=0.02, y=0.02, xanchor="left", yanchor="bottom"),
    "top right": dict(x=0.98, y=0.98, xanchor="right", yanchor="top"),
    "top left": dict(x=0.02, y=0.98, xanchor="left", yanchor="top"),
}


def _diagonal(fig: go.Figure, name: str) -> None:
    """The dotted y = x line: chance on a ROC curve, perfect calibration on a reliability plot."""
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", name=name,
        line=dict(color=_GRID, dash="dot"), hoverinfo="skip",
    )  # fmt: skip


def chart_layout(
    fig: go.Figure, title: str, x: str, y: str, legend: str = "bottom right", height: int = 320
) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, font=dict(size=13)),
        height=height,
        font=_FONT,
        margin=dict(l=8, r=8, t=36, b=8),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        showlegend=True,
        legend=dict(**_CORNERS[legend], bgcolor="rgba(20,24,32,0.75)", font=dict(size=11)),
    )
    fig.update_xaxes(title=x, gridcolor=_GRID, zeroline=False)
    fig.update_yaxes(title=y, gridcolor=_GRID, zeroline=False)
    return fig


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def roc_figure(
    roc: pd.DataFrame,
    point: Mapping[str, Any],
    auroc: float | None,
    ci: list[float | None] | None = None,
) -> go.Figure:
    """ROC curve with the current operating point ``(1 - specificity, sensitivity)``."""
    ci_text = f" (95% CI {_fmt(ci[0])}–{_fmt(ci[1])})" if ci and ci[0] is not None else ""
    fig = go.Figure()
    _diagonal(fig, "chance")
    fig.add_scatter(
        x=roc["fpr"],
        y=roc["tpr"],
        mode="lines",
        name="ROC",
        line=dict(color=_CURVE),
        customdata=roc["threshold"],
        hovertemplate="FPR %{x:.3f}, TPR %{y:.3f} at ≥ %{customdata:.3f}<extra></extra>",
    )
    spec, sens = point.get("specificity"), point.get("sensitivity")
    if spec is not None and sens is not None:
        fig.add_scatter(
            x=[1 - spec],
            y=[sens],
            mode="markers",
            name=f"threshold {point['threshold']:.3f}",
            marker=dict(color=_POINT, size=13, line=dict(color=THRESHOLD_COLOUR, width=2)),
        )
    fig = chart_layout(fig, f"ROC — AUROC {_fmt(auroc)}{ci_text}", "1 − specificity", "sensitivity")
    fig.update_xaxes(range=[-0.01, 1.01])
    return fig.update_yaxes(range=[-0.01, 1.01])


def pr_figure(pr: pd.DataFrame, point: Mapping[str, Any], prevalence: float) -> go.Figure:
    """Precision-recall curve with the current point ``(sensitivity, PPV)`` and the
    prevalence line a random ranking would give."""
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1],
        y=[prevalence, prevalence],
        mode="lines",
        name=f"prevalence {prevalence:.2f}",
        line=dict(color=_GRID, dash="dot"),
        hoverinfo="skip",
    )
    fig.add_scatter(
        x=pr["recall"],
        y=pr["precision"],
        mode="lines",
        name="PR",
        line=dict(color=_CURVE),
        line_shape="hv",
        hovertemplate="recall %{x:.3f}, precision %{y:.3f}<extra></extra>",
    )
    sens, ppv = point.get("sensitivity"), point.get("ppv")
    if sens is not None and ppv is not None:
        fig.add_scatter(
            x=[sens],
            y=[ppv],
            mode="markers",
            name=f"threshold {point['threshold']:.3f}",
            marker=dict(color=_POINT, size=13, line=dict(color=THRESHOLD_COLOUR, width=2)),
        )
    fig = chart_layout(
        fig, "Precision–recall", "recall (sensitivity)", "precision (PPV)", "bottom left"
    )
    fig.update_xaxes(range=[-0.01, 1.01])
    return fig.update_yaxes(range=[-0.01, 1.01])


def confusion_figure(
    counts: Mapping[str, Any], title: str = "Stage-1 confusion matrix"
) -> go.Figure:
    """2×2 counts, truth in rows and decision in columns, each cell labelled."""
    z = np.array([[counts["tp"], counts["fn"]], [counts["fp"], counts["tn"]]])
    text = [[f"TP<br>{z[0, 0]}", f"FN<br>{z[0, 1]}"], [f"FP<br>{z[1, 0]}", f"TN<br>{z[1, 1]}"]]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=["positive", "negative"],
            y=["aneurysm", "none"],
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=16, color="#ffffff"),
            colorscale=[[0.0, "#1b2433"], [1.0, "#2f6fb5"]],
            showscale=False,
            xgap=3,
            ygap=3,
            hovertemplate="truth %{y} / model %{x}: %{z}<extra></extra>",
        )
    )
    fig = chart_layout(fig, title, "model decision", "truth", height=300)
    fig.update_layout(showlegend=False)
    return fig.update_yaxes(autorange="reversed")


def reliability_figure(y: np.ndarray, score: np.ndarray, n_bins: int = 10) -> go.Figure:
    """Observed positive fraction against mean score per bin (``calibration_curve``)."""
    frac, mean = calibration_curve(y, score, n_bins=n_bins, strategy="uniform")
    counts = np.histogram(score, bins=np.linspace(0, 1, n_bins + 1))[0]
    counts = counts[counts > 0]
    fig = go.Figure()
    _diagonal(fig, "perfectly calibrated")
    fig.add_scatter(
        x=mean,
        y=frac,
        mode="lines+markers",
        name="model",
        line=dict(color=_CURVE),
        customdata=counts[: len(mean)],
        hovertemplate="mean score %{x:.2f}: %{y:.2f} positive (n=%{customdata})<extra></extra>",
    )
    fig = chart_layout(
        fig,
        f"Reliability ({n_bins} bins)",
        "mean patient score",
        "fraction with aneurysm",
        "top left",
    )
    fig.update_xaxes(range=[0, 1])
    return fig.update_yaxes(range=[0, 1])


def histogram_figure(
    y: np.ndarray, score: np.ndarray, threshold: float, bins: int = 25
) -> go.Figure:
    """Patient-score histograms of each class with the stage-1 threshold drawn across."""
    fig = go.Figure()
    edges = dict(start=0.0, end=1.0, size=1.0 / bins)
    for label, name, colour in ((0, "no aneurysm", _CURVE), (1, "aneurysm", _POINT)):
        fig.add_histogram(
            x=score[y == label], name=name, xbins=edges, marker_color=colour, opacity=0.6
        )
    fig.add_vline(x=threshold, line=dict(color=THRESHOLD_COLOUR, width=2, dash="dash"))
    fig = chart_layout(
        fig,
        f"Patient scores by class (threshold {threshold:.3f})",
        "patient score",
        "patients",
        "top right",
    )
    fig.update_layout(barmode="overlay")
    return fig.update_xaxes(range=[0, 1])
