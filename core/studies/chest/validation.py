"""Run a chest bundle over some films of a labelled folder and score them.

The augmentation study, the ensemble's rule fitting and the demo all need "these films,
this bundle, the competition's figure"; this is that, once. Truth is the folder's readers
fused with :data:`~core.studies.chest.fusion.DEFAULT_FUSION`, as ``evaluate`` uses.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from core.intake.errors import IntakeError
from core.studies.chest.fusion import DEFAULT_FUSION, fuse_readers
from core.studies.chest.layout import image_path, load_film, read_vinbigdata
from core.studies.chest.metric_report import chest_report
from core.studies.chest.runner import ChestOutput, ChestRunner, predictions_frame

__all__ = ["run_on_films", "fused_truth", "score_on_films"]

log = logging.getLogger(__name__)


def run_on_films(runner: ChestRunner, data: Path, image_ids: Sequence[str], sizes: pd.DataFrame,
                 batch_size: int = 4) -> list[ChestOutput]:  # fmt: skip
    """The runner's outputs for ``image_ids`` of ``data`` (unreadable films logged, skipped)."""

    def items():  # noqa: ANN202
        for image_id in image_ids:
            size = tuple(int(v) for v in sizes.loc[image_id, ["width", "height"]])
            try:
                film = load_film(image_path(data, image_id), original_size=size)
            except (IntakeError, OSError) as err:
                log.warning("%s: skipped (%s)", image_id, err)
                continue
            yield image_id, film.pixels, film.original_size

    return list(runner.iter_run(items(), batch_size))


def fused_truth(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(truth rows, sizes)`` of a labelled folder, readers fused as ``evaluate`` does."""
    annotations = read_vinbigdata(data)
    return fuse_readers(annotations, **DEFAULT_FUSION.to_dict()), annotations.sizes


def score_on_films(runner: ChestRunner, data: Path, image_ids: Sequence[str], *, stage: str = "final",
                   n_boot: int = 200, seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """:func:`~core.studies.chest.metric_report.chest_report` of the runner on
    ``image_ids`` (``stage``: ``final`` with the classifier rule, ``fused`` without)."""
    truth, sizes = fused_truth(data)
    ids = [str(i) for i in image_ids]
    outputs = run_on_films(runner, data, ids, sizes)
    truth = truth[truth["image_id"].astype(str).isin(ids)]
    return chest_report(
        predictions_frame(outputs, stage=stage), truth, sizes.loc[ids], n_boot=n_boot, seed=seed
    )
