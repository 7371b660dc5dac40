"""The pointing game: does a heatmap's peak land on the aneurysm it should explain?

Zhang et al. (ECCV 2016) count a hit when the map's maximum falls within 15 px of the
annotated object at roughly 224-px resolution, i.e. a tolerance of ~7 % of the image. We
state the tolerance the same way, as a fraction of the longer side of the *original* image
(``margin_frac``), so it means the same on a 720x720 and a 1670x1000 view, and a hit is a
peak within ``radius + margin`` of any aneurysm drawn in that view. Only views showing at
least one aneurysm count: on a negative view there is nothing to point at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["DEFAULT_MARGIN_FRAC", "PointingResult", "pointing_hits", "pointing_game"]

#: The default tolerance: 5 % of the longer image side (stricter than the classic ~7 %).
DEFAULT_MARGIN_FRAC = 0.05


@dataclass(frozen=True)
class PointingResult:
    """Hit rate over positive views, with the tolerance it was measured at."""

    hits: int
    n_views: int
    margin_frac: float

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.n_views if self.n_views else None

    def to_dict(self) -> dict[str, object]:
        return {
            "hit_rate": self.hit_rate,
            "hits": self.hits,
            "n_views": self.n_views,
            "margin_frac": self.margin_frac,
            "rule": "peak within radius + margin_frac * max(width, height) of an aneurysm "
            "drawn in the view (original-image pixels); positive views only",
        }


def pointing_hits(
    peaks: ArrayLike, targets: Sequence[ArrayLike], margin_px: ArrayLike
) -> np.ndarray:
    """Per view, whether ``peaks[i] = (x, y)`` lies within ``r + margin_px[i]`` of any
    ``(x, y, r)`` row of ``targets[i]``. A view with no target is never a hit."""
    pk = np.asarray(peaks, dtype=float).reshape(-1, 2)
    margin = np.broadcast_to(np.asarray(margin_px, dtype=float), (len(pk),))
    if len(targets) != len(pk):
        raise ValueError(f"{len(pk)} peaks but {len(targets)} target lists")
    hits = np.zeros(len(pk), dtype=bool)
    for i, tg in enumerate(targets):
        t = np.asarray(tg, dtype=float).reshape(-1, 3)
        if t.size:
            dist = np.hypot(t[:, 0] - pk[i, 0], t[:, 1] - pk[i, 1])
            hits[i] = bool((dist <= t[:, 2] + margin[i]).any())
    return hits


def pointing_game(
    peaks: ArrayLike,
    targets: Sequence[ArrayLike],
    image_sizes: ArrayLike,
    margin_frac: float = DEFAULT_MARGIN_FRAC,
) -> PointingResult:
    """Pointing-game hit rate over the views that have at least one target.

    ``image_sizes`` is ``(width, height)`` per view of the original image; views without a
    target are dropped before counting.
    """
    sizes = np.asarray(image_sizes, dtype=float).reshape(-1, 2)
    keep = np.array([np.asarray(t).size > 0 for t in targets], dtype=bool)
    pk = np.asarray(peaks, dtype=float).reshape(-1, 2)[keep]
    tg = [t for t, k in zip(targets, keep) if k]
    margin = margin_frac * sizes[keep].max(axis=1)
    hits = pointing_hits(pk, tg, margin)
    return PointingResult(int(hits.sum()), int(keep.sum()), float(margin_frac))
