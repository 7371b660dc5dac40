"""Timings and downloads on the case page: JSON, CSV, the HTML report and its PDF.

Downloads are deferred callables: the files are built when a button is clicked, not on
every rerun (the PDF takes a second or two), and they read the one reviewed-case record,
heatmaps as shown included. Where the PDF renderer cannot run, its button is a line
saying what to install; the other downloads are unaffected.
"""

from __future__ import annotations

import streamlit as st

from core.case import Case
from core.review.export import export_csv, export_json, pdf_report
from core.review.pdf import pdf_unavailable
from core.review.report import html_report
from core.review.reviewed import ReviewedCase, case_result
from core.review.table import timing_table

__all__ = ["export_panel"]


def _file_stem(case: Case) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in case.case_id)
    return f"case_{safe[:60]}"


def export_panel(reviewed: ReviewedCase) -> None:
    """Timing table with the device beside the four downloads."""
    result = case_result(reviewed, "the case page's timings")
    left, right = st.columns([1, 1.4], gap="large")
    with left:
        st.markdown(f"**Timings** on `{result.timings.device}`")
        st.dataframe(
            timing_table(result, reviewed.cam_ms).drop(columns=["device"]),
            hide_index=True,
            column_config={"ms": st.column_config.NumberColumn("ms", format="%.1f")},
            key="timings",
        )
        if result.timings.fused_stage1_cam:
            st.caption(
                "Stage 1 and its heatmaps share one forward pass: "
                "stage 1 includes the CAM backward."
            )

    stem = _file_stem(reviewed.case)
    right.markdown("**Export**")
    right.caption(
        "All numbers as JSON or CSV, and a report (HTML, or PDF to print) with the views, "
        "the heatmaps as shown, the tables, the bundle identity and the timings."
    )
    c1, c2, c3, c4 = right.columns(4)
    c1.download_button(
        "Numbers (JSON)",
        lambda: export_json(reviewed),
        f"{stem}.json",
        "application/json",
        key="dl_json",
        icon=":material/download:",
        on_click="ignore",
    )
    c2.download_button(
        "Numbers (CSV)",
        lambda: export_csv(reviewed),
        f"{stem}.csv",
        "text/csv",
        key="dl_csv",
        icon=":material/download:",
        on_click="ignore",
    )
    c3.download_button(
        "Report (HTML)",
        lambda: html_report(reviewed),
        f"{stem}.html",
        "text/html",
        key="dl_html",
        icon=":material/description:",
        on_click="ignore",
        type="primary",
    )
    if (no_pdf := pdf_unavailable()) is not None:
        c4.caption(no_pdf)
    else:
        c4.download_button(
            "Report (PDF)",
            lambda: pdf_report(reviewed),
            f"{stem}.pdf",
            "application/pdf",
            key="dl_pdf",
            icon=":material/picture_as_pdf:",
            on_click="ignore",
        )
