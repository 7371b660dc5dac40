"""The chest study's ``predict``: cases in, :class:`ChestResult` out, through the one
runner (:class:`~core.studies.chest.runner.ChestRunner`), under the bundle's thresholds.

A chest case has one view (``image``); its boxes are wanted in the pixels of that view
unless the caller knows the film is a resized copy (``original_sizes``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from core.case import Case
from core.models.bundle import Bundle
from core.studies.chest.film import VIEW
from core.studies.chest.review.result import ChestResult
from core.studies.chest.runner import ChestRunner

__all__ = ["predict", "predict_chest"]


def predict_chest(
    bundle: Bundle,
    cases: Iterable[Case],
    original_sizes: Mapping[str, tuple[int, int]] | None = None,
    batch_size: int = 4,
) -> Iterator[ChestResult]:
    """One result per case that has its film, in order (a case without one is skipped
    with nothing to score). ``original_sizes`` maps a case id to the original
    ``(width, height)`` of a resized film."""
    runner = ChestRunner(bundle)
    sizes = original_sizes or {}
    kept: list[Case] = []

    def items() -> Iterator[tuple[str, object, tuple[int, int]]]:
        for case in cases:
            if VIEW not in case.views:
                continue
            px = case.views[VIEW].pixels
            kept.append(case)
            yield case.case_id, px, sizes.get(case.case_id, (int(px.shape[1]), int(px.shape[0])))

    for i, out in enumerate(runner.iter_run(items(), batch_size)):  # type: ignore[arg-type]
        case = kept[i]
        yield ChestResult(
            study=bundle.study, case_id=case.case_id, content_hash=case.content_hash(),
            bundle=bundle.name, bundle_sha256=bundle.manifest_sha256, output=out,
            thresholds=bundle.thresholds, notes=tuple(p.message for p in case.problems),
            timings_ms=dict(out.timings_ms),
        )  # fmt: skip


def predict(bundle: Bundle, cases: Iterable[Case]) -> Iterator[ChestResult]:
    """The :data:`core.studies.study.Predictor` of the chest study."""
    return predict_chest(bundle, cases)
