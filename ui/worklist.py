"""The worklist: the configured PACS endpoints, the study search, the table to pick from.

Endpoints come from the operator's ``pacs.toml`` (:mod:`core.pacs.config`) and nothing
else: the reader picks one by name, never types a URL, and the app never edits the file,
so an administrator changes the list there (this panel shows admins where it is). Patient
name and ID are columns only when the file turns ``show_patient_identifiers`` on; they are
never logged (the query logs a count) and never leave this table.

Search results are kept in session state, so picking a row (a rerun) does not search again.
"""

from __future__ import annotations

import logging
from datetime import date

import pandas as pd
import streamlit as st

from core.pacs.config import CONFIG_ENV, Endpoint, PacsConfig, config_path, load_config
from core.pacs.errors import PacsConfigError, PacsError
from core.pacs.query import MAX_RESULTS, StudyRow, query
from ui.auth import may
from ui.text import code, plain
from ui.worklist_errors import show_pacs_error
from ui.worklist_session import CONFIGURES_PACS

__all__ = ["MODALITIES", "endpoint_choice", "search_form", "study_table", "worklist_config"]

log = logging.getLogger(__name__)

#: The modality filter's choices: the studies' own (XA: aneurysm; CR, DX: chest).
MODALITIES = ("any", "XA", "CR", "DX")
_ROWS = "pacs_rows"
_EXAMPLE = """show_patient_identifiers = false

[[endpoint]]
name = "main"
url = "https://pacs.example.org/dicom-web"
auth = "basic"                   # none | basic | bearer
username_env = "PACS_MAIN_USER"  # credentials from the environment (or a secrets file)
password_env = "PACS_MAIN_PASSWORD"
"""


def _where_configured() -> None:
    """Admins: where the endpoint list lives and that it is edited there, not here."""
    if may(CONFIGURES_PACS):
        st.caption(
            f"Endpoints are read from {code(config_path())} (set {code(CONFIG_ENV)} to use "
            "another file). The app never edits it: change the list there; it is read again "
            "on every page run."
        )
    else:
        st.caption("The PACS endpoints are set by an administrator.")


def worklist_config() -> PacsConfig | None:
    """The endpoint file, or None after saying why there is none (and how to write one)."""
    path = config_path()
    if not path.is_file():
        st.info("**No PACS is configured.** Studies can still be uploaded on the case pages.")
        if may(CONFIGURES_PACS):
            st.markdown(
                f"To work from a PACS, write its DICOMweb endpoints to {code(path)} "
                f"(or point {code(CONFIG_ENV)} at such a file), for example:"
            )
            st.code(_EXAMPLE, language="toml")
            st.caption("Credentials never go in this file: see the README's PACS section.")
        else:
            st.markdown("Ask an administrator to configure one.")
        return None
    try:
        config = load_config(path)
    except PacsConfigError as err:
        st.error(f"The PACS configuration cannot be used: {plain(err)}")
        _where_configured()
        return None
    if not config.endpoints:
        st.info("The PACS configuration lists no endpoint.")
        _where_configured()
        return None
    _where_configured()
    return config


def endpoint_choice(config: PacsConfig) -> Endpoint:
    """The configured endpoint the reader picks (by name; never a typed URL)."""
    names = sorted(config.endpoints)
    name = st.selectbox("PACS", names, key="pacs_endpoint")
    return config.endpoints[name or names[0]]


def _date_range(picked: object) -> str | None:
    """The date input's value as QIDO's ``YYYYMMDD-YYYYMMDD`` (None: any date)."""
    given = picked if isinstance(picked, (list, tuple)) else [picked]
    days = [d for d in given if isinstance(d, date)]
    return f"{days[0]:%Y%m%d}-{days[-1]:%Y%m%d}" if days else None


def search_form(endpoint: Endpoint, show_identifiers: bool) -> list[StudyRow] | None:
    """Date range, modality and accession number; the studies found on ``endpoint`` (kept
    for this session until the next search), or None before any search."""
    with st.form("pacs_search", border=True):
        left, mid, right = st.columns(3)
        days = left.date_input(
            "Study date (from, to; empty: any)", value=[], format="YYYY-MM-DD", key="pacs_dates"
        )
        modality = mid.selectbox("Modality", MODALITIES, key="pacs_modality")
        accession = right.text_input("Accession number", max_chars=16, key="pacs_accession")
        searched = st.form_submit_button("Search", type="primary")
    if searched:
        st.session_state.pop(_ROWS, None)
        try:
            with st.spinner(f"Searching {plain(endpoint.shown)}…"):
                rows = query(
                    endpoint,
                    date_range=_date_range(days),
                    modality=None if modality == "any" else modality,
                    accession=accession.strip() or None,
                    show_identifiers=show_identifiers,
                )
        except PacsError as err:
            show_pacs_error(err)
            return None
        st.session_state[_ROWS] = (endpoint.name, rows)
    kept = st.session_state.get(_ROWS)
    if not kept or kept[0] != endpoint.name:
        return None
    return kept[1]


def _frame(rows: list[StudyRow], show_identifiers: bool) -> pd.DataFrame:
    data = {
        "accession": [r.accession for r in rows],
        "study date": [f"{r.study_date[:4]}-{r.study_date[4:6]}-{r.study_date[6:]}"
                       if len(r.study_date) == 8 else r.study_date for r in rows],
        "modality": [", ".join(r.modalities) for r in rows],
        "description": [r.description for r in rows],
        "series": [r.series_count for r in rows],
    }  # fmt: skip
    if show_identifiers:
        data["patient name"] = [(r.patient_name or "").replace("^", " ").strip() for r in rows]
        data["patient ID"] = [r.patient_id or "" for r in rows]
    return pd.DataFrame(data)


def study_table(rows: list[StudyRow], show_identifiers: bool) -> StudyRow | None:
    """The studies as a table with single-row selection; the picked study, or None."""
    if not rows:
        st.info("No study matches this search.")
        return None
    more = " (the most one search returns: narrow it)" if len(rows) >= MAX_RESULTS else ""
    st.caption(f"{len(rows)} studies{more}, newest first. Pick one to review.")
    event = st.dataframe(
        _frame(rows, show_identifiers),
        hide_index=True,
        key="pacs_table",
        on_select="rerun",
        selection_mode="single-row",
    )
    picked = event.selection.rows if event is not None else []
    return rows[picked[0]] if picked and picked[0] < len(rows) else None
