"""One PACS study reviewed: inventory, retrieve, map, the study's case, the bundle's result.

:func:`review_study` is the whole path for the CLI and for a worklist page; a page that
lets the reader correct the mapping calls :func:`remap` with the corrections and gets a
new case and result from the files already on disk (nothing is downloaded again).
A :class:`PacsReview` remembers the endpoint it came from: results go back to that one
only (:func:`core.pacs.send.send_results`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.case import Case
from core.intake.frames import DEFAULT_FRAME_RULE, FrameRule
from core.models.bundle import Bundle, load_bundle
from core.pacs.config import Endpoint
from core.pacs.inventory import StudyInventory, study_inventory
from core.pacs.mapping import ViewMapping, build_case, map_views
from core.pacs.retrieve import Progress, RetrievedStudy, retrieve
from core.studies import get_study

__all__ = ["PacsReview", "remap", "review_study", "run_bundle"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PacsReview:
    """A retrieved, mapped and scored study; ``files`` stay on disk until :meth:`close`."""

    endpoint: Endpoint
    study_uid: str
    inventory: StudyInventory
    files: RetrievedStudy
    mapping: ViewMapping
    case: Case
    bundle: Bundle
    result: Any  # the study's StudyResult (CaseResult, ChestResult)

    def close(self) -> None:
        """Remove the retrieved files (the case's pixels stay in memory)."""
        self.files.cleanup()

    def findings_dict(self) -> dict[str, Any]:
        """What the CLI prints: mapping, intake problems, findings; no identifier."""
        return {
            "study": self.bundle.study,
            "bundle": self.bundle.name,
            "bundle_sha256": self.bundle.manifest_sha256,
            "case_id": self.case.case_id,
            "mapping": self.mapping.to_dict(),
            "problems": [p.message for p in self.case.problems],
            "findings": [f.to_dict() for f in self.result.findings],
        }


def run_bundle(bundle: Bundle, case: Case) -> Any:
    """The bundle's study's ``predict`` on one case (asked of the registry)."""
    study = get_study(bundle.study)
    if study.predict is None:
        raise ValueError(f"the {study.name} study has no models to run")
    return next(iter(study.predict(bundle, [case])))


def review_study(
    endpoint: Endpoint,
    study_uid: str,
    bundle_dir: str | Path,
    *,
    overrides: Mapping[str, str] | None = None,
    frame_rule: FrameRule = DEFAULT_FRAME_RULE,
    device: str | None = None,
    progress: Progress | None = None,
) -> PacsReview:
    """Retrieve ``study_uid`` from ``endpoint``, map it to the bundle's study and run it
    (``progress`` hears of each image downloaded).

    Raises :class:`~core.pacs.errors.PacsError` subclasses (server, size, mapping) and the
    bundle loader's ``BundleError``; the retrieved files are removed on any failure.
    """
    bundle = load_bundle(bundle_dir, device=device)
    inventory = study_inventory(endpoint, study_uid, bundle.study)
    files = retrieve(endpoint, inventory, progress)
    try:
        mapping = map_views(inventory, bundle.study, overrides)
        case = build_case(mapping, files, frame_rule=frame_rule)
        result = run_bundle(bundle, case)
    except BaseException:
        files.cleanup()
        raise
    log.info("%s: case %s scored with %s", endpoint.name, case.case_id, bundle.name)
    return PacsReview(endpoint, study_uid, inventory, files, mapping, case, bundle, result)


def remap(
    review: PacsReview, overrides: Mapping[str, str], *, frame_rule: FrameRule = DEFAULT_FRAME_RULE
) -> PacsReview:
    """The same study with the reader's corrections (series UID -> view, ``""`` leaves it out)."""
    mapping = map_views(review.inventory, review.bundle.study, overrides)
    case = build_case(mapping, review.files, frame_rule=frame_rule)
    return replace(review, mapping=mapping, case=case, result=run_bundle(review.bundle, case))
