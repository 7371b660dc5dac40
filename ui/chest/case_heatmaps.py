"""Heatmap controls on the film page: method, detector member, the box (Grad-CAM),
opacity, and what the chosen method can and cannot say.

Maps come from :func:`ui.chest.case_compute.film_heat`, cached by film, bundle, method,
member and box, so changing the opacity or the window never reruns a model.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.models.bundle import Bundle
from core.review.verdicts import finding_key
from core.studies.chest.cam import GRADCAM_METHOD
from core.studies.chest.film import Film
from core.studies.chest.review.heatmaps import METHOD_LIMITS, HeatmapRequest, methods_for
from core.studies.chest.review.result import ChestResult
from ui.chest.case_compute import film_heat

__all__ = ["NONE", "heatmap_controls"]

NONE = "None"


def heatmap_controls(
    bundle: Bundle, film: Film, result: ChestResult
) -> tuple[np.ndarray | None, HeatmapRequest | None, float]:
    """``(map or None, what it is, opacity)`` for the viewer and the exports."""
    available = methods_for(bundle)
    method = st.selectbox("Heatmap", [NONE, *available], key="chest_heat_method")
    if method == NONE:
        return None, None, 0.4
    st.caption(METHOD_LIMITS[method])
    role = st.selectbox("Detector member", list(available[method]), key="chest_heat_role")
    box, label = None, None
    if method == GRADCAM_METHOD:
        boxed = {finding_key(f): f for f in result.box_findings}
        if not boxed:
            st.info("No box on this film to explain.")
            return None, None, 0.4
        key = st.selectbox("Box", list(boxed), key="chest_heat_box")
        box, label = boxed[key].box, boxed[key].label
    opacity = st.slider("Opacity", 0.0, 1.0, 0.4, 0.05, key="chest_heat_opacity")
    req = HeatmapRequest(method, role, box, label)
    with st.spinner(f"Computing {req.describe()}…"):
        heat, why = film_heat(bundle, film, result.content_hash, req)
    if heat is None:
        st.warning(f"No heatmap: {why}")
        return None, None, opacity
    return heat, req, opacity
