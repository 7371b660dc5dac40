"""``python -m core predict BUNDLE DATA OUT.csv`` for a chest bundle.

``DATA`` is a folder of films in the VinBigData layout (``train.csv`` not needed). Writes
the competition's submission (``image_id,PredictionString``, boxes in original pixels):

* ``OUT.csv``: the bundle's prediction: detectors (fused with WBF for an ensemble), then
  the classifier rule with its "No finding" score when the bundle has a classifier;
* ``OUT.without_rule.csv`` (bundles with a classifier): the same boxes without the rule,
  so ``evaluate`` can show what the rule is worth;
* ``OUT.films.csv``: per film, P(abnormal), the "No finding" score, the rule's action and
  the box count, or why the film could not be read.

Films are decoded one at a time and run in batches with a progress bar; an unreadable
film gets a reason in ``OUT.films.csv`` and the log and never stops the run (it gets no
submission row: nothing is invented for a film nobody saw). Exit status: 0 done; 1 done
with unreadable films; 2 the bundle or folder cannot be used.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from core.intake.errors import IntakeError
from core.models.bundle import BundleError, load_bundle
from core.studies.chest.layout import load_film, scan_folder
from core.studies.chest.runner import ChestOutput, ChestRunner, predictions_frame
from core.studies.chest.submission import write_submission

__all__ = ["chest_output_paths", "run_chest", "predict_films"]

log = logging.getLogger(__name__)


def chest_output_paths(out: Path) -> dict[str, Path]:
    return {
        "submission": out,
        "without_rule": out.with_name(f"{out.stem}.without_rule.csv"),
        "films": out.with_name(f"{out.stem}.films.csv"),
    }


def predict_films(runner: ChestRunner, data: Path, *, batch_size: int = 4,
                  progress: bool = True) -> tuple[list[ChestOutput], dict[str, str]]:  # fmt: skip
    """Run ``runner`` over every film of ``data``: ``(outputs in id order, {id: why unread})``."""
    table = scan_folder(data)
    problems = dict(table.unusable)
    ids = sorted(table.sizes)

    def films() -> Iterator[tuple[str, object, tuple[int, int]]]:
        for image_id in ids:
            try:
                film = load_film(table.paths[image_id], original_size=table.sizes[image_id])
            except (IntakeError, OSError) as err:
                problems[image_id] = str(err)
                log.warning("%s: skipped (%s)", image_id, err)
                continue
            yield image_id, film.pixels, film.original_size

    outputs = list(tqdm(runner.iter_run(films(), batch_size), total=len(ids), desc="predict",
                        unit="film", disable=not progress))  # fmt: skip
    return outputs, problems


def _films_table(outputs: list[ChestOutput], problems: dict[str, str]) -> pd.DataFrame:
    rows = [
        {"image_id": o.image_id, "p_abnormal": o.p_abnormal, "no_finding": o.no_finding,
         "boxes": len(o.final[0]), "action": o.action, "problem": ""}
        for o in outputs
    ] + [
        {"image_id": k, "p_abnormal": None, "no_finding": None, "boxes": 0, "action": "", "problem": v}
        for k, v in sorted(problems.items())
    ]  # fmt: skip
    return pd.DataFrame(
        rows, columns=["image_id", "p_abnormal", "no_finding", "boxes", "action", "problem"]
    )


def run_chest(args: argparse.Namespace) -> int:
    try:
        runner = ChestRunner(load_bundle(args.bundle, device=args.device))
    except (BundleError, ValueError) as err:
        log.error("%s", err)
        return 2
    if not Path(args.data).is_dir():
        log.error("%s: not a folder of films", args.data)
        return 2
    outputs, problems = predict_films(runner, Path(args.data), batch_size=args.cases_per_batch)
    paths = chest_output_paths(Path(args.out))
    paths["submission"].parent.mkdir(parents=True, exist_ok=True)
    write_submission(predictions_frame(outputs, stage="final"), paths["submission"])
    if runner.classifier is not None and runner.detectors:
        write_submission(predictions_frame(outputs, stage="fused"), paths["without_rule"])
    _films_table(outputs, problems).to_csv(paths["films"], index=False)
    log.info(
        "%d films predicted, %d unreadable -> %s", len(outputs), len(problems), paths["submission"]
    )
    return 1 if problems else 0
