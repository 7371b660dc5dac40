"""Single-image classification with a one-model bundle: the predictor a study of one image
per case and one score per label can register as its own (:class:`core.studies.Study`).

The model's input spec and labels come from its bundle (``bundle.spec(role)``), so the
same runner serves any label set; decisions are :func:`core.findings.decide_findings`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice

from core.case import Case
from core.models.bundle import Bundle
from core.models.registry import ModelSpec
from core.models.runner import DEFAULT_BATCH, logits, sigmoid
from core.results import ImageResult
from core.studies.study import StudySchema

__all__ = ["IMAGE_ROLE", "ImageCaseError", "check_image_specs", "iter_classify_images"]

#: The role of the one network a single-image classification bundle holds.
IMAGE_ROLE = "classifier"


class ImageCaseError(ValueError):
    """A case handed to a single-image study does not hold exactly one image."""


def check_image_specs(specs: Mapping[str, ModelSpec], schema: StudySchema) -> None:
    """The one classifier must score exactly the schema's labels, in its order."""
    labels = tuple(specs[IMAGE_ROLE].labels)
    if labels != schema.labels:
        raise ValueError(f"{IMAGE_ROLE} labels {labels} differ from the schema's {schema.labels}")


def _image(case: Case) -> str:
    if len(case.views) != 1:
        raise ImageCaseError(
            f"case {case.case_id}: a single-image study needs one image, got {len(case.views)}"
        )
    return next(iter(case.views))


def iter_classify_images(
    bundle: Bundle, cases: Iterable[Case], *, batch: int = DEFAULT_BATCH
) -> Iterator[ImageResult]:
    """One :class:`ImageResult` per case, in input order, ``batch`` images per pass;
    cases are read lazily, so a folder of thousands never sits in memory."""
    labels = bundle.spec(IMAGE_ROLE).labels
    pending = iter(cases)
    while chunk := list(islice(pending, batch)):
        t0 = time.perf_counter()
        pixels = [c.views[_image(c)].pixels for c in chunk]
        probs = sigmoid(logits(bundle, IMAGE_ROLE, pixels, batch))
        share = (time.perf_counter() - t0) * 1e3 / len(chunk)
        for case, row in zip(chunk, probs):
            yield ImageResult(
                study=bundle.study,
                case_id=case.case_id,
                content_hash=case.content_hash(),
                bundle=bundle.name,
                bundle_sha256=bundle.manifest_sha256,
                scores=dict(zip(labels, map(float, row))),
                thresholds=bundle.thresholds,
                notes=tuple(p.message for p in case.problems),
                timings_ms={"model": share},
            )
