"""Two-stage inference: one case for the case page, many cases (batched) for cohorts and
the ``predict`` command. Both paths share :func:`_run_group`, so they cannot disagree.

Per view: preprocessing (crop, text fill), the stage-1 probability, and the probabilities of
the stage-2 model of the view's circulation (I views -> anterior, V views -> posterior).
Per case: :func:`core.models.gating.gate_and_decide`.
Every model runs once per batch of views; with ``cam=True`` the stage-1 scores and the
stage-1 Grad-CAM maps come from the same forward pass.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch

from core.cam.mapping import peak_in_original
from core.cam.methods import DEFAULT_METHOD
from core.case import Case, CleanView
from core.device import describe_device
from core.models.bundle import Bundle
from core.models.gating import gate_and_decide
from core.models.precision import precision_of
from core.models.result import CaseResult, Timings, ViewCam, ViewResult
from core.models.runner import DEFAULT_BATCH, cam_logits, logits, sigmoid
from core.preprocess.params import DEFAULT_PARAMS, PreprocessParams, recorded_params
from core.preprocess.pipeline import preprocess_view
from core.schema import VIEWS, groups_of, view_info

__all__ = ["preprocess_case", "run_clean", "run_case", "iter_predict_cases", "predict_cases"]


def _view_pool() -> ThreadPoolExecutor:
    """One pool per process, as wide as torch's intra-op threads (the cores it may use)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            workers = max(1, torch.get_num_threads())
            _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="preprocess")
        return _POOL


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def preprocess_case(case: Case, params: PreprocessParams = DEFAULT_PARAMS) -> dict[str, CleanView]:
    """Clean every present view, in ``VIEWS`` order (the UI shows these images).

    ``params`` must be the bundle's own (:func:`core.preprocess.params.recorded_params`)
    when the views go to its models: they were trained on views cleaned that way.
    Views are independent and their work (OpenCV, NumPy) releases the GIL, so they are
    cleaned on a pool as wide as the cores torch uses: a single-threaded step would leave
    the other cores idle while the models wait (the same results in any order).
    """
    views = [v for v in VIEWS if v in case.views]
    if len(views) < 2 or torch.get_num_threads() < 2:
        return {v: preprocess_view(case.views[v], params) for v in views}
    cleaned = _view_pool().map(lambda v: preprocess_view(case.views[v], params), views)
    return dict(zip(views, cleaned))


@dataclass
class _Job:
    """One case inside a batch: its cleaned views and what intake said."""

    case_id: str
    content_hash: str
    clean: Mapping[str, CleanView]
    notes: tuple[str, ...]


def _notes(case: Case) -> tuple[str, ...]:
    """Partial-case summary first, then intake problems other than the missing views."""
    notes = [p.message for p in case.problems if p.kind != "missing"]
    if case.missing_views:
        notes.insert(0, f"partial case: missing {', '.join(case.missing_views)}")
    return tuple(notes)


def _run_group(
    bundle: Bundle, jobs: Sequence[_Job], *, cam: bool, method: str, batch: int, pre_ms: float
) -> list[CaseResult]:
    """All models over all views of ``jobs`` (one pass per model per batch of views)."""
    items = [(j, v, cv) for j in jobs for v, cv in j.clean.items()]
    images = [cv.image for _, _, cv in items]
    t0 = time.perf_counter()
    maps: list[np.ndarray] = []
    if cam:
        s1_logits, maps, layer = cam_logits(bundle, "stage1", images, method=method, batch=batch)
    else:
        s1_logits = logits(bundle, "stage1", images, batch)
    t1 = time.perf_counter()
    s2: dict[int, np.ndarray] = {}
    for role in ("anterior", "posterior"):
        idx = [i for i, (_, v, _) in enumerate(items) if view_info(v).circulation == role]
        if idx:
            probs = sigmoid(logits(bundle, role, [images[i] for i in idx], batch))
            s2.update(zip(idx, probs))
    t2 = time.perf_counter()
    s1_probs = sigmoid(s1_logits[:, 0])
    per_job: dict[int, dict[str, ViewResult]] = {id(j): {} for j in jobs}
    for i, (job, view, cv) in enumerate(items):
        labels = bundle.spec(view_info(view).circulation).labels  # type: ignore[arg-type]
        view_cam = None
        if cam:
            peak = peak_in_original(maps[i], cv.record)
            logit = float(s1_logits[i, 0])
            view_cam = ViewCam(view, "Aneurysm", method, layer, maps[i], peak, logit)
        per_job[id(job)][view] = ViewResult(
            view=view,
            stage1_probability=float(s1_probs[i]),
            stage2_probabilities={b: float(p) for b, p in zip(labels, s2[i])},
            record=cv.record,
            cam=view_cam,
        )
    t3 = time.perf_counter()
    share = max(1, len(jobs))  # batch timings are shared evenly between its cases
    timings = Timings(
        preprocess_ms=pre_ms / share,
        stage1_ms=(t1 - t0) * 1e3 / share,
        stage2_ms=(t2 - t1) * 1e3 / share,
        cam_ms=(t3 - t2) * 1e3 / share if cam else 0.0,
        device=f"{describe_device(bundle.device)}, {precision_of(bundle.device, bundle.manifest)}",
        fused_stage1_cam=cam,
        cases_in_batch=len(jobs),
    )
    return [_assemble(bundle, job, per_job[id(job)], timings) for job in jobs]


