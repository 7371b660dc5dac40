"""Threshold controls of the cohort page: where the values start, 22 sliders, and saving.

Slider values live in session state (``wi_stage1``, ``wi_<location>``), so a threshold is
this user's alone. ``wi_base`` remembers the set the sliders were last loaded from; the
current set *is* that set until a slider moves, after which it is a hand-tuned copy that
records where it started. Loading values happens in button callbacks, which run before
the sliders exist in the next run (Streamlit forbids writing a widget's state after it
was drawn). Names, authors and rules of saved sets are shown as typed (:mod:`ui.text`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.cohort.whatif import suggest_thresholds, with_values
from core.models.calibration import DEFAULT_TARGET
from core.models.threshold_rules import THRESHOLD_RULES
from core.models.threshold_sets import (
    ORIGINAL,
    list_threshold_sets,
    load_threshold_set,
)
from core.models.thresholds import Thresholds, ThresholdsError
from core.review.figures import location_label
from core.schema import LOCATIONS, MIDLINE, CirculationGroups, split_location
from ui import threshold_form
from ui.bundle import TRAINING_SET, active_bundle
from ui.text import plain

__all__ = [
    "init_thresholds",
    "source_picker",
    "threshold_sliders",
    "current_thresholds",
    "save_form",
]

#: Picker entry -> rule name, one per entry of the threshold-rule table.
_FITS = {f"Fit on this cohort: {r.label}": name for name, r in THRESHOLD_RULES.items()}


def _slider_key(column: str) -> str:
    return f"wi_{column}"


def _load(thresholds: Thresholds) -> None:
    st.session_state["wi_stage1"] = float(thresholds.stage1)
    for c in LOCATIONS:
        st.session_state[_slider_key(c)] = float(thresholds.labels[c])
    st.session_state["wi_base"] = thresholds.to_dict()


def init_thresholds(bundle_dir: Path, table_id: str) -> None:
    """Start the sliders at the sidebar's threshold set when a new table is opened, and put
    them back where they were after a visit to another page.

    Streamlit drops a widget's state when a run does not draw it (e.g. while the case page
    is shown), so the values are also kept under ``wi_values``, which is not a widget key.
    """
    if st.session_state.get("wi_for") == table_id:
        kept = st.session_state.get("wi_values")
        if "wi_stage1" not in st.session_state and kept is not None:
            for key, value in kept.items():
                st.session_state[key] = value
        return
    active = active_bundle()
    if active is not None and active.bundle.path == bundle_dir.resolve():
        _load(active.thresholds)
    else:  # the page runs without the app's sidebar (or its bundle failed to load)
        _load(load_threshold_set(bundle_dir, ORIGINAL))
    st.session_state["wi_for"] = table_id


def _apply(bundle_dir: Path, table: pd.DataFrame) -> None:
    choice = st.session_state["wi_source"]
    try:
        if choice in _FITS:
            target = float(st.session_state.get("wi_target", DEFAULT_TARGET))
            _load(suggest_thresholds(table, _FITS[choice], target=target))  # type: ignore[arg-type]
        else:
            _load(load_threshold_set(bundle_dir, choice))
    except ThresholdsError as err:
        st.session_state["wi_error"] = f"Threshold set {plain(choice)} cannot be used: {plain(err)}"


def source_picker(bundle_dir: Path, table: pd.DataFrame) -> None:
    """Pick a saved set or a calibration rule, and load its values into the sliders."""
    names = list_threshold_sets(bundle_dir)
    label = {ORIGINAL: f"Bundle as trained ({TRAINING_SET})"}
    choice = st.selectbox(
        "Start from",
        [*names, *_FITS],
        key="wi_source",
        format_func=lambda n: label.get(n, n if n in _FITS else f"Saved set: {n}"),
    )
    if choice in _FITS and THRESHOLD_RULES[_FITS[choice]].uses_target:
        st.number_input("Target sensitivity", 0.05, 1.0, DEFAULT_TARGET, 0.01, key="wi_target")
    st.button(
        "Load these values into the sliders",
        on_click=_apply,
        args=(bundle_dir, table),
        key="wi_apply",
        width="stretch",
    )
    if choice in _FITS:
        st.warning(
            "Thresholds fitted on the cohort you are evaluating are optimistic: the metrics "
            "below then describe this cohort's best case, not a new patient's. Fit on a "
            "separate calibration cohort before saving them for use.",
            icon="⚠️",
        )
    if "wi_error" in st.session_state:
        st.error(st.session_state.pop("wi_error"))


def _location_sliders(columns: list[str]) -> None:
    left, right = st.columns(2)
    for c in columns:
        side, _ = split_location(c)
        target = right if side == "R" else left
        target.slider(location_label(c), 0.0, 1.0, step=0.001, format="%.3f", key=_slider_key(c))


def threshold_sliders(groups: CirculationGroups) -> None:
    """The stage-1 slider, then the 21 location sliders grouped by circulation."""
    st.slider(
        "Stage-1 threshold (patient score)",
        0.0,
        1.0,
        step=0.001,
        format="%.3f",
        key="wi_stage1",
        help="A patient is positive when max(anterior mean, posterior mean) ≥ this.",
    )
    for circ in ("anterior", "posterior"):
        bases = groups.of(circ)  # type: ignore[arg-type]
        cols = [c for c in LOCATIONS if split_location(c)[1] in bases]
        with st.expander(
            f"{circ.capitalize()} circulation: {', '.join(bases)} ({len(cols)} thresholds)"
        ):
            _location_sliders(
                [c for c in cols if c not in MIDLINE] + [c for c in cols if c in MIDLINE]
            )


def current_thresholds() -> Thresholds:
    """The base set while no slider moved, else a hand-tuned copy naming its origin."""
    base = Thresholds.from_dict(st.session_state["wi_base"])
    keys = ["wi_stage1", *(_slider_key(c) for c in LOCATIONS)]
    st.session_state["wi_values"] = {k: float(st.session_state[k]) for k in keys}
    stage1 = float(st.session_state["wi_stage1"])
    locs = {c: float(st.session_state[_slider_key(c)]) for c in LOCATIONS}
    if stage1 == base.stage1 and locs == dict(base.labels):
        return base
    return with_values(
        base, stage1, locs, author="what-if (unsaved)", rule=f"hand-tuned from: {base.rule}"
    )


def save_form(bundle_dir: Path, thresholds: Thresholds) -> None:
    """Save the current thresholds as a named set beside the bundle (never bundle.json)."""
    threshold_form.save_form(bundle_dir, thresholds, "wi", "sens90-2024-06")
