"""Which cohort and bundle the cohort page analyses, and getting their prediction table.

The bundle is the one chosen in the sidebar (``ui.bundle``'s ``bundle_dir`` input); only
its ``bundle.json`` is read to find a cached table, so opening a cached cohort neither
loads a model nor runs one. The models load only when the user asks for a batch run.

Both folders must resolve inside the app's allowed roots (:mod:`core.roots`), or nothing is
read. Opening a cohort (once per session) and starting a batch run go to the audit trail,
with the cohort named by its data fingerprint, never its folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core import paths
from core.cohort.batch import bundle_predictor, run_batch
from core.cohort.cache import CacheBusy, CacheKey, PredictionCache, cache_key
from core.cohort.whatif import interval_report, ranking_report
from core.intake.errors import BadFile
from core.intake.folder import KiumFolder, read_kium_folder
from core.models.bundle import load_bundle
from core.models.manifest import BundleError, is_bundle_dir, read_manifest
from core.roots import PathOutsideRoots, inside_roots
from core.schema import ORIGINAL_GROUPS, CirculationGroups, SchemaError, groups_of
from core.verdicts import AuditAction, TargetKind
from ui.audit import audit, audit_once

__all__ = [
    "Source",
    "pick_source",
    "cached_table",
    "rankings",
    "offer_batch",
    "bundle_groups",
    "intervals",
    "settings",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """A cohort folder, a bundle directory and the cache entry for the pair."""

    cohort_dir: Path
    bundle_dir: Path
    key: CacheKey
    cache: PredictionCache


def _bundle_dir() -> Path:
    """The sidebar's bundle folder, resolved; :class:`PathOutsideRoots` outside the roots."""
    raw = str(st.session_state.get("bundle_dir") or "").strip()
    return inside_roots(raw or paths.configured_bundle_dir())


def pick_source() -> Source | None:
    """The cohort folder input and the cache lookup; ``None`` (with a message) when unusable."""
    default = str(paths.demo_cohort_dir("heldout"))
    raw = st.text_input(
        "Labelled cohort folder (K-Ium layout: train.csv + {Index}{View}.jpg)",
        value=default,
        key="cohort_dir",
        help="Defaults to the demo held-out cohort. The bundle is the one chosen in the sidebar.",
    ).strip()
    cam = st.toggle(
        "With CAM peaks (pointing game; slower to run)",
        key="cohort_cam",
        help="Also computes each view's stage-1 Grad-CAM peak during the batch run.",
    )
    try:
        cohort = inside_roots(raw or default)
        bundle = _bundle_dir()
        cache = PredictionCache()
    except PathOutsideRoots as err:
        st.error(f"This folder is refused: {err}")
        return None
    if not cohort.is_dir():
        st.info(f"No cohort folder at `{cohort}`. Build the demo (sidebar) or enter a folder.")
        return None
    if not is_bundle_dir(bundle):
        st.info(f"No model bundle at `{bundle}`: choose one in the sidebar.")
        return None
    key = cache_key(bundle, cohort, variant="cam" if cam else "scores")
    with_cam = replace(key, variant="cam")
    if not cam and not cache.has(key) and cache.has(with_cam):
        key = with_cam  # a table with CAM peaks also has every score
    audit_once(AuditAction.OPEN_COHORT, TargetKind.COHORT, key.data, {"bundle": key.bundle})
    return Source(cohort, bundle, key, cache)


@st.cache_data(max_entries=8, show_spinner=False)
def _read(path: str, mtime_ns: int) -> pd.DataFrame:
    """The parquet table; the cache key is content-addressed (bundle, data fingerprint and
    pipeline version)."""
    return PredictionCache.read_table(Path(path))


@st.cache_data(max_entries=8, show_spinner=False)
def rankings(key_name: str, _table: pd.DataFrame) -> dict[str, Any]:
    """The table's threshold-free AUROCs, once per cache entry (``key_name`` is
    content-addressed, so sessions may share it)."""
    return ranking_report(_table)


def cached_table(source: Source) -> pd.DataFrame | None:
    """The finished table for this bundle and data, if it was computed before."""
    path = source.cache.table_path(source.key)
    if not path.is_file():
        return None
    return _read(str(path), path.stat().st_mtime_ns)


