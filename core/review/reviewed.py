"""One reviewed case: the record the case page hands to the exporters, the report and the
verdict builder.

Before it, the page carried the case, its cleaned views, the result, the heatmaps on
screen with their settings and timing, and the export context as separate arguments, and
each consumer took its own subset of them in its own order (the report took seven). One
frozen record built once on the page cannot drift: every download and every verdict
describes the same case, the same result and the same heatmaps the reader looked at.

The record is study-agnostic: ``result`` is any :class:`core.studies.StudyResult`. The
aneurysm-only consumers (the HTML report and the CSV) ask for the aneurysm result through
:func:`case_result`, which says clearly when a study has no such export.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType
from typing import Mapping

from core.case import Case, CleanView
from core.models.result import CaseResult, ViewCam
from core.review.overlay import HeatmapSettings
from core.studies.study import StudyResult

__all__ = ["ExportContext", "ReviewedCase", "case_result"]


@dataclass(frozen=True)
class ExportContext:
    """What the page knows beyond the result: where the numbers came from."""

    threshold_set: str
    training_data: str
    notice: str | None = None  # e.g. the demo notice


@dataclass(frozen=True, eq=False)  # eq=False: views and maps are arrays, compare by identity
class ReviewedCase:
    """The case, its cleaned views, the result, the heatmaps shown, and their context.

    ``cams`` are the maps on screen (empty when none were computed), drawn with
    ``settings`` (``None``: no heatmaps shown); ``cam_ms`` is what computing them took
    beyond the model run. The mappings are frozen on construction, so a consumer can never
    change what another one reads.
    """

    case: Case
    clean: Mapping[str, CleanView]
    result: StudyResult
    context: ExportContext
    cams: Mapping[str, ViewCam] = field(default_factory=dict)
    settings: HeatmapSettings | None = None
    cam_ms: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "clean", MappingProxyType(dict(self.clean)))
        object.__setattr__(self, "cams", MappingProxyType(dict(self.cams)))
        if self.cams and self.settings is None:
            raise ValueError("heatmaps without the settings they were drawn with")
        if self.cam_ms < 0:
            raise ValueError(f"cam_ms must be >= 0, got {self.cam_ms}")

    @cached_property
    def case_hash(self) -> str:
        """``case.content_hash()``, once per record: hashing eight views' pixels takes
        ~12 ms, and a page asks for it several times per rerun."""
        return self.case.content_hash()

    def with_heatmaps(
        self, settings: HeatmapSettings, cams: Mapping[str, ViewCam], cam_ms: float
    ) -> ReviewedCase:
        """The same case with the heatmaps the reader is looking at now (the page's
        heatmap controls rerun alone, so they arrive after the rest of the record)."""
        return replace(self, settings=settings, cams=cams, cam_ms=cam_ms)


def case_result(reviewed: ReviewedCase, what: str) -> CaseResult:
    """The aneurysm result behind ``reviewed``, for an export only that study has.

    Raises :class:`TypeError` naming ``what`` and the study otherwise.
    """
    if not isinstance(reviewed.result, CaseResult):
        raise TypeError(f"{what} is only made for aneurysm cases, not {reviewed.result.study!r}")
    return reviewed.result
