"""The film viewer: window/level (the file's presets or manual), per-class score
thresholds, readers' and fused truth toggles, and the zoomable plotly figure whose
box-select proposes a missed finding's box.

Every control here only re-draws: the result comes from the cache and is re-decided with
``with_thresholds`` (no model runs).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from core.models.thresholds import Thresholds, ThresholdsError
from core.review.drawing import to_rgb
from core.review.overlay import composite
from core.studies.chest.classes import ALL_LABELS
from core.studies.chest.film import Film
from core.studies.chest.review.figure import DrawnBox, box_from_selection, drawn_box, film_figure
from core.studies.chest.review.result import ChestResult
from core.studies.chest.review.truth import FilmTruth
from core.studies.chest.review.window import Window, apply_window, window_source
from ui.bundle import TRAINING_SET

__all__ = [
    "FULL",
    "MANUAL",
    "window_controls",
    "threshold_controls",
    "film_thresholds",
    "truth_controls",
    "film_viewer",
    "SELECTED_BOX",
]

FULL, MANUAL = "Full range", "Manual"
#: Session key of the last box the reviewer selected on the figure (original pixels).
SELECTED_BOX = "chest_selected_box"


def _preset_name(i: int, w: Window) -> str:
    return f"File preset {i + 1}: {w.centre:g} / {w.width:g}"


def window_controls(film: Film) -> tuple[Window, np.ndarray]:
    """The window chosen and the film's display pixels under it."""
    src = window_source(film)
    names = {_preset_name(i, w): w for i, w in enumerate(src.presets)} | {FULL: src.full}
    choice = st.selectbox(
        "Window",
        [*names, MANUAL],
        key="chest_wl_preset",
        help="The file's own window presets, the full range, or your own.",
    )
    if choice == MANUAL:
        span = max(src.high - src.low, 1.0)
        c1, c2 = st.columns(2)
        centre = c1.number_input(
            "Level (centre)", value=float(src.full.centre), step=span / 100, key="chest_wl_centre"
        )
        width = c2.number_input(
            "Width",
            min_value=1e-3,
            value=float(src.full.width),
            step=span / 100,
            key="chest_wl_width",
        )
        window = Window(float(centre), float(width))
    else:
        window = names[choice]
    unit = "stored values (Modality LUT applied)" if src.stored else "display levels 0-255"
    st.caption(f"Window on {unit}; range {src.low:g}…{src.high:g}.")
    return window, apply_window(src.values, window, src.invert)


def threshold_controls(base: Thresholds, set_name: str) -> Thresholds:
    """One score threshold per class, starting from the active threshold set's."""
    with st.expander("Score threshold per class", expanded=False):
        st.caption(f"Starting values: the calibrated thresholds of '{set_name}'.")
        cols = st.columns(3)
        values = {}
        for i, label in enumerate(ALL_LABELS):
            values[label] = cols[i % 3].number_input(
                label,
                min_value=0.0,
                max_value=1.0,
                value=float(base.labels[label]),
                step=0.05,
                format="%.3f",
                key=f"chest_thr::{set_name}::{label}",
            )
    if all(values[k] == base.labels[k] for k in ALL_LABELS):
        return base
    return Thresholds(
        base.stage1,
        values,
        f"{base.rule}; adjusted on the film page",
        dict(base.params),
        "film page",
    )


def film_thresholds(result: ChestResult, thresholds: Thresholds, set_name: str) -> ChestResult:
    """``result`` re-decided under the session's threshold set, then under the per-class
    controls (no model runs); a set that does not fit the bundle's labels is said, and
    the bundle's own thresholds are kept."""
    if set_name != TRAINING_SET:
        try:
            result = result.with_thresholds(thresholds)
        except ThresholdsError as err:
            st.error(f"Threshold set '{set_name}' does not fit this bundle: {err}")
    return result.with_thresholds(threshold_controls(result.thresholds, set_name))


def truth_controls(truth: FilmTruth | None) -> tuple[list[str], bool]:
    """Which readers' boxes to draw and whether to draw the fused truth."""
    if truth is None:
        return [], False
    readers = st.multiselect("Readers' boxes", sorted(truth.readers), key="chest_readers")
    fused = st.checkbox("Fused truth (readers' boxes fused)", key="chest_truth")
    return readers, fused


def _truth_boxes(truth: FilmTruth | None, readers: Sequence[str], fused: bool) -> list[DrawnBox]:
    out: list[DrawnBox] = []
    if truth is None:
        return out
    for r in readers:
        for row in truth.readers.get(r, []).itertuples(index=False):  # type: ignore[union-attr]
            box = (row.x_min, row.y_min, row.x_max, row.y_max)
            out.append(DrawnBox(box, row.class_name, f"{r}: {row.class_name}", "dash"))
    if fused:
        for row in truth.fused.itertuples(index=False):
            box = (row.x_min, row.y_min, row.x_max, row.y_max)
            out.append(DrawnBox(box, row.class_name, f"truth: {row.class_name}", "dot"))
    return out


def film_viewer(
    result: ChestResult,
    film: Film,
    display: np.ndarray,
    truth_boxes: tuple[FilmTruth | None, Sequence[str], bool],
    heat: np.ndarray | None = None,
    opacity: float = 0.4,
    focus: tuple[float, float, float, float] | None = None,
) -> None:
    """Draw the figure; a box-select is remembered under :data:`SELECTED_BOX`."""
    picture = to_rgb(display) if heat is None else composite(display, heat, opacity)
    boxes = [
        DrawnBox(f.box, f.label, f"{f.label} {f.score:.2f}")  # type: ignore[arg-type]
        for f in result.box_findings
        if f.decision
    ]
    boxes += _truth_boxes(*truth_boxes)
    if (sel := st.session_state.get(SELECTED_BOX)) is not None:
        boxes.append(drawn_box(tuple(sel), "selection"))
    fig = film_figure(picture, film.original_size, boxes, focus=focus)
    event = st.plotly_chart(
        fig,
        key="chest_figure",
        on_select="rerun",
        selection_mode="box",
        config={"scrollZoom": True, "displaylogo": False},
    )
    # the return value, else the same state under the chart's key (what AppTest sets)
    kept = st.session_state.get("chest_figure") or {}
    chosen = box_from_selection(
        getattr(event, "selection", None), film.original_size
    ) or box_from_selection(kept.get("selection"), film.original_size)
    if chosen is not None and chosen != st.session_state.get(SELECTED_BOX):
        st.session_state[SELECTED_BOX] = chosen
        st.rerun()  # the verdict form below prefills from it
    st.caption(
        "Scroll or drag to zoom, double-click to reset; choose *Box select* in the toolbar "
        "and drag to propose a missed finding's box (prefilled below, original pixels)."
    )
