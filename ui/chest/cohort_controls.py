"""What-if controls of the chest cohort page: where the 15 class thresholds start, their
sliders, the ensemble's WBF settings, the classifier rule on/off, and saving a set.

All values live in this session's state (``cc_thr_<class id>``, ``cc_wbf_iou``,
``cc_wbf_skip``, ``cc_rule``), so one user's what-if never moves another's. ``cc_base``
is the set the sliders were last loaded from; loading happens in button callbacks, which
run before the sliders are drawn (Streamlit forbids writing a drawn widget's state).
Slider values are also kept under ``cc_values`` (not a widget key), so a visit to another
page does not lose them. Names, authors and rules of saved sets are shown as typed.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.models.threshold_sets import (
    ORIGINAL,
    list_threshold_sets,
    load_threshold_set,
)
from core.models.thresholds import Thresholds, ThresholdsError
from core.studies.chest.classes import ALL_LABELS
from core.studies.chest.cohort.api import CohortData
from core.studies.chest.cohort.whatif import hand_tuned
from core.studies.chest.ensemble import EnsembleSettings
from ui import threshold_form
from ui.bundle import TRAINING_SET, active_bundle
from ui.text import plain

__all__ = ["current_thresholds", "fusion_controls", "init_thresholds", "save_form",
           "set_picker", "threshold_sliders"]  # fmt: skip


def _key(class_id: int) -> str:
    return f"cc_thr_{class_id}"


def _load(thresholds: Thresholds) -> None:
    for c, name in enumerate(ALL_LABELS):
        st.session_state[_key(c)] = float(thresholds.labels.get(name, 0.0))
    st.session_state["cc_base"] = thresholds.to_dict()


def init_thresholds(bundle_dir: Path, table_id: str) -> None:
    """Start at the sidebar's chest threshold set when a new table opens; restore the
    values after a visit to another page."""
    if st.session_state.get("cc_for") == table_id:
        kept = st.session_state.get("cc_values")
        if _key(0) not in st.session_state and kept is not None:
            for key, value in kept.items():
                st.session_state[key] = value
        return
    active = active_bundle("chest")
    if active is not None and active.bundle.path == bundle_dir.resolve():
        _load(active.thresholds)
    else:  # no sidebar (a bare page run) or its bundle failed to load
        _load(load_threshold_set(bundle_dir, ORIGINAL))
    st.session_state["cc_for"] = table_id


def _apply(bundle_dir: Path) -> None:
    choice = st.session_state["cc_source"]
    try:
        _load(load_threshold_set(bundle_dir, choice))
    except ThresholdsError as err:
        st.session_state["cc_error"] = f"Threshold set {plain(choice)} cannot be used: {plain(err)}"


def set_picker(bundle_dir: Path) -> None:
    """Pick the bundle's own set or a saved one, and load it into the sliders."""
    label = {ORIGINAL: f"Bundle as trained ({TRAINING_SET})"}
    st.selectbox("Start from", list_threshold_sets(bundle_dir), key="cc_source",
                 format_func=lambda n: label.get(n, f"Saved set: {n}"))  # fmt: skip
    st.button("Load these values into the sliders", on_click=_apply, args=(bundle_dir,),
              key="cc_apply", width="stretch")  # fmt: skip
    if "cc_error" in st.session_state:
        st.error(st.session_state.pop("cc_error"))


def threshold_sliders() -> None:
    """One score threshold per class: boxes scoring below it are dropped."""
    with st.expander("Class thresholds (15)", expanded=True):
        for c, name in enumerate(ALL_LABELS):
            st.slider(name, 0.0, 1.0, step=0.01, format="%.2f", key=_key(c))


def current_thresholds() -> Thresholds:
    """The base set while no slider moved, else a hand-tuned copy naming its origin."""
    base = Thresholds.from_dict(st.session_state["cc_base"])
    values = {name: float(st.session_state[_key(c)]) for c, name in enumerate(ALL_LABELS)}
    st.session_state["cc_values"] = {_key(c): values[n] for c, n in enumerate(ALL_LABELS)}
    return hand_tuned(base, values, author="what-if (unsaved)")


def fusion_controls(data: CohortData) -> tuple[EnsembleSettings, bool]:
    """WBF IoU and skip threshold (ensembles of several detectors) and the classifier rule
    on/off (bundles with a classifier); the current settings and whether the rule is on."""
    several = len(data.detectors) > 1
    st.session_state.setdefault("cc_wbf_iou", float(data.fusion.iou_thr))
    st.session_state.setdefault("cc_wbf_skip", float(data.fusion.skip_box_thr))
    st.slider("WBF IoU", 0.1, 0.9, step=0.05, format="%.2f", key="cc_wbf_iou", disabled=not several,
              help="Boxes of one class from different members that overlap above this merge.")  # fmt: skip
    st.number_input("WBF skip threshold", 0.0, 0.5, step=0.01, format="%.4f", key="cc_wbf_skip",
                    disabled=not several, help="Member boxes scoring below this are ignored.")  # fmt: skip
    if not several:
        st.caption(f"One detector ({plain(', '.join(data.detectors) or 'none')}): nothing to fuse.")
    rule_on = st.toggle("Classifier rule", value=True, key="cc_rule", disabled=data.rule is None,
                        help="Lower box scores on films the classifier calls normal, and add "
                        "its 'No finding' score.")  # fmt: skip
    if data.rule is None:
        st.caption("No classifier in this bundle: there is no rule to apply.")
    fusion = EnsembleSettings(float(st.session_state["cc_wbf_iou"]),
                              float(st.session_state["cc_wbf_skip"]), data.fusion.conf_type,
                              data.fusion.weights)  # fmt: skip
    return fusion, bool(rule_on) and data.rule is not None


def save_form(bundle_dir: Path, thresholds: Thresholds) -> None:
    """Save the current thresholds as a named set beside the bundle (never bundle.json)."""
    threshold_form.save_form(bundle_dir, thresholds, "cc", "recall80-2026")
