"""Error lists of the cohort page, and opening a listed patient on the case review page.

Selecting a row writes the hand-over keys documented in :mod:`core.cohort` and switches to
the case page at once. The switch happens only when the selection *changes*, so coming
back to this page with a row still selected does not bounce the user away again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.cohort import (
    OPEN_CASE_DIR,
    OPEN_CASE_FOCUS,
    OPEN_CASE_ID,
    OPEN_CASE_INDEX,
    OPEN_CASE_THRESHOLDS,
)
from core.cohort.errors import location_errors, patient_errors
from core.models.thresholds import Thresholds
from core.schema import LOCATIONS

__all__ = ["CASE_PAGE", "error_lists"]

CASE_PAGE = "pages/case_review.py"
_FORMATS = {
    c: st.column_config.NumberColumn(format="%.3f") for c in ("threshold", "margin", "probability")
}
_FORMATS["score"] = st.column_config.NumberColumn("patient score", format="%.3f")


def _open(row: pd.Series, handover: dict[str, Any]) -> None:
    """Hand the patient and the what-if thresholds to the case page, and go there."""
    st.session_state[OPEN_CASE_DIR] = handover["dir"]
    st.session_state[OPEN_CASE_INDEX] = int(row["Index"])
    st.session_state[OPEN_CASE_ID] = str(row["case_id"])
    st.session_state[OPEN_CASE_FOCUS] = str(row.get("location", "Aneurysm"))
    st.session_state[OPEN_CASE_THRESHOLDS] = handover["thresholds"]
    st.switch_page(CASE_PAGE)


def _table(
    frame: pd.DataFrame, key: str, handover: dict[str, Any], empty: str, hide: tuple[str, ...]
) -> None:
    """A selectable error list; hidden columns still reach the hand-over."""
    if frame.empty:
        st.caption(empty)
        return
    event = st.dataframe(
        frame,
        hide_index=True,
        key=key,
        on_select="rerun",
        selection_mode="single-row",
        column_config=_FORMATS,
        column_order=[c for c in frame.columns if c not in hide],
        height=min(38 + 35 * len(frame), 320),
    )
    rows = [r for r in event.selection.rows if r < len(frame)]
    seen = f"{key}__opened"
    if not rows:
        st.session_state.pop(seen, None)
        return
    row = frame.iloc[rows[0]]
    token = (int(row["Index"]), str(row.get("location", "")))
    if st.session_state.get(seen) != token:
        st.session_state[seen] = token
        _open(row, handover)


def error_lists(table: pd.DataFrame, thresholds: Thresholds, cohort_dir: Path) -> None:
    """Patient-level FN/FP side by side, then one location's (or every location's)."""
    handover = {"dir": str(cohort_dir), "thresholds": thresholds.to_dict()}
    st.caption(
        "Most confident errors first. Select a row to open that patient on the case "
        "review page with its heatmaps, at these thresholds."
    )
    patients = patient_errors(table, thresholds)
    left, right = st.columns(2)
    for col, kind, title in (
        (left, "FN", "False negatives (missed aneurysms)"),
        (right, "FP", "False positives (false alarms)"),
    ):
        hide = ("kind", "case_id", "threshold") + (("true_locations",) if kind == "FP" else ())
        sub = patients[patients["kind"] == kind]
        col.markdown(f"**{title}: {len(sub)}**")
        with col:
            _table(sub, f"cohort_err_{kind}", handover, "None at this threshold.", hide)
    choice = st.selectbox(
        "Location errors for", ["all locations", *LOCATIONS], key="cohort_err_location"
    )
    locs = location_errors(table, thresholds, None if choice == "all locations" else choice)
    n_fn, n_fp = int((locs["kind"] == "FN").sum()), int((locs["kind"] == "FP").sum())
    n_gated = int(locs["gated"].sum())
    st.markdown(
        f"**{n_fn} false negatives ({n_gated} only because stage 1 gated the patient out), "
        f"{n_fp} false positives**"
    )
    _table(
        locs,
        "cohort_err_locations",
        handover,
        "No location errors at these thresholds.",
        ("case_id",),
    )
