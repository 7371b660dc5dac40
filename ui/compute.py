"""The page's expensive steps, cached so that a display control never reruns a model.

Keys are content-derived: the case's pixel hash (plus its id and intake notes, which end up
in the result), the bundle's ``bundle.json`` hash, the preprocessing params' digest, the
settings and :func:`core.pipeline_version.pipeline_version` (so a server restarted on
changed code never serves a result of the old code). The heavy objects (bundle, case,
cleaned views, params) are underscore arguments, which Streamlit leaves out of the key;
the public functions add the version, so callers cannot forget it. ``st.cache_data``
hands every caller its own unpickled copy, so one session can never change what another
sees, and ``max_entries`` bounds the memory held for all sessions.
"""

from __future__ import annotations

import hashlib
import time
from typing import Mapping

import streamlit as st

from core.cam.methods import DEFAULT_METHOD
from core.case import Case, CleanView
from core.memory import release_memory_soon
from core.models.bundle import Bundle
from core.models.explain import STAGE1_TARGET, explain
from core.models.inference import preprocess_case, run_clean
from core.models.result import CaseResult, ViewCam
from core.pipeline_version import pipeline_version
from core.preprocess.params import DEFAULT_PARAMS, PreprocessParams, recorded_params

__all__ = ["case_key", "clean_views", "case_result", "heatmaps"]


def case_key(case: Case, content_hash: str | None = None) -> str:
    """Pixels, case id and intake problems: everything of a case that reaches a result.

    ``content_hash`` is ``case.content_hash()`` when the caller has it already: hashing
    eight full-resolution views is tens of milliseconds, paid once per rerun, not twice.
    """
    h = hashlib.sha256((content_hash or case.content_hash()).encode())
    h.update(case.case_id.encode())
    for p in case.problems:
        h.update(f"\0{p.kind}\0{p.file}\0{p.message}".encode())
    return h.hexdigest()


#: Cleaned views of the last cases (8 crops, ~6 MB a case): few, so memory is flat after
#: a handful of cases; an older case's result is still cached (:func:`case_result`).
CLEAN_CASES = 4


@st.cache_data(max_entries=CLEAN_CASES, show_spinner=False)
def _clean_views(
    _case: Case, _params: PreprocessParams, content_hash: str, params_digest: str, pipeline: str
) -> tuple[dict[str, CleanView], float]:
    release_memory_soon()  # a new case: the last one's garbage goes once it is shown
    t0 = time.perf_counter()
    clean = preprocess_case(_case, _params)
    return clean, (time.perf_counter() - t0) * 1e3


def clean_views(
    case: Case, content_hash: str, bundle: Bundle | None = None
) -> tuple[dict[str, CleanView], float]:
    """Cleaned views (crop, text fill) and the milliseconds it took.

    With a bundle, the views are cleaned with the settings it records, as its training
    views were; without one (nothing loaded yet), with the defaults.
    """
    params = DEFAULT_PARAMS if bundle is None else recorded_params(bundle.manifest, bundle.name)
    return _clean_views(case, params, content_hash, params.digest(), pipeline_version())


@st.cache_data(max_entries=16, show_spinner=False)
def _case_result(
    _bundle: Bundle,
    _case: Case,
    _clean: Mapping[str, CleanView],
    _preprocess_ms: float,
    key: str,
    bundle_sha256: str,
    pipeline: str,
    _content_hash: str,
) -> CaseResult:
    return run_clean(
        _bundle, _case, _clean, cam=True, preprocess_ms=_preprocess_ms, content_hash=_content_hash
    )


def case_result(
    bundle: Bundle,
    case: Case,
    clean: Mapping[str, CleanView],
    preprocess_ms: float,
    key: str,
    bundle_sha256: str,
    content_hash: str | None = None,
) -> CaseResult:
    """Both stages plus the default stage-1 heatmaps, under the bundle's own thresholds
    (a session's threshold set is applied afterwards with ``with_thresholds``).
    ``content_hash``: ``case.content_hash()`` when the caller has it already."""
    return _case_result(
        bundle, case, clean, preprocess_ms, key, bundle_sha256, pipeline_version(),
        content_hash or case.content_hash(),
    )  # fmt: skip


@st.cache_data(max_entries=64, show_spinner=False)
def _explain(
    _bundle: Bundle,
    _clean: Mapping[str, CleanView],
    content_hash: str,
    bundle_sha256: str,
    target: str,
    method: str,
    pipeline: str,
) -> tuple[dict[str, ViewCam], float]:
    t0 = time.perf_counter()
    cams = explain(_bundle, _clean, target, method=method)
    return cams, (time.perf_counter() - t0) * 1e3


def heatmaps(
    bundle: Bundle,
    clean: Mapping[str, CleanView],
    result: CaseResult,
    target: str,
    method: str,
) -> tuple[dict[str, ViewCam], float]:
    """CAMs for ``target``/``method`` and the milliseconds computing them took (0 for the
    maps that came with the result).

    The stage-1 maps of the default method came with the result; anything else is
    computed once per (case, bundle, target, method) and then served from the cache.
    """
    if target == STAGE1_TARGET and method == DEFAULT_METHOD:
        return {v: r.cam for v, r in result.views.items() if r.cam is not None}, 0.0
    return _explain(
        bundle, clean, result.content_hash, bundle.manifest_sha256, target, method,
        pipeline_version(),
    )  # fmt: skip
