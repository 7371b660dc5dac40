"""Heatmap overlays of a reviewed study, one RGB picture per source view, for the captures.

The same maps and compositing the review pages show (:mod:`core.review.overlay`):

* ``aneurysm``: the stage-1 Grad-CAM of every view on one shared scale (a hotter colour is
  stronger evidence on any view), the case run again with ``cam=True``;
* ``chest``: EigenCAM of the bundle's first detector member on the film; a bundle without a
  detector has no heatmap to capture.

Computed only when results are sent, so a review that is never sent costs no CAM.
"""

from __future__ import annotations

import logging

import numpy as np

from core.case import Case
from core.models.bundle import Bundle
from core.review.overlay import HeatmapSettings, case_overlays, composite, fit

__all__ = ["CAPTURE_SIDE", "OPACITY", "overlays"]

log = logging.getLogger(__name__)

#: Longest side of a capture: enough to read, small enough to send.
CAPTURE_SIDE = 1024
#: Heatmap weight where the map is hottest (the pages' default).
OPACITY = 0.5


def _aneurysm(bundle: Bundle, case: Case) -> tuple[dict[str, np.ndarray], str]:
    from core.cam.methods import DEFAULT_METHOD
    from core.models.inference import run_case

    result = run_case(bundle, case, cam=True, method=DEFAULT_METHOD)
    cams = {v: r.cam for v, r in result.views.items() if r.cam is not None}
    settings = HeatmapSettings("Aneurysm", DEFAULT_METHOD, OPACITY, "shared")
    pictures = case_overlays(case, result, cams, settings, CAPTURE_SIDE, views=set(cams))
    return pictures, f"stage-1 {DEFAULT_METHOD} (target Aneurysm, shared scale)"


def _chest(bundle: Bundle, case: Case) -> tuple[dict[str, np.ndarray], str]:
    from core.studies.chest.cam import METHOD
    from core.studies.chest.film import VIEW
    from core.studies.chest.review.heatmaps import HeatmapRequest, film_heatmap
    from core.studies.chest.roles import detector_roles

    roles = detector_roles(bundle.models)
    if not roles or VIEW not in case.views:
        return {}, "no detector member: no heatmap"
    pixels = case.views[VIEW].pixels
    size = (int(pixels.shape[1]), int(pixels.shape[0]))
    heat = film_heatmap(bundle, pixels, size, HeatmapRequest(METHOD, roles[0]))
    picture = composite(fit(pixels, CAPTURE_SIDE), fit(heat, CAPTURE_SIDE), OPACITY)
    return {VIEW: picture}, f"{METHOD} of {roles[0]}"


def overlays(bundle: Bundle, case: Case) -> tuple[dict[str, np.ndarray], str]:
    """View -> RGB ``uint8`` overlay, and how the maps were made (for the capture's
    derivation description)."""
    if bundle.study == "aneurysm":
        return _aneurysm(bundle, case)
    if bundle.study == "chest":
        return _chest(bundle, case)
    log.info("no heatmap captures for the %s study", bundle.study)
    return {}, ""
