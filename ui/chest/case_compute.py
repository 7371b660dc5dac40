"""The film page's expensive steps, cached so that a display change never runs a model.

Keys: the film's content hash (plus its id, problems and original size, which reach the
result), the bundle's ``bundle.json`` SHA-256 and :func:`core.pipeline_version.pipeline_version`;
heatmaps add the method, the member and the box. Heavy objects are underscore arguments
(left out of the key). ``st.cache_data`` gives each caller its own copy and
``max_entries`` bounds what all sessions hold. A heatmap that cannot be made is cached
with its reason, so asking again never reruns the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core.case import Case
from core.memory import release_memory_soon
from core.models.bundle import Bundle
from core.pipeline_version import pipeline_version
from core.studies.chest.annotations import AnnotationError
from core.studies.chest.film import Film
from core.studies.chest.review.heatmaps import BoxNotFound, HeatmapRequest, film_heatmap
from core.studies.chest.review.predict import predict_chest
from core.studies.chest.review.result import ChestResult
from core.studies.chest.review.truth import FilmTruth, is_labelled, read_truth
from ui.compute import case_key

__all__ = ["film_result", "film_heat", "film_truth_of"]


@st.cache_data(max_entries=16, show_spinner=False)
def _film_result(
    _bundle: Bundle, _case: Case, key: str, size: tuple[int, int], bundle_sha256: str, pipeline: str
) -> ChestResult:
    release_memory_soon()  # a new film: the last one's garbage goes once it is shown
    return next(predict_chest(_bundle, [_case], {_case.case_id: size}))


def film_result(bundle: Bundle, case: Case, film: Film) -> ChestResult:
    """The bundle's boxes on the film under the bundle's own thresholds (a session's
    thresholds are applied afterwards with ``with_thresholds``)."""
    return _film_result(
        bundle, case, case_key(case), film.original_size, bundle.manifest_sha256, pipeline_version()
    )


@st.cache_data(max_entries=32, show_spinner=False)
def _film_heat(
    _bundle: Bundle,
    _film: Film,
    content_hash: str,
    bundle_sha256: str,
    method: str,
    role: str,
    box: tuple | None,
    label: str | None,
    pipeline: str,
) -> tuple[np.ndarray | None, str]:
    req = HeatmapRequest(method, role, box, label)
    try:
        return film_heatmap(_bundle, _film.pixels, _film.original_size, req), ""
    except (BoxNotFound, ValueError) as err:
        return None, str(err)


def film_heat(
    bundle: Bundle, film: Film, content_hash: str, req: HeatmapRequest
) -> tuple[np.ndarray | None, str]:
    """The map of ``req`` (the film's display size) or None and why, computed once per
    (film, bundle, method, member, box)."""
    return _film_heat(
        bundle,
        film,
        content_hash,
        bundle.manifest_sha256,
        req.method,
        req.role,
        req.box,
        req.label,
        pipeline_version(),
    )


@st.cache_data(max_entries=8, show_spinner=False)
def _truth(folder: str, image_id: str, stamp: float) -> FilmTruth | None:
    try:
        return read_truth(folder, image_id)
    except (AnnotationError, KeyError):
        return None


def film_truth_of(folder: str | None, image_id: str | None) -> FilmTruth | None:
    """The readers' and fused boxes of a film opened from a labelled folder (None
    otherwise); re-read when ``train.csv`` changes."""
    if not is_labelled(folder) or image_id is None:
        return None
    stamp = (Path(folder) / "train.csv").stat().st_mtime  # type: ignore[arg-type]
    return _truth(str(folder), image_id, stamp)
