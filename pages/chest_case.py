"""Film review: one chest film in; boxes, the normal/abnormal summary, heatmaps, verdicts
and exports out.

A straight-line page: collect the film, guard with ``st.stop()``, call ``core`` through
the cached steps of :mod:`ui.chest.case_compute`, render. Display controls (window,
thresholds, toggles, heatmap opacity) only re-draw: results and heatmaps are cached.
Opening a film and running a bundle on it are audited once per content hash per session.
"""

from dataclasses import replace

import streamlit as st

from core.review.reviewed import ExportContext, ReviewedCase
from core.studies.chest.review.reviewed import film_review
from core.verdicts import AuditAction, TargetKind
from ui.audit import audit_once
from ui.auth import page_guard
from ui.bundle import active_bundle, offer_demo_build
from ui.chest.case_compute import film_result, film_truth_of
from ui.chest.case_export import export_panel
from ui.chest.case_findings import film_summary, findings_panel
from ui.chest.case_heatmaps import heatmap_controls
from ui.chest.case_intake import film_intake, show_film_problems
from ui.chest.case_verdicts import verdict_form
from ui.chest.case_viewer import film_thresholds, film_viewer, truth_controls, window_controls
from ui.pacs_send import pacs_send_panel
from ui.text import plain
from ui.verdict_panel import stored_verdicts

page_guard(__file__)  # sign-in and role, also where app.py did not run
active = active_bundle("chest")
st.title("Film review")
if active is None:
    offer_demo_build("chest")
elif active.identity.notice:
    st.warning(active.identity.notice, icon=":material/warning:")

given = film_intake()
if given is None:
    st.info("Upload one chest film (DICOM, PNG or JPEG), or open a sample film.")
    st.stop()

case, film = given.case, given.film
st.subheader(f"Film {plain(case.case_id)}")
show_film_problems(case)
if film is None:
    st.error("No usable film, so there is nothing to analyse. Upload another file.")
    st.stop()
audit_once(AuditAction.OPEN_CASE, TargetKind.CASE, case.content_hash())
if active is None:
    st.info("No chest model bundle is loaded. Choose or build one in the sidebar.")
    st.stop()

try:
    with st.spinner("Running the chest models…"):
        result = film_result(active.bundle, case, film)
except (ValueError, RuntimeError) as err:
    st.error(f"The models could not run on this film: {plain(err)}")
    st.stop()
audit_once(
    AuditAction.RUN_BUNDLE,
    TargetKind.CASE,
    case.content_hash(),
    {"bundle": active.bundle.manifest_sha256, "bundle_name": active.identity.name},
)
result = film_thresholds(result, active.thresholds, active.threshold_set)  # no model runs

st.subheader("Summary")
film_summary(result)

st.subheader("Film")
controls, picture = st.columns([1, 3], gap="medium")
with controls:
    window, display = window_controls(film)
    truth = film_truth_of(given.cohort_dir, given.image_id)
    readers, fused = truth_controls(truth)
    heat, heat_req, opacity = heatmap_controls(active.bundle, film, result)
with picture:
    film_viewer(result, film, display, (truth, readers, fused), heat, opacity, given.focus)

st.subheader("Findings")
findings_panel(result, film)

ctx = ExportContext(active.threshold_set, active.identity.training_data, active.identity.notice)
reviewed = ReviewedCase(case, {}, result, ctx)
review = replace(
    film_review(reviewed, film, window, display), heat=heat, heat_request=heat_req, opacity=opacity
)

st.subheader("Reviewer verdicts")
verdict_form(reviewed, film.original_size)
stored_verdicts(case.content_hash(), "chest_stored_verdicts")

st.subheader("Export")
export_panel(review)
pacs_send_panel(reviewed, active.bundle)  # only for a study opened from the PACS worklist
