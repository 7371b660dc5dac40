"""``python -m core evaluate PRED.csv DATA``: score ``predict`` output against ``train.csv``.

One verb for both studies: the columns of ``DATA/train.csv`` decide. VinBigData's layout
goes to the chest metric (:func:`core.studies.chest.metric_report.evaluate_chest`:
``map_iou40`` and its companions; ``--gt``, ``--iou``, ``--thresholds`` apply there only);
anything else is K-Ium, scored as below with the options it always had.

K-Ium prints one JSON object: aneurysm AUROC (bootstrap 95 % CI) and operating points;
the K-Ium location accuracy beside its all-zeros floor; per-location AUROC/F1/support/
confusion counts; the macro location AUROC (over the locations where it is defined, with their
count); the RSNA-style weighted AUROC; and, when ``DATA/truth.json`` and
``PRED.views.csv`` exist, the CAM pointing game with its stated margin.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd

from core.metrics.files import evaluate_files, json_ready
from core.metrics.pointing import DEFAULT_MARGIN_FRAC
from core.models.manifest import BundleError, read_manifest

__all__ = ["bundle_stage1_threshold", "configure", "data_study", "run"]

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "pred",
        type=Path,
        help="OUT.csv written by `python -m core predict` (chest: a submission CSV)",
    )
    parser.add_argument("data", type=Path, help="folder with train.csv (and truth.json)")
    parser.add_argument(
        "--bundle", type=Path, help="report sensitivity/specificity at its stage-1 threshold"
    )
    parser.add_argument(
        "--threshold", type=float, action="append", help="aneurysm operating point (repeatable)"
    )
    parser.add_argument(
        "--bootstrap", type=int, default=1000, help="patient resamples for CIs (0: none)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument(
        "--margin-frac",
        type=float,
        default=DEFAULT_MARGIN_FRAC,
        help="pointing-game tolerance as a fraction of the longer image side",
    )
    parser.add_argument("--out", type=Path, help="also write the JSON to this file")
    chest = parser.add_argument_group("chest (VinBigData layout) only")
    chest.add_argument(
        "--gt", choices=("fused", "truth"), default="fused",
        help="truth: readers' boxes fused with fuse's default WBF, or the generator's lesions",
    )  # fmt: skip
    chest.add_argument("--iou", type=float, help="IoU threshold of the details (default 0.4)")
    chest.add_argument("--thresholds", type=Path, help="JSON {class: score} operating points")


def data_study(data: Path) -> str:
    """``"chest"`` when ``DATA/train.csv`` has VinBigData's columns, else ``"aneurysm"``."""
    from core.studies.chest.classes import TRAIN_COLUMNS as CHEST_COLUMNS

    csv = data / "train.csv"
    header = pd.read_csv(csv, nrows=0).columns if csv.is_file() else ()
    return "chest" if set(CHEST_COLUMNS) <= set(header) else "aneurysm"


def bundle_stage1_threshold(bundle: Path) -> float:
    """The stage-1 threshold recorded in ``bundle.json`` (no model is loaded)."""
    stage1 = read_manifest(bundle).thresholds.stage1
    if stage1 is None:
        raise BundleError(f"{bundle}: the bundle has no stage-1 threshold (not an aneurysm bundle)")
    return stage1


def _chest_report(args: argparse.Namespace) -> dict[str, object]:
    from core.studies.chest.metric_report import evaluate_chest

    if args.bundle is not None or args.threshold:
        log.warning("--bundle/--threshold are aneurysm options; use --thresholds for chest")
    return evaluate_chest(
        args.pred, args.data, gt=args.gt, iou_thr=args.iou, thresholds=args.thresholds,
        n_boot=args.bootstrap, seed=args.seed,
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if data_study(args.data) == "chest":
        return _emit(_chest_report(args), args.out)
    thresholds = list(args.threshold or [])
    if args.bundle is not None:
        thresholds.insert(0, bundle_stage1_threshold(args.bundle))
    report = evaluate_files(
        args.pred,
        args.data,
        thresholds=thresholds or [0.5],
        n_boot=args.bootstrap,
        seed=args.seed,
        margin_frac=args.margin_frac,
    )
    return _emit(report, args.out)


def _emit(report: dict[str, object], out: Path | None) -> int:
    """The report as one strict-JSON object on stdout (and in ``out``)."""
    text = json.dumps(json_ready(report), indent=2, allow_nan=False)
    if out is not None:
        out.write_text(text + "\n")
    sys.stdout.write(text + "\n")
    return 0
