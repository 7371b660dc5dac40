"""One reviewed film: the common reviewed-case record plus what only a film page shows
(the film and its window, the heatmap on screen), the one argument of the chest exports.

Built once per run on the page, so every download describes the film, the thresholds, the
window and the heatmap the reader was looking at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.review.reviewed import ReviewedCase
from core.studies.chest.film import Film
from core.studies.chest.review.heatmaps import HeatmapRequest
from core.studies.chest.review.result import ChestResult
from core.studies.chest.review.window import Window

__all__ = ["FilmReview", "film_review"]


@dataclass(frozen=True, eq=False)  # arrays: compare by identity
class FilmReview:
    """``reviewed`` (case, result, context) and the film, window and heatmap shown."""

    reviewed: ReviewedCase
    film: Film
    window: Window
    display: np.ndarray  # the windowed uint8 film as shown (before boxes and heatmap)
    heat: np.ndarray | None = None  # [0, 1] map the size of the film, or None
    heat_request: HeatmapRequest | None = None
    opacity: float = 0.4

    @property
    def result(self) -> ChestResult:
        return self.reviewed.result  # type: ignore[return-value]


def film_review(
    case_reviewed: ReviewedCase, film: Film, window: Window, display: np.ndarray
) -> FilmReview:
    """The record without a heatmap (the heatmap panel adds it with ``dataclasses.replace``)."""
    if not isinstance(case_reviewed.result, ChestResult):
        raise TypeError("a film review needs a chest result")
    return FilmReview(case_reviewed, film, window, display)
