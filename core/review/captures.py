"""The aneurysm study's heatmap pictures for PACS captures (its ``PacsHooks.captures``).

The stage-1 Grad-CAM of every view on one shared scale (a hotter colour is stronger
evidence on any view), composited as the case page does (:mod:`core.review.overlay`);
the case is run again with ``cam=True``, only when results are sent.
"""

from __future__ import annotations

import numpy as np

from core.cam.methods import DEFAULT_METHOD
from core.case import Case
from core.models.bundle import Bundle
from core.models.inference import run_case
from core.review.overlay import HeatmapSettings, case_overlays

__all__ = ["stage1_overlays"]


def stage1_overlays(
    bundle: Bundle, case: Case, side: int, opacity: float
) -> tuple[dict[str, np.ndarray], str]:
    """View -> RGB overlay no longer than ``side`` pixels, and how the maps were made."""
    result = run_case(bundle, case, cam=True, method=DEFAULT_METHOD)
    cams = {v: r.cam for v, r in result.views.items() if r.cam is not None}
    settings = HeatmapSettings("Aneurysm", DEFAULT_METHOD, opacity, "shared")
    pictures = case_overlays(case, result, cams, settings, side, views=set(cams))
    return pictures, f"stage-1 {DEFAULT_METHOD} (target Aneurysm, shared scale)"
