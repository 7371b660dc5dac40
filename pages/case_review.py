"""Case review: one patient's views in; probabilities, locations and heatmaps out.

A straight-line page: collect the case, guard with ``st.stop()``, call ``core`` through
the cached steps in :mod:`ui.compute`, render. The heatmap controls run as a fragment.
Opening a case and running a bundle on it go to the audit trail (:mod:`ui.audit`), once per
case content hash (and bundle) per session.
"""

import streamlit as st

from core.review.reviewed import ExportContext, ReviewedCase
from core.verdicts import AuditAction, TargetKind
from ui.audit import audit_once
from ui.auth import page_guard
from ui.bundle import TRAINING_SET, active_bundle, offer_demo_build
from ui.compute import case_key, case_result, clean_views
from ui.heatmap_panel import heatmaps_and_export
from ui.intake_panel import file_assignments, intake_panel, show_problems, view_grid_frame
from ui.pacs_send import pacs_send_panel
from ui.preprocess_panel import preprocess_panel
from ui.results_panel import location_panel, stage1_summary
from ui.text import plain
from ui.verdict_panel import verdict_panel

page_guard(__file__)  # sign-in and role, also where app.py did not run
active = active_bundle()
st.title("Case review")
if active is None:
    offer_demo_build()
elif active.identity.notice:
    st.warning(active.identity.notice, icon=":material/warning:")

case = intake_panel()
if case is None:
    st.info("Upload a patient's eight views (or a zip of them), or open a sample case.")
    st.stop()

st.subheader(f"Case {plain(case.case_id)}")
show_problems(case)
if not case.views:
    st.error("No view of this case could be used, so there is nothing to analyse.")
    st.stop()
case_hash = case.content_hash()
audit_once(AuditAction.OPEN_CASE, TargetKind.CASE, case_hash)
st.dataframe(view_grid_frame(case), key="view_grid")
file_assignments(case)

try:
    clean, preprocess_ms = clean_views(
        case, case_hash, active.bundle if active is not None else None
    )
except ValueError as err:
    st.error(f"Preprocessing failed: {err}")
    st.stop()
preprocessing = st.expander(
    "Preprocessing: crop and masked text on each view", key="preprocess_open", on_change="rerun"
)
if preprocessing.open:  # drawn only when opened: ~40 ms of every new case otherwise
    with preprocessing:
        preprocess_panel(case, clean, case_hash)

if active is None:
    st.info(
        "No model bundle is loaded, so there are no results yet. "
        "Choose or build one in the sidebar."
    )
    st.stop()

try:
    with st.spinner("Running the two-stage models and stage-1 heatmaps…"):
        result = case_result(
            active.bundle,
            case,
            clean,
            preprocess_ms,
            case_key(case, case_hash),
            active.bundle.manifest_sha256,
            case_hash,
        )
except (ValueError, RuntimeError) as err:
    st.error(f"The models could not run on this case: {err}")
    st.stop()
audit_once(
    AuditAction.RUN_BUNDLE,
    TargetKind.CASE,
    case_hash,
    {"bundle": active.bundle.manifest_sha256, "bundle_name": active.identity.name},
)
if active.threshold_set != TRAINING_SET:
    result = result.with_thresholds(active.thresholds)  # decisions only; no model runs

st.subheader("Results")
stage1_summary(result)
location_panel(result, case)

ctx = ExportContext(active.threshold_set, active.identity.training_data, active.identity.notice)
reviewed = ReviewedCase(case, clean, result, ctx)


heatmaps_and_export(active.bundle, reviewed)  # a fragment: its controls rerun it alone

st.subheader("Reviewer verdict")
verdict_panel(reviewed)
pacs_send_panel(reviewed, active.bundle)  # only for a study opened from the PACS worklist
