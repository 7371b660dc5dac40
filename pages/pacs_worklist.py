"""PACS worklist: search a configured PACS, retrieve a study, check its mapping, open it.

A straight-line page: the endpoint file, the search, the pick, the study type and its
bundle, the retrieval, the mapping, the hand-over to the case page (:mod:`ui.worklist`,
:mod:`ui.worklist_review`). Every failure is one message and the page goes on.
"""

import streamlit as st

from ui.auth import page_guard
from ui.bundle import active_bundle, offer_demo_build
from ui.worklist import endpoint_choice, search_form, study_table, worklist_config
from ui.worklist_review import mapping_panel, open_panel, retrieve_panel, study_choice

page_guard(__file__)  # sign-in and role, also where app.py did not run
st.title("PACS worklist")
config = worklist_config()
if config is None:
    st.stop()

endpoint = endpoint_choice(config)
rows = search_form(endpoint, config.show_patient_identifiers)
if rows is None:
    st.info("Search the PACS by study date, modality or accession number.")
    st.stop()
row = study_table(rows, config.show_patient_identifiers)
if row is None:
    st.stop()

study = study_choice(row)
active = active_bundle(study)
if active is None:
    offer_demo_build(study)
    st.info("No model bundle of this study type is loaded. Choose or build one in the sidebar.")
    st.stop()
review = retrieve_panel(endpoint, row, active)
if review is None:
    st.stop()
review = mapping_panel(review)
open_panel(review)