def _folder(cohort_dir: Path) -> KiumFolder | None:
    try:
        folder = read_kium_folder(cohort_dir)
    except BadFile as err:
        st.error(f"This folder cannot be used as a cohort: {err}")
        return None
    if folder.labels is None:
        st.error("This folder has no train.csv; cohort analysis needs labels.")
        return None
    return folder


def offer_batch(source: Source) -> None:
    """Explain that the cohort has not been run with this bundle, and run it on request."""
    folder = _folder(source.cohort_dir)
    if folder is None:
        return
    n = sum(1 for i in folder.indices if i in folder.labels)  # type: ignore[operator]
    parts = source.cache.read_parts(source.key)
    done = 0 if parts is None else len(parts)
    if done:
        st.warning(
            f"An earlier run stopped after {done} of {n} patients; it will continue from there."
        )
    else:
        st.info(f"This bundle has not been run on this cohort yet ({n} labelled patients).")
    if not st.button(
        "Resume the batch run" if done else f"Run the model on {n} patients",
        type="primary",
        key="cohort_run",
    ):
        return
    try:
        with st.spinner("Loading models…"):
            bundle = load_bundle(source.bundle_dir)  # only when a run is asked for
    except BundleError as err:
        st.error(f"This bundle cannot be loaded: {err}")
        return
    audit(
        AuditAction.RUN_BUNDLE,
        TargetKind.COHORT,
        source.key.data,
        {"bundle": source.key.bundle, "variant": source.key.variant, "patients": n},
    )
    bar = st.progress(done / max(n, 1), text="Starting…")

    def progress(finished: int, total: int) -> None:
        bar.progress(finished / max(total, 1), text=f"{finished} / {total} patients")

    try:
        report = run_batch(
            folder,
            source.key,
            source.cache,
            bundle_predictor(bundle, cam=source.key.variant == "cam"),
            progress=progress,
            meta={"bundle_dir": str(source.bundle_dir), "cohort_dir": str(source.cohort_dir)},
        )
    except CacheBusy:
        st.warning(
            "Another session is running this bundle on this cohort right now. "
            "Reload the page when it has finished: its results will be here."
        )
        return
    if report.skipped:
        st.warning("Left out: " + "; ".join(report.skipped[:10]))
    st.rerun()


def bundle_groups(bundle_dir: Path) -> CirculationGroups:
    """The bundle's circulation grouping (the sliders follow it), from bundle.json alone.

    A manifest that cannot be read as a bundle (a table cached for a bundle since removed
    or rewritten) still opens with the original grouping, and the reason is logged.
    """
    try:
        return groups_of(read_manifest(bundle_dir).schema)
    except (BundleError, SchemaError) as err:
        log.warning("%s: original circulation groups used (%s)", bundle_dir, err)
        return ORIGINAL_GROUPS


def intervals(source: Source, table: pd.DataFrame, n_boot: int, seed: int = 0) -> dict[str, Any]:
    """Bootstrap intervals of the AUROCs: from the cache, else computed once and cached."""
    saved = source.cache.load_intervals(source.key, n_boot, seed)
    if saved is not None:
        return saved
    with st.spinner(f"Bootstrap 95% intervals ({n_boot} patient resamples; once per cohort)…"):
        report = interval_report(table, n_boot=n_boot, seed=seed)
    source.cache.save_intervals(source.key, n_boot, seed, report)
    return report


def settings(source: Source, table: pd.DataFrame) -> int:
    """Where the predictions came from, bootstrap size, and forgetting the cache."""
    meta = source.cache.meta(source.key) or {}
    with st.expander(f"Cached predictions: {len(table)} patients — reopening runs no model"):
        st.caption(
            f"Cache entry `{source.key.name}` ({source.cache.table_path(source.key)}), written "
            f"{meta.get('created', 'unknown')}. Key: bundle.json SHA-256 "
            f"`{source.key.bundle[:12]}…` + data fingerprint `{source.key.data[:12]}…` "
            "(train.csv, truth.json, image names, sizes and times) + pipeline version "
            f"`{source.key.pipeline[:12]}…` (preprocessing and decision code): editing labels "
            "or images, retraining, or changing that code gives a new entry."
        )
        n_boot = int(
            st.selectbox("Bootstrap resamples", [200, 1000, 2000], index=1, key="cohort_n_boot")
        )
        if st.button(
            "Forget these cached predictions (the next run recomputes them)", key="cohort_forget"
        ):
            source.cache.clear(source.key)
            _read.clear()
            st.rerun()
    return n_boot
