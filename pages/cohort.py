"""Cohort analysis: batch predictions on a labelled cohort, metrics, curves and error lists,
with a live threshold what-if that never runs a model.

Everything below the cohort picker is one ``st.fragment``: moving a slider reruns only the
what-if, which recomputes decisions and metrics from the cached prediction table.
"""

import streamlit as st

from core.cohort.whatif import what_if
from ui.auth import page_guard
from ui.cohort import controls, errors, panels, reviewer, source
from ui.eda import aneurysm_eda_panel

page_guard(__file__)  # sign-in and role, also where app.py did not run
st.title("Cohort analysis")
st.caption(
    "Run a bundle on a labelled K-Ium cohort once, then read its metrics, try other "
    "thresholds live, and open any error on the case page with its heatmaps."
)

picked = source.pick_source()
if picked is None:
    st.stop()
table = source.cached_table(picked)
if table is None:
    source.offer_batch(picked)
    st.stop()
n_boot = source.settings(picked, table)
intervals = source.intervals(picked, table, n_boot)
groups = source.bundle_groups(picked.bundle_dir)
rankings = source.rankings(picked.key.name, table)


@st.fragment
def what_if_section() -> None:
    controls.init_thresholds(picked.bundle_dir, f"{picked.key.name}@{picked.bundle_dir}")
    left, right = st.columns([1, 3], gap="large")
    with left:
        st.subheader("Thresholds")
        controls.source_picker(picked.bundle_dir, table)
        controls.threshold_sliders(groups)
    thresholds = controls.current_thresholds()
    result = what_if(table, thresholds, rankings)
    with right:
        panels.headline(result, intervals)
        panels.threshold_caption(thresholds)
        panels.threshold_sets(table, picked.bundle_dir, thresholds)
        curves, locs, errs, point, review, save, dataset = st.tabs(
            [
                "Curves",
                "Locations",
                "Errors",
                "Pointing game",
                "Model vs reviewer",
                "Save thresholds",
                "Dataset",
            ]
        )
        with curves:
            panels.curves(table, result, intervals)
        with locs:
            panels.locations(result, intervals)
        with errs:
            errors.error_lists(table, thresholds, picked.cohort_dir)
        with point:
            panels.pointing(table, picked.cohort_dir)
        with review:
            reviewer.reviewer_panel(table, result)
        with save:
            controls.save_form(picked.bundle_dir, thresholds)
        with dataset:
            aneurysm_eda_panel(picked.cohort_dir)


what_if_section()
