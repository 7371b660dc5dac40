"""Detection errors: a chest bundle (detector or ensemble) on a labelled VinBigData folder,
scored with the competition's mAP@0.4, with a live what-if (class thresholds, WBF settings,
classifier rule) that never runs a model, and error galleries that open the film.

Everything below the folder picker is one ``st.fragment``: a control reruns only the
what-if, which reads memoised fusion + matching and recounts.
"""

import streamlit as st

from core.studies.chest.cohort.curves import froc_summary
from core.studies.chest.cohort.whatif import apply_thresholds
from ui.auth import page_guard
from ui.chest import cohort_controls as controls
from ui.chest import cohort_galleries, cohort_panels, cohort_source
from ui.text import plain

page_guard(__file__)  # sign-in and role, also where app.py did not run
st.title("Detection errors")
st.caption(
    "Run a chest bundle on a labelled VinBigData folder once, then read mAP@0.4 and its "
    "errors, try other thresholds, fusion settings and the classifier rule live, and open "
    "any error on the film-review page."
)

picked = cohort_source.pick_source()
if picked is None:
    st.stop()
data = cohort_source.cohort(picked)
if data is None:
    cohort_source.offer_batch(picked)
    st.stop()
cohort_source.cache_panel(picked, data)
cohort_source.failures_note(data)


@st.fragment
def what_if_section() -> None:
    controls.init_thresholds(picked.bundle_dir, picked.key.name)
    left, right = st.columns([1, 3], gap="large")
    with left:
        st.subheader("What-if")
        fusion, rule_on = controls.fusion_controls(data)
        n_boot = int(st.selectbox("Bootstrap resamples", [200, 1000], key="cc_n_boot"))
        controls.set_picker(picked.bundle_dir)
        controls.threshold_sliders()
    thresholds = controls.current_thresholds()
    with st.spinner("Fusing and matching every film (once per setting)…"):
        scored = cohort_source.scored(picked, data, fusion, rule_on)
        interval = cohort_source.interval(picked, scored, n_boot)
        froc_curve = cohort_source.froc(picked, scored)
    result = apply_thresholds(scored, thresholds)
    froc = froc_summary(froc_curve)
    with right:
        cohort_panels.headline(result, interval, froc)
        st.caption(f"Thresholds: {plain(thresholds.rule)} — by {plain(thresholds.author)}.")
        tabs = st.tabs(["Classes", "Curves", "Size & FROC", "Readers", "Errors",
                        "Augmentation study", "Dataset", "Save thresholds"])  # fmt: skip
        with tabs[0]:
            cohort_panels.by_class(result)
        with tabs[1]:
            cohort_panels.curves(scored, result)
        with tabs[2]:
            cohort_panels.sizes_and_froc(result, froc_curve, froc)
        with tabs[3]:
            readers, model = cohort_source.agreement_inputs(picked, data, scored)
            cohort_panels.agreement(readers, model, result)
        with tabs[4]:
            cohort_galleries.galleries(scored, result, picked.cohort_dir, thresholds)
        with tabs[5]:
            cohort_panels.study(picked.bundle_dir)
        with tabs[6]:
            cohort_panels.dataset(picked.cohort_dir)
        with tabs[7]:
            controls.save_form(picked.bundle_dir, thresholds)


what_if_section()
