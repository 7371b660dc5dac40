"""The film's summary (normal/abnormal, what the classifier rule did) and its findings
table (class, score, threshold, decision, box, size in mm when the spacing is known)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.studies.chest.film import Film
from core.studies.chest.review.result import ChestResult, no_finding_score, rule_changes
from core.studies.chest.review.table import findings_table

__all__ = ["film_summary", "findings_panel"]


def film_summary(result: ChestResult) -> None:
    """Metrics and the rule's action, with the before/after score of each box it changed."""
    out = result.output
    flagged = sum(f.decision for f in result.box_findings)
    c1, c2, c3 = st.columns(3)
    c1.metric("P(abnormal)", "n/a" if out.p_abnormal is None else f"{out.p_abnormal:.3f}")
    c2.metric("No finding score", f"{no_finding_score(out):.3f}")
    c3.metric("Boxes flagged", f"{flagged} of {len(result.box_findings)}")
    st.caption(f"Classifier rule: {out.action}.")
    changes = rule_changes(out)
    if changes:
        st.dataframe(
            pd.DataFrame(
                [(c.label, *(round(v) for v in c.box), c.before, c.after) for c in changes],
                columns=["class", "x0", "y0", "x1", "y1", "before rule", "after rule"],
            ),
            hide_index=True,
            key="chest_rule_changes",
        )


def findings_panel(result: ChestResult, film: Film) -> None:
    """The findings table; mm columns say "unknown" spacing in the caption."""
    table = findings_table(result.findings, film.pixel_spacing)
    st.dataframe(table.drop(columns="finding"), hide_index=True, key="chest_findings")
    st.caption(f"Pixel spacing: {film.spacing_text}. Boxes in original pixels.")
