"""Three plain functions over the chest cohort core, for benchmarks, scripts and the page.

* :func:`run_cohort` - run (or resume, or just read) a bundle over a labelled folder and
  cache the per-member box table;
* :func:`load_cohort` - read it back from the cache, with the truth and the bundle's
  stored WBF settings and rule (no weights are read);
* :func:`what_if` - metrics at thresholds, WBF settings and rule on/off, no model.

Also :func:`find_study_table`: the augmentation study's table near a bundle, if any.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.models.bundle import load_bundle
from core.models.manifest import read_manifest
from core.models.thresholds import Thresholds
from core.studies.chest.annotations import Annotations
from core.studies.chest.cohort.batch import (
    ChestBatchReport,
    ProgressFn,
    bundle_runner,
    failures,
    run_chest_batch,
)
from core.studies.chest.cohort.scoring import ScoredCohort, score_cohort
from core.studies.chest.cohort.store import FILM_CLASS, ChestCohortCache, chest_cache_key
from core.studies.chest.cohort.whatif import ChestWhatIf, apply_thresholds
from core.studies.chest.ensemble import EnsembleSettings
from core.studies.chest.fusion import DEFAULT_FUSION, fuse_readers
from core.studies.chest.layout import read_vinbigdata
from core.studies.chest.roles import CLASSIFIER, detector_roles
from core.studies.chest.rule import ClassifierRule

__all__ = ["CohortData", "bundle_fusion", "find_study_table", "load_cohort", "run_cohort",
           "what_if"]  # fmt: skip

log = logging.getLogger(__name__)

#: Where ``python -m core study`` writes its table, relative to one of its cell bundles.
STUDY_JSON = "chest_study.json"


@dataclass(frozen=True)
class CohortData:
    """A cached cohort ready for what-ifs: the member table, the detector roles, the
    fused reader truth, the folder's annotations and the bundle's stored fusion and rule."""

    members: pd.DataFrame
    detectors: list[str]
    truth: pd.DataFrame
    annotations: Annotations
    fusion: EnsembleSettings
    rule: ClassifierRule | None  # None: the bundle has no classifier
    meta: dict[str, Any]


def bundle_fusion(bundle_dir: Path) -> tuple[EnsembleSettings, ClassifierRule | None, list[str]]:
    """The bundle's stored WBF settings, its rule (None without a classifier) and its
    detector roles, from ``bundle.json`` alone (as :class:`ChestRunner` reads them)."""
    manifest = read_manifest(bundle_dir)
    settings = manifest.settings
    fusion = (
        EnsembleSettings.from_dict(settings["ensemble"])
        if settings.get("ensemble")
        else EnsembleSettings()
    )
    rule = ClassifierRule.from_dict(settings["rule"]) if settings.get("rule") else ClassifierRule()
    roles = list(manifest.roles)
    return fusion, rule if CLASSIFIER in roles else None, list(detector_roles(roles))


def run_cohort(cohort_dir: Path, bundle_dir: Path, *, cache: ChestCohortCache | None = None,
               progress: ProgressFn | None = None, chunk_size: int = 8) -> ChestBatchReport:  # fmt: skip
    """Run ``bundle_dir`` on every labelled film of ``cohort_dir`` that is not cached yet
    (resuming an interrupted run), and cache the per-member box table. A cohort already
    cached returns at once without loading the models."""
    cache = cache or ChestCohortCache()
    key = chest_cache_key(bundle_dir, cohort_dir)
    if (table := cache.load(key)) is not None:
        films = int((table["class_id"] == FILM_CLASS).sum())
        return ChestBatchReport(table, films, films, 0, failures(table))
    bundle = load_bundle(Path(bundle_dir).resolve())
    meta = {"bundle_dir": str(bundle_dir), "cohort_dir": str(cohort_dir)}
    return run_chest_batch(Path(cohort_dir), key, cache, bundle_runner(bundle), list(bundle.models),
                           chunk_size=chunk_size, progress=progress, meta=meta)  # fmt: skip


def load_cohort(cohort_dir: Path, bundle_dir: Path, *,
                cache: ChestCohortCache | None = None) -> CohortData | None:  # fmt: skip
    """The cached cohort (None when this bundle has not run on this folder with this
    code), with the folder's truth fused as ``evaluate`` does; no weights are read."""
    cache = cache or ChestCohortCache()
    key = chest_cache_key(bundle_dir, cohort_dir)
    table = cache.load(key)
    if table is None:
        return None
    fusion, rule, detectors = bundle_fusion(Path(bundle_dir))
    annotations = read_vinbigdata(cohort_dir)
    truth = fuse_readers(annotations, **DEFAULT_FUSION.to_dict())
    meta = cache.meta(key) or {}
    return CohortData(table, list(meta.get("detectors") or detectors), truth, annotations,
                      fusion, rule, meta)  # fmt: skip


def what_if(data: CohortData, thresholds: Thresholds, *, fusion: EnsembleSettings | None = None,
            rule_on: bool = True, scored: ScoredCohort | None = None) -> ChestWhatIf:  # fmt: skip
    """Metrics at ``thresholds`` with ``fusion`` (default: the bundle's) and the rule on or
    off. Pass ``scored`` (from :func:`score_cohort` with the same settings) to skip fusion
    and matching: then a threshold change is only cumulative counts."""
    if scored is None:
        rule = data.rule if rule_on else None
        scored = score_cohort(data.members, data.truth, data.detectors, fusion or data.fusion, rule)
    return apply_thresholds(scored, thresholds)


def find_study_table(bundle_dir: Path) -> dict[str, Any] | None:
    """The augmentation study (``chest_study.json``) the bundle's training wrote: in the
    bundle folder, or two levels up (the study writes ``OUT/cells/<cell>/`` bundles)."""
    here = Path(bundle_dir)
    for folder in (here, here.parent, here.parent.parent):
        path = folder / STUDY_JSON
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as err:
                log.warning("%s: unreadable study table (%s)", path, err)
                return None
    return None
