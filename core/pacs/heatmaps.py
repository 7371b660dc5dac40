"""Heatmap overlays of a reviewed study, one RGB picture per source view, for the captures.

Each study makes its own pictures (``PacsHooks.captures``, asked of the registry: this
module never names a study), with the maps and compositing its review page shows, at the
size and opacity set here. Computed only when results are sent, so a review that is never
sent costs no CAM.
"""

from __future__ import annotations

import logging

import numpy as np

from core.case import Case
from core.models.bundle import Bundle
from core.studies import get_study

__all__ = ["CAPTURE_SIDE", "OPACITY", "overlays"]

log = logging.getLogger(__name__)

#: Longest side of a capture: enough to read, small enough to send.
CAPTURE_SIDE = 1024
#: Heatmap weight where the map is hottest (the pages' default).
OPACITY = 0.5


def overlays(bundle: Bundle, case: Case) -> tuple[dict[str, np.ndarray], str]:
    """View -> RGB ``uint8`` overlay, and how the maps were made (for the capture's
    derivation description); empty for a study that sends no captures."""
    hooks = get_study(bundle.study).pacs
    if hooks is None or hooks.captures is None:
        log.info("no heatmap captures for the %s study", bundle.study)
        return {}, ""
    pictures, how = hooks.captures(bundle, case, CAPTURE_SIDE, OPACITY)
    return dict(pictures), how
