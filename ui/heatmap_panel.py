"""Heatmaps on the case page: controls, the eight overlays, and one view enlarged.

Runs as a fragment: moving a control reruns only this panel. Opacity, colour scale and
the enlarged view are compositing only; a new target or method computes its maps once
(cached by case, bundle, target and method) and never again.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import streamlit as st

from core.cam.methods import DEFAULT_METHOD, METHODS
from core.case import Case, CleanView
from core.models.bundle import Bundle
from core.models.explain import STAGE1_TARGET
from core.models.result import CaseResult, ViewCam
from core.review.figures import location_label
from core.review.layout import view_grid
from core.review.overlay import (
    SCALE_CAPTIONS,
    HeatmapSettings,
    case_overlays,
    colour_bar,
    letterbox,
)
from core.schema import LOCATIONS, feeding_views, groups_of, split_location
from ui.compute import heatmaps
from ui.view_grid import view_cells
from ui.intake_panel import PENDING_FOCUS

__all__ = ["explainable_targets", "heatmap_panel"]

_GRID_SIDE = 560
#: Grid cells are letterboxed to one aspect so rows line up whatever each view's size.
_CELL = (480, 400)
_NONE = "—"


def explainable_targets(result: CaseResult, bundle: Bundle) -> list[str]:
    """Stage 1, then every location some present view's stage-2 model outputs."""
    groups = groups_of(bundle.schema)
    return [STAGE1_TARGET, *(c for c in LOCATIONS if feeding_views(c, groups, result.views))]


def _target_label(target: str, bundle: Bundle) -> str:
    if target == STAGE1_TARGET:
        return "Aneurysm (stage 1, all views)"
    circulation = groups_of(bundle.schema).circulation_of(split_location(target)[1])
    return f"{location_label(target)} (stage 2, {circulation})"


def _keep_valid(key: str, options: list[str]) -> None:
    """Forget a choice the current case does not offer (e.g. a view another case had)."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def _controls(result: CaseResult, bundle: Bundle) -> HeatmapSettings:
    targets = explainable_targets(result, bundle)
    _keep_valid("cam_target", targets)
    if (focus := st.session_state.pop(PENDING_FOCUS, None)) in targets:
        st.session_state["cam_target"] = focus  # the finding the cohort page sent us to
    c1, c2, c3, c4 = st.columns([2, 1.2, 1.4, 1.6])
    target = c1.selectbox(
        "Explain",
        targets,
        key="cam_target",
        format_func=lambda t: _target_label(t, bundle),
        help="Stage 1 explains the aneurysm logit on every view; a location explains that "
        "output of the stage-2 model on the views that show it.",
    )
    methods = list(METHODS)
    method = c2.selectbox("Method", methods, index=methods.index(DEFAULT_METHOD), key="cam_method")
    opacity = c3.slider("Opacity", 0.0, 1.0, 0.5, 0.05, key="cam_opacity")
    scale = c4.radio(
        "Colour scale",
        ["shared", "per_view"],
        horizontal=True,
        key="cam_scale",
        format_func=lambda s: "shared" if s == "shared" else "per view",
    )
    return HeatmapSettings(target, method, float(opacity), scale)  # type: ignore[arg-type]


def _caption(view: str, result: CaseResult, cam: ViewCam | None) -> str:
    r = result.views[view]
    text = f"{view} · stage-1 p={r.stage1_probability:.3f}"
    if cam is not None:
        text += f" · logit {cam.logit:+.2f}"
        if cam.peak_xy is None:
            text += " · empty map"
    return text


def _grid(
    images: Mapping[str, np.ndarray], result: CaseResult, cams: Mapping[str, ViewCam], target: str
) -> None:
    for view, col in view_cells(images):
        with col:
            st.image(
                letterbox(images[view], *_CELL),
                caption=_caption(view, result, cams.get(view)),
                output_format="JPEG",
            )
            if view not in cams:
                st.caption(
                    f"no map: {target} is read from "
                    f"{', '.join(sorted(cams)) or 'no view present'}"
                )


def heatmap_panel(
    bundle: Bundle,
    case: Case,
    clean: Mapping[str, CleanView],
    result: CaseResult,
) -> tuple[HeatmapSettings, dict[str, ViewCam], float]:
    """Render the panel; returns the settings, the maps shown and what computing them took."""
    settings = _controls(result, bundle)
    with st.spinner("Computing heatmaps…"):
        cams, cam_ms = heatmaps(bundle, clean, result, settings.target, settings.method)
    bar_col, text_col = st.columns([1, 5])
    bar_col.image(colour_bar(), caption="low → high", width="stretch")
    text_col.caption(
        SCALE_CAPTIONS[settings.scale] + " Maps show evidence for the target's positive logit, "
        "so a confidently negative view may be nearly empty."
    )
    _grid(case_overlays(case, result, cams, settings, _GRID_SIDE), result, cams, settings.target)
    present = [_NONE, *(v for row in view_grid() for v in row if v in result.views)]
    _keep_valid("cam_enlarge", present)
    enlarge = st.selectbox("Enlarge one view to full resolution", present, key="cam_enlarge")
    if enlarge != _NONE:
        full = case_overlays(case, result, cams, settings, None, views=[enlarge])[enlarge]
        size = f"{full.shape[1]}x{full.shape[0]} px"
        st.image(
            full,
            caption=f"{_caption(enlarge, result, cams.get(enlarge))} · {size}",
            width="content",
        )
    return settings, cams, cam_ms
