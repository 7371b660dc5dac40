"""Which VinBigData folder and chest bundle the "Detection errors" page analyses, the batch
run that fills the cache, and the memoised core results every what-if reads.

Only ``bundle.json`` is read to find a cached table, so opening a cached cohort neither
loads nor runs a model; the models load only when a batch run is asked for. Memoised
results are ``st.cache_resource`` (shared, never copied, never written to): the cohort per
cache entry, a :class:`ScoredCohort` per (entry, WBF settings, rule on/off), curves and
intervals per scored cohort, so a threshold change reads them without a pickle round trip.
Every key is content-addressed (the cache entry's name holds the bundle SHA-256, the data
fingerprint and the pipeline version), so sessions may share them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from core import paths
from core.cohort.cache import CacheBusy, CacheKey
from core.models.bundle import load_bundle
from core.models.manifest import BundleError, is_bundle_dir
from core.roots import PathOutsideRoots, inside_roots
from core.studies.chest.annotations import AnnotationError
from core.studies.chest.cohort.agreement import loo_truths, model_loo, reader_f1
from core.studies.chest.cohort.api import CohortData, load_cohort
from core.studies.chest.cohort.batch import bundle_runner, failures, run_chest_batch
from core.studies.chest.cohort.curves import froc_curve, map_interval
from core.studies.chest.cohort.scoring import ScoredCohort, fuse_cohort, predictions, score_cohort
from core.studies.chest.runner import ChestOutput
from core.studies.chest.cohort.store import ChestCohortCache, chest_cache_key
from core.studies.chest.ensemble import EnsembleSettings
from core.studies.chest.layout import read_vinbigdata
from core.verdicts import AuditAction, TargetKind
from ui.audit import audit, audit_once
from ui.bundle import active_bundle, session_key
from ui.text import code, plain

__all__ = ["Source", "agreement_inputs", "cache_panel", "cohort", "failures_note", "froc", "interval", "offer_batch",
           "pick_source", "scored"]  # fmt: skip

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """A labelled folder, a chest bundle directory and their cache entry."""

    cohort_dir: Path
    bundle_dir: Path
    key: CacheKey
    cache: ChestCohortCache


def pick_source() -> Source | None:
    """The folder input and the cache lookup; ``None`` (with a message) when unusable."""
    default = str(paths.chest_demo_cohort_dir("heldout"))
    raw = st.text_input(
        "Labelled VinBigData folder (train.csv + one image per image_id)",
        value=default,
        key="cc_dir",
        help="Defaults to the chest demo's held-out films. The bundle (a detector or an "
        "ensemble) is the one chosen in the sidebar.",
    ).strip()
    bundle_raw = str(st.session_state.get(session_key("chest", "bundle_dir")) or "").strip()
    try:
        cohort_dir = inside_roots(raw or default)
        bundle_dir = inside_roots(bundle_raw or paths.configured_bundle_dir("chest"))
        cache = ChestCohortCache()
    except PathOutsideRoots as err:
        st.error(f"This folder is refused: {plain(err)}")
        return None
    if not (cohort_dir / "train.csv").is_file():
        st.info(f"No labelled VinBigData folder at {code(cohort_dir)} (it needs a train.csv).")
        return None
    if not is_bundle_dir(bundle_dir):
        st.info(f"No chest bundle at {code(bundle_dir)}: choose one in the sidebar.")
        return None
    key = chest_cache_key(bundle_dir, cohort_dir)
    audit_once(AuditAction.OPEN_COHORT, TargetKind.COHORT, key.data, {"bundle": key.bundle})
    return Source(cohort_dir, bundle_dir, key, cache)


@st.cache_resource(max_entries=4, show_spinner=False)
def _cohort(version: str, cohort_dir: str, bundle_dir: str, root: str) -> CohortData | None:
    return load_cohort(Path(cohort_dir), Path(bundle_dir), cache=ChestCohortCache(root))


def cohort(source: Source) -> CohortData | None:
    """The cached cohort, or None when the bundle has not run on this folder yet. A miss
    is not memoised (the run that fills the cache would stay invisible)."""
    if not source.cache.has(source.key):
        return None
    args = (str(source.cohort_dir), str(source.bundle_dir), str(source.cache.root))
    return _cohort(version(source), *args)


def version(source: Source) -> str:
    """The memo key of everything derived from the entry: its name and when its sidecar
    was written (once per finished run; a forgotten and rerun table is a new version)."""
    side = source.cache.root / f"{source.key.name}.json"
    return f"{source.key.name}@{side.stat().st_mtime_ns if side.is_file() else 0}"


@st.cache_resource(max_entries=8, show_spinner=False)
def _fused(key_name: str, fusion: str, _data: CohortData) -> list[ChestOutput]:
    """The members fused with one WBF setting (the costly part), shared by the rule on and
    off and by the readers' comparison."""
    return fuse_cohort(_data.members, _data.detectors, EnsembleSettings.from_dict(json.loads(fusion)))


@st.cache_resource(max_entries=16, show_spinner=False)
def _scored(key_name: str, fusion: str, rule_on: bool, _data: CohortData) -> ScoredCohort:
    rule = _data.rule if rule_on else None
    return score_cohort(_data.members, _data.truth, _data.detectors,
                        EnsembleSettings.from_dict(json.loads(fusion)), rule,
                        fused=_fused(key_name, fusion, _data))  # fmt: skip


def scored(
    source: Source, data: CohortData, fusion: EnsembleSettings, rule_on: bool
) -> ScoredCohort:
    """Fusion + rule + matching of one setting, once per cache entry and setting."""
    return _scored(version(source), json.dumps(fusion.to_dict(), sort_keys=True), rule_on, data)


