"""Results on the case page: the stage-1 verdict, the 21 locations, the schematic.

The three plotly figures are built once per set of numbers and kept (``st.cache_resource``,
:data:`FIGURES` entries each, a few tens of kB apiece): plotly validates every property it
is given, so building them was most of a rerun's cost, and a rerun (a threshold set
change, a verdict saved) mostly shows the same numbers again. Streamlit only reads a
figure (``to_dict`` / ``to_json``), so sharing one object between reruns and sessions is
safe; the key is the figure's own numbers, which carry no patient identifier.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.case import Case
from core.models.result import CaseResult
from core.review.figures import location_bars, stage1_bars
from core.review.palette import STATUS_LABELS
from core.review.schematic import willis_figure
from core.review.table import location_table
from ui.bundle import active_bundle
from ui.text import plain

__all__ = ["stage1_summary", "location_panel", "FIGURES"]

FIGURES = 32


@st.cache_resource(max_entries=FIGURES, show_spinner=False)
def _stage1_bars(
    score: float, threshold: float, anterior: float | None, posterior: float | None
) -> go.Figure:
    return stage1_bars(score, threshold, anterior, posterior)


@st.cache_resource(max_entries=FIGURES, show_spinner=False)
def _location_bars(_table: pd.DataFrame, numbers: str) -> go.Figure:
    return location_bars(_table)


@st.cache_resource(max_entries=FIGURES, show_spinner=False)
def _willis_figure(_table: pd.DataFrame, numbers: str) -> go.Figure:
    return willis_figure(_table)


def _fmt(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3f}"


def stage1_summary(result: CaseResult) -> None:
    """Patient score against its threshold, the two circulation means, and the gate."""
    g = result.gate
    name = active.threshold_set if (active := active_bundle()) else "?"  # decided the flags
    st.caption(f"Threshold set: **{plain(name)}** — {plain(result.thresholds.rule)}")
    c1, c2, c3, c4 = st.columns([1.2, 1, 1, 2.4])
    delta = (
        None if g.patient_score is None else f"{g.patient_score - g.threshold:+.3f} vs threshold"
    )
    c1.metric(
        "Aneurysm probability",
        _fmt(g.patient_score),
        delta,
        delta_color="inverse",
        help="Patient score = max of the two circulation means (the original rule).",
    )
    c2.metric("Anterior mean (I views)", _fmt(g.anterior_mean))
    c3.metric("Posterior mean (V views)", _fmt(g.posterior_mean))
    with c4:
        if g.positive:
            st.error(
                f"**Stage 1 positive.** {g.reason}. Locations decided by stage 2.",
                icon=":material/error:",
            )
        else:
            st.info(
                f"**Stage 1 negative.** {g.reason}. All 21 locations are gated to 0.",
                icon=":material/do_not_disturb_on:",
            )
    if g.patient_score is not None:
        st.plotly_chart(
            _stage1_bars(g.patient_score, g.threshold, g.anterior_mean, g.posterior_mean),
            config={"displayModeBar": False},
            key="stage1_chart",
        )


def _with_truth(table: pd.DataFrame, case: Case) -> pd.DataFrame:
    if case.labels is None:
        return table
    return table.assign(truth=[case.labels.get(c) for c in table["location"]])


def location_panel(result: CaseResult, case: Case) -> pd.DataFrame:
    """Bar chart and schematic side by side, then the table; returns the table shown."""
    table = location_table(result)
    numbers = table.to_json(orient="split", double_precision=15)  # the figures' cache key
    left, right = st.columns([1.25, 1])
    with left:
        st.markdown(
            "**21 locations** — probability, with each location's threshold as a white tick"
        )
        st.plotly_chart(
            _location_bars(table, numbers), config={"displayModeBar": False}, key="location_chart"
        )
    with right:
        st.markdown(
            "**Circle of Willis** — radiological view from below (patient's right on the left)"
        )
        st.plotly_chart(
            _willis_figure(table, numbers), config={"displayModeBar": False}, key="willis_chart"
        )
    shown = _with_truth(table, case)
    shown = shown.assign(status=shown["status"].map(STATUS_LABELS))
    columns = ["label", "probability", "threshold", "decision", "status", "reason"]
    if "truth" in shown:
        columns.insert(4, "truth")
    st.dataframe(
        shown[columns],
        hide_index=True,
        key="location_table",
        height=36 + 35 * 8,
        column_config={
            "label": st.column_config.TextColumn("location"),
            "probability": st.column_config.ProgressColumn(
                "probability", min_value=0.0, max_value=1.0, format="%.3f"
            ),
            "threshold": st.column_config.NumberColumn("threshold", format="%.3f"),
            "decision": st.column_config.NumberColumn(
                "decision", help="1 = aneurysm at this location"
            ),
            "truth": st.column_config.NumberColumn("truth", help="label from the case's train.csv"),
            "reason": st.column_config.TextColumn("reason", width="large"),
        },
    )
    return table
