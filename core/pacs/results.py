"""The results of a :class:`~core.pacs.review.PacsReview` as DICOM: the SR and the captures.

Built from the review alone (its result, its bundle, the headers of the images it used) and
the reviewer's verdicts when given, so what goes back to the PACS is exactly what the app
computed, with the source study's patient and study modules and nothing typed in the app.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset

from core.pacs.capture import build_captures
from core.pacs.heatmaps import overlays
from core.pacs.review import PacsReview
from core.pacs.sr import VerdictLike, build_sr, source_headers

__all__ = ["ResultObjects", "build_results"]


@dataclass(frozen=True)
class ResultObjects:
    """The SR first, then one capture per view with a heatmap."""

    sr: Dataset
    captures: tuple[Dataset, ...]
    sources: dict[str, Dataset]

    @property
    def all(self) -> list[Dataset]:
        return [self.sr, *self.captures]


def build_results(
    review: PacsReview, verdicts: Sequence[VerdictLike] = (), *, captures: bool = True
) -> ResultObjects:
    """The SR of ``review``'s findings (with ``verdicts``) and, with ``captures``, the
    stamped heatmap captures of its views."""
    paths = {v: review.files.files[a.instance.sop_uid] for v, a in review.mapping.views.items()}
    sources = {v: ds for v, ds in source_headers(paths).items() if v in review.case.views}
    result, bundle = review.result, review.bundle
    sr = build_sr(
        bundle.study, bundle.name, bundle.manifest_sha256, result.findings, sources, verdicts
    )
    shots: list[Dataset] = []
    if captures:
        pictures, how = overlays(bundle, review.case)
        shots = build_captures({v: p for v, p in pictures.items() if v in sources}, sources, how)
    return ResultObjects(sr, tuple(shots), sources)