@st.cache_resource(max_entries=16, show_spinner=False)
def _interval(key_name: str, fusion: str, rule_on: bool, n_boot: int, _s: ScoredCohort) -> dict:
    return map_interval(_s, n_boot=n_boot)


def interval(source: Source, s: ScoredCohort, n_boot: int) -> dict[str, Any]:
    """Bootstrap interval of the every-box mAP@0.4, once per setting and resample count."""
    wbf, rule_on = json.dumps(s.settings["wbf"], sort_keys=True), s.settings["rule"] is not None
    return _interval(version(source), wbf, rule_on, n_boot, s)


@st.cache_resource(max_entries=16, show_spinner=False)
def _froc(key_name: str, fusion: str, rule_on: bool, _s: ScoredCohort) -> Any:
    return froc_curve(_s)


def froc(source: Source, s: ScoredCohort) -> Any:
    """The FROC curve of one setting (threshold-free), once."""
    wbf, rule_on = json.dumps(s.settings["wbf"], sort_keys=True), s.settings["rule"] is not None
    return _froc(version(source), wbf, rule_on, s)


@st.cache_resource(max_entries=4, show_spinner=False)
def _readers(key_data: str, cohort_dir: str) -> tuple[Any, Any]:
    annotations = read_vinbigdata(cohort_dir)
    loo = loo_truths(annotations)
    return loo, reader_f1(annotations, loo)


@st.cache_resource(max_entries=16, show_spinner=False)
def _model_loo(key_name: str, fusion: str, rule_on: bool, _data: CohortData, _loo: Any) -> Any:
    rule = _data.rule if rule_on else None
    fusion_settings = EnsembleSettings.from_dict(json.loads(fusion))
    fused = _fused(key_name, fusion, _data)
    return model_loo(predictions(_data.members, _data.detectors, fusion_settings, rule, fused), _loo)


def agreement_inputs(source: Source, data: CohortData, s: ScoredCohort) -> tuple[Any, Any]:
    """(readers' F1 table, the model's leave-one-out matches) for one setting."""
    loo, readers = _readers(source.key.data, str(source.cohort_dir))
    wbf, rule_on = json.dumps(s.settings["wbf"], sort_keys=True), s.settings["rule"] is not None
    return readers, _model_loo(version(source), wbf, rule_on, data, loo)


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating time left…"
    return f"about {int(seconds // 60)} min {int(seconds % 60)} s left"


def offer_batch(source: Source) -> None:
    """Say the bundle has not run on this folder, and run it (resumably) on request."""
    try:
        n = len(read_vinbigdata(source.cohort_dir).image_ids)
    except AnnotationError as err:
        st.error(f"This folder cannot be used as a cohort: {plain(err)}")
        return
    parts = source.cache.read_parts(source.key)
    done = 0 if parts is None else int((parts["class_id"] == -1).sum())
    if done:
        st.warning(
            f"An earlier run stopped after {done} of {n} films; it will continue from there."
        )
    else:
        st.info(f"This bundle has not been run on this folder yet ({n} labelled films).")
    label = "Resume the batch run" if done else f"Run the bundle on {n} films"
    if not st.button(label, type="primary", key="cc_run"):
        return
    active = active_bundle("chest")
    try:
        with st.spinner("Loading models…"):
            same = active is not None and active.bundle.path == source.bundle_dir.resolve()
            bundle = active.bundle if same else load_bundle(source.bundle_dir.resolve())
    except BundleError as err:
        st.error(f"This bundle cannot be loaded: {plain(err)}")
        return
    audit(AuditAction.RUN_BUNDLE, TargetKind.COHORT, source.key.data,
          {"bundle": source.key.bundle, "films": n})  # fmt: skip
    bar = st.progress(done / max(n, 1), text="Starting…")

    def progress(finished: int, total: int, left: float | None) -> None:
        bar.progress(finished / max(total, 1), text=f"{finished} / {total} films · {_eta(left)}")

    meta = {"bundle_dir": str(source.bundle_dir), "cohort_dir": str(source.cohort_dir)}
    try:
        report = run_chest_batch(source.cohort_dir, source.key, source.cache, bundle_runner(bundle),
                                 list(bundle.models), progress=progress, meta=meta)  # fmt: skip
    except CacheBusy:
        st.warning("Another session is running this bundle on this folder right now. Reload "
                   "the page when it has finished: its results will be here.")  # fmt: skip
        return
    log.info("batch run of %s: %d films run, %d failed", source.key.name, report.ran,
             len(report.failed))  # fmt: skip
    st.rerun()


def failures_note(data: CohortData) -> None:
    """Films the batch could not run, with their reasons (the others are scored)."""
    failed = failures(data.members)
    if failed:
        st.warning(f"{len(failed)} film(s) could not be run and are not scored: "
                   + plain("; ".join(failed[:5])) + (" …" if len(failed) > 5 else ""))  # fmt: skip


def cache_panel(source: Source, data: CohortData) -> None:
    """Where the boxes came from, and forgetting them (the next run recomputes them)."""
    films = int((data.members["class_id"] == -1).sum())
    with st.expander(f"Cached member boxes: {films} films — reopening runs no model"):
        st.caption(
            f"Cache entry {code(source.key.name)}, written {plain(data.meta.get('created', '?'))}. "
            f"Key: bundle.json SHA-256 {code(source.key.bundle[:12])} + folder fingerprint "
            f"{code(source.key.data[:12])} (train.csv, sizes.csv, truth.json, image names, sizes "
            f"and times) + pipeline version {code(source.key.pipeline[:12])}. Detector members: "
            f"{plain(', '.join(data.detectors))}; fusion and the rule rerun from these boxes."
        )
        if st.button("Forget these cached boxes (the next run recomputes them)", key="cc_forget"):
            source.cache.clear(source.key)
            _cohort.clear()
            st.rerun()
