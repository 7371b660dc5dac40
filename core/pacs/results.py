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
from core.pacs.sr import VerdictLike, build_sr, header

__all__ = ["ResultObjects", "build_results"]


@dataclass(frozen=True)
class ResultObjects:
    """The SR first, then one capture per view with a heatmap; ``sources`` the header of
    each view's (first) image, ``images`` every image the views were made from."""

    sr: Dataset
    captures: tuple[Dataset, ...]
    sources: dict[str, Dataset]
    images: tuple[Dataset, ...]

    @property
    def all(self) -> list[Dataset]:
        return [self.sr, *self.captures]


def build_results(
    review: PacsReview, verdicts: Sequence[VerdictLike] = (), *, captures: bool = True
) -> ResultObjects:
    """The SR of ``review``'s findings (with ``verdicts``) and, with ``captures``, the
    stamped heatmap captures of its views."""
    used = {v: a for v, a in review.mapping.views.items() if v in review.case.views}
    runs = {
        v: [header(review.files.files[i.sop_uid]) for i in a.instances] for v, a in used.items()
    }
    sources = {v: images[0] for v, images in runs.items()}
    everything = [ds for images in runs.values() for ds in images]
    result, bundle = review.result, review.bundle
    sr = build_sr(
        bundle.study, bundle.name, bundle.manifest_sha256, result.findings, sources, verdicts,
        evidence=everything,
    )  # fmt: skip
    shots: list[Dataset] = []
    if captures:
        pictures, how = overlays(bundle, review.case)
        shown = {v: p for v, p in pictures.items() if v in sources}
        shots = build_captures(shown, sources, how, runs)
    return ResultObjects(sr, tuple(shots), sources, tuple(everything))