def _assemble(
    bundle: Bundle, job: _Job, views: dict[str, ViewResult], timings: Timings
) -> CaseResult:
    groups = groups_of(bundle.schema)
    g, locs = gate_and_decide(
        {v: r.stage1_probability for v, r in views.items()},
        {v: r.stage2_probabilities for v, r in views.items()},
        bundle.thresholds,
        groups,
        bundle.combine,
    )
    return CaseResult(
        case_id=job.case_id,
        content_hash=job.content_hash,
        bundle=bundle.name,
        bundle_sha256=bundle.manifest_sha256,
        views=views,
        missing_views=tuple(v for v in VIEWS if v not in views),
        gate=g,
        locations=locs,
        thresholds=bundle.thresholds,
        groups=groups,
        combine=bundle.combine,
        timings=timings,
        notes=job.notes,
    )


def run_clean(
    bundle: Bundle,
    case: Case,
    clean: Mapping[str, CleanView],
    *,
    cam: bool = True,
    method: str = DEFAULT_METHOD,
    preprocess_ms: float = 0.0,
    content_hash: str | None = None,
) -> CaseResult:
    """Run the models on views the caller already cleaned with :func:`preprocess_case`
    (with the bundle's recorded params, as :func:`run_case` does). ``content_hash`` is
    ``case.content_hash()`` when the caller has it already (hashing costs ~12 ms)."""
    job = _Job(case.case_id, content_hash or case.content_hash(), clean, _notes(case))
    return _run_group(
        bundle, [job], cam=cam, method=method, batch=DEFAULT_BATCH, pre_ms=preprocess_ms
    )[0]


def run_case(
    bundle: Bundle, case: Case, *, cam: bool = True, method: str = DEFAULT_METHOD
) -> CaseResult:
    """Preprocess (with the bundle's recorded params) and run one case; with ``cam`` every
    view gets its stage-1 CAM."""
    t0 = time.perf_counter()
    clean = preprocess_case(case, recorded_params(bundle.manifest, str(bundle.path)))
    pre_ms = (time.perf_counter() - t0) * 1e3
    return run_clean(bundle, case, clean, cam=cam, method=method, preprocess_ms=pre_ms)


def iter_predict_cases(
    bundle: Bundle,
    cases: Iterable[Case],
    *,
    cam: bool = False,
    method: str = DEFAULT_METHOD,
    cases_per_batch: int = 8,
    batch: int = DEFAULT_BATCH,
) -> Iterator[CaseResult]:
    """Results in input order, computed ``cases_per_batch`` patients at a time.

    Cases are consumed lazily, so a folder of thousands of patients never sits in memory.
    Without ``cam`` no gradients are computed at all.
    """
    pending: list[Case] = []
    for case in cases:
        pending.append(case)
        if len(pending) >= cases_per_batch:
            yield from _predict_group(bundle, pending, cam, method, batch)
            pending = []
    if pending:
        yield from _predict_group(bundle, pending, cam, method, batch)


def _predict_group(
    bundle: Bundle, cases: Sequence[Case], cam: bool, method: str, batch: int
) -> list[CaseResult]:
    t0 = time.perf_counter()
    params = recorded_params(bundle.manifest, str(bundle.path))
    jobs = [_Job(c.case_id, c.content_hash(), preprocess_case(c, params), _notes(c)) for c in cases]
    pre_ms = (time.perf_counter() - t0) * 1e3
    return _run_group(bundle, jobs, cam=cam, method=method, batch=batch, pre_ms=pre_ms)


def predict_cases(
    bundle: Bundle,
    cases: Iterable[Case],
    *,
    cam: bool = False,
    method: str = DEFAULT_METHOD,
    cases_per_batch: int = 8,
    batch: int = DEFAULT_BATCH,
) -> list[CaseResult]:
    """:func:`iter_predict_cases` as a list (cohort page)."""
    return list(
        iter_predict_cases(
            bundle, cases, cam=cam, method=method, cases_per_batch=cases_per_batch, batch=batch
        )
    )
