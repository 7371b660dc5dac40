"""The chest study's heatmap picture for PACS captures (its ``PacsHooks.captures``).

EigenCAM of the bundle's first detector member on the film, composited as the film page
does; a bundle without a detector (a classifier alone) has no heatmap to capture.
"""

from __future__ import annotations

import numpy as np

from core.case import Case
from core.models.bundle import Bundle
from core.review.overlay import composite, fit
from core.studies.chest.cam import METHOD
from core.studies.chest.film import VIEW
from core.studies.chest.review.heatmaps import HeatmapRequest, film_heatmap
from core.studies.chest.roles import detector_roles

__all__ = ["film_overlay"]


def film_overlay(
    bundle: Bundle, case: Case, side: int, opacity: float
) -> tuple[dict[str, np.ndarray], str]:
    """The film's overlay no longer than ``side`` pixels, and how the map was made."""
    roles = detector_roles(bundle.models)
    if not roles or VIEW not in case.views:
        return {}, "no detector member: no heatmap"
    pixels = case.views[VIEW].pixels
    size = (int(pixels.shape[1]), int(pixels.shape[0]))
    heat = film_heatmap(bundle, pixels, size, HeatmapRequest(METHOD, roles[0]))
    return {VIEW: composite(fit(pixels, side), fit(heat, side), opacity)}, f"{METHOD} of {roles[0]}"
