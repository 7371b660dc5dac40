"""Heatmaps on the case page: controls, the eight overlays, and one view enlarged.

Runs as a fragment: moving a control reruns only this panel. Opacity, colour scale and
the enlarged view are compositing only; a new target or method computes its maps once
(cached by case, bundle, target and method) and never again.

What the grid shows is cached as encoded JPEG bytes, so a setting seen before costs no
pixel work at all, and a new opacity is one blend per view of cached display-size layers
(:class:`core.review.overlay.OverlayLayers`) instead of a full-resolution composite. The
caches are process-wide ``st.cache_resource`` entries (no copy per hit: bytes are
immutable, layers read-only) keyed by the case's content hash, the bundle's SHA-256, the
settings and the pipeline version, so a session only ever hits what it could have
computed itself. Bounds (``max_entries``), about 65 MB in all at most, small enough to
be full after a few cases (memory then stays flat over a day of cases):

* :data:`BASE_SETS` cases' letterboxed views (8 x 0.6 MB), shared by all their layer sets;
* :data:`LAYER_SETS` layer sets, one per (case, target, method, scale): 8 x 0.8 MB;
* :data:`GRID_SETS` encoded grids, one per (..., opacity): 8 JPEGs of ~20-60 kB;
* :data:`FULL_VIEWS` enlarged views, one full-resolution JPEG of ~0.1-0.5 MB each.
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
from core.review.reviewed import ReviewedCase
from core.review.figures import location_label
from core.review.layout import view_grid
from core.pipeline_version import pipeline_version
from core.review.overlay import (
    SCALE_CAPTIONS,
    HeatmapSettings,
    OverlayLayers,
    blend,
    case_bases,
    case_layers,
    colour_bar,
    encode_jpeg,
)
from core.schema import LOCATIONS, feeding_views, groups_of, split_location
from ui.compute import heatmaps
from ui.export_panel import export_panel
from ui.view_grid import view_cells
from ui.intake_panel import PENDING_FOCUS

__all__ = [
    "explainable_targets",
    "heatmap_panel",
    "heatmaps_and_export",
    "heatmaps_fragment",
    "BASE_SETS",
    "LAYER_SETS",
    "GRID_SETS",
    "FULL_VIEWS",
]

#: Grid cells are letterboxed to one aspect so rows line up whatever each view's size.
_CELL = (480, 400)
_NONE = "—"
BASE_SETS = 4
LAYER_SETS = 4
GRID_SETS = 48
FULL_VIEWS = 12


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


def _key(result: CaseResult, settings: HeatmapSettings) -> tuple[str, ...]:
    """What an overlay depends on besides opacity: pixels, bundle, maps, scale, code."""
    return (result.content_hash, result.bundle_sha256, settings.target, settings.method,
            settings.scale, pipeline_version())  # fmt: skip


@st.cache_resource(max_entries=BASE_SETS, show_spinner=False)
def _bases(
    _case: Case, _result: CaseResult, content_hash: str, pipeline: str
) -> dict[str, np.ndarray]:
    return case_bases(_case, _result, *_CELL)


@st.cache_resource(max_entries=LAYER_SETS, show_spinner=False)
def _layers(
    _case: Case, _result: CaseResult, _cams: Mapping[str, ViewCam], key: tuple[str, ...]
) -> dict[str, OverlayLayers]:
    bases = _bases(_case, _result, key[0], key[5])
    return case_layers(_result, _cams, key[4], bases)  # type: ignore[arg-type]


@st.cache_resource(max_entries=GRID_SETS, show_spinner=False)
def _grid_jpegs(
    _case: Case,
    _result: CaseResult,
    _cams: Mapping[str, ViewCam],
    key: tuple[str, ...],
    opacity: float,
) -> dict[str, bytes]:
    layers = _layers(_case, _result, _cams, key)
    return {view: encode_jpeg(blend(lay, opacity)) for view, lay in layers.items()}


@st.cache_resource(max_entries=FULL_VIEWS, show_spinner=False)
def _full_jpeg(
    _case: Case,
    _result: CaseResult,
    _cams: Mapping[str, ViewCam],
    key: tuple[str, ...],
    opacity: float,
    view: str,
) -> tuple[bytes, str]:
    base = case_bases(_case, _result, None, None, views=[view])
    full = blend(case_layers(_result, _cams, key[4], base)[view], opacity)  # type: ignore[arg-type]
    return encode_jpeg(full, quality=92), f"{full.shape[1]}x{full.shape[0]} px"


def _grid(
    jpegs: Mapping[str, bytes], result: CaseResult, cams: Mapping[str, ViewCam], target: str
) -> None:
    for view, col in view_cells(jpegs):
        with col:
            st.image(jpegs[view], caption=_caption(view, result, cams.get(view)))
            if view not in cams:
                st.caption(
                    f"no map: {target} is read from {', '.join(sorted(cams)) or 'no view present'}"
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
    key = _key(result, settings)
    _grid(_grid_jpegs(case, result, cams, key, settings.opacity), result, cams, settings.target)
    present = [_NONE, *(v for row in view_grid() for v in row if v in result.views)]
    _keep_valid("cam_enlarge", present)
    enlarge = st.selectbox("Enlarge one view to full resolution", present, key="cam_enlarge")
    if enlarge != _NONE:
        full, size = _full_jpeg(case, result, cams, key, settings.opacity, enlarge)
        st.image(
            full,
            caption=f"{_caption(enlarge, result, cams.get(enlarge))} · {size}",
            width="content",
        )
    return settings, cams, cam_ms


#: Session key of what the heatmap fragment shows: the page's last full run puts it here.
_SHOWN = "heatmaps_shown"


def heatmaps_and_export(bundle: Bundle, reviewed: ReviewedCase) -> None:
    """Heatmaps and the downloads that record their settings, as a fragment: a control
    change reruns :func:`heatmaps_fragment` alone, on what the page's last run showed.

    The fragment takes no arguments and is not defined in the page script on purpose.
    Streamlit keeps a fragment (its closure, its arguments) in reference cycles, and a
    function defined in the page holds the page's globals the same way; both are freed
    only by Python's rare full garbage collection, so every case uploaded (its decoded and
    cleaned views) stayed in memory until then (+68 % peak RSS over 100 cases, measured).
    Session state holds this session's one record instead, freed as soon as it is replaced.
    """
    st.session_state[_SHOWN] = (bundle, reviewed)
    heatmaps_fragment()


@st.fragment
def heatmaps_fragment() -> None:
    """The fragment of :func:`heatmaps_and_export`."""
    bundle, reviewed = st.session_state[_SHOWN]
    st.subheader("Heatmaps")
    shown = reviewed.with_heatmaps(
        *heatmap_panel(bundle, reviewed.case, reviewed.clean, reviewed.result)  # type: ignore[arg-type]
    )
    st.subheader("Timings and export")
    export_panel(shown)
