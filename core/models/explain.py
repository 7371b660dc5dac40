"""On-demand heatmaps for a case page: explain ``Aneurysm`` or one location column.

``Aneurysm`` explains the stage-1 positive logit on every view. A location column explains
that location's output of the stage-2 model on the views that can show it: the views of its
circulation and side (BA: both sides), all in one batched pass.
"""

from __future__ import annotations

from typing import Mapping

from core.cam.mapping import peak_in_original
from core.cam.methods import DEFAULT_METHOD
from core.case import CleanView
from core.models.bundle import Bundle
from core.models.result import ViewCam
from core.models.runner import cam_logits
from core.schema import feeding_views, groups_of, split_location

__all__ = ["STAGE1_TARGET", "explain"]

STAGE1_TARGET = "Aneurysm"


def explain(
    bundle: Bundle,
    clean: Mapping[str, CleanView],
    target: str = STAGE1_TARGET,
    *,
    method: str = DEFAULT_METHOD,
) -> dict[str, ViewCam]:
    """CAMs for ``target`` (``"Aneurysm"`` or a location column such as ``"L_MCA"``)."""
    if target == STAGE1_TARGET:
        role, views, base = "stage1", list(clean), None
    else:
        groups, base = groups_of(bundle.schema), split_location(target)[1]
        role = groups.circulation_of(base)
        views = list(feeding_views(target, groups, clean))
    if not views:
        return {}
    images = [clean[v].image for v in views]
    bases = None if base is None else [base] * len(views)
    spec = bundle.spec(role)  # type: ignore[arg-type]
    logits, maps, layer = cam_logits(bundle, spec.role, images, bases, method=method)
    column = 0 if base is None else spec.labels.index(base)
    return {
        v: ViewCam(
            view=v, target=target, method=method, layer=layer, raw=maps[i],
            peak_xy=peak_in_original(maps[i], clean[v].record), logit=float(logits[i, column]),
        )
        for i, v in enumerate(views)
    }  # fmt: skip
