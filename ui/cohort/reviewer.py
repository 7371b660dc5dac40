"""Model versus reviewer on the cohort page, and the verdicts as a CSV download.

Verdicts are matched to the cohort by case content hash (the table's ``case_hash``), so
only reviews of these very images count. Agreement is shown twice: against the decision the
reviewer saw when judging, and against the decisions at the what-if thresholds, which shows
whether a threshold change would have agreed with reviewers more often.
"""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from core.cohort.whatif import WhatIf
from core.verdicts import VerdictStore, VerdictStoreError, agreement_stats
from core.verdicts.export import write_csv

__all__ = ["verdict_store", "reviewer_panel"]

_RATE = {"agree_rate": st.column_config.NumberColumn("agree rate", format="%.2f")}
#: The study whose verdicts this page compares (the cohort table and what-if are aneurysm's).
_STUDY = "aneurysm"


@st.cache_resource(show_spinner=False)
def verdict_store() -> VerdictStore:
    """One store per process: it is thread-safe and holds the connection pool."""
    return VerdictStore.open()


def reviewer_panel(table: pd.DataFrame, result: WhatIf) -> None:
    try:
        verdicts = verdict_store().all_latest()
    except VerdictStoreError as err:
        st.warning(f"Reviewer verdicts are unavailable: {err}")
        return
    mine = verdicts[verdicts["case_hash"].isin(set(table["case_hash"]))]
    buf = io.StringIO()
    n = write_csv(mine, buf)
    st.download_button(
        f"Download this cohort's verdicts as CSV ({n} rows)",
        buf.getvalue().encode(),
        file_name="cohort_verdicts.csv",
        mime="text/csv",
        key="cohort_verdicts_csv",
    )
    if mine.empty:
        st.info(
            "No reviewer has judged a case of this cohort yet. Verdicts saved on the case "
            "review page appear here."
        )
        return
    st.caption(
        f"{mine['case_hash'].nunique()} cases reviewed by {mine['reviewer'].nunique()} "
        f"reviewer(s), {len(mine)} current verdicts."
    )
    decisions = result.decisions.drop(columns="Index").set_index(table["case_hash"].to_numpy())
    left, right = st.columns(2)
    left.markdown("**Against the decision the reviewer saw**")
    left.dataframe(
        _reviewed(agreement_stats(mine, study=_STUDY)),
        column_config=_RATE,
        key="cohort_agree_seen",
    )
    right.markdown("**Against the decisions at the current thresholds**")
    right.dataframe(
        _reviewed(agreement_stats(mine, decisions, study=_STUDY)),
        column_config=_RATE,
        key="cohort_agree_now",
    )


def _reviewed(stats: pd.DataFrame) -> pd.DataFrame:
    """Only findings someone reviewed: 22 rows of zeros would bury the few that matter."""
    return stats[stats["reviewed"] > 0]
