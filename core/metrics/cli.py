"""``python -m core evaluate PRED.csv DATA``: score ``predict`` output against ``train.csv``.

Prints one JSON object: aneurysm AUROC (bootstrap 95 % CI) and operating points; the K-Ium
location accuracy beside its all-zeros floor; per-location AUROC/F1/support/confusion
counts; the macro location AUROC (over the locations where it is defined, with their
count); the RSNA-style weighted AUROC; and, when ``DATA/truth.json`` and
``PRED.views.csv`` exist, the CAM pointing game with its stated margin.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.metrics.files import evaluate_files, json_ready
from core.metrics.pointing import DEFAULT_MARGIN_FRAC
from core.models.manifest import BundleError, read_manifest

__all__ = ["configure", "run", "bundle_stage1_threshold"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pred", type=Path, help="OUT.csv written by `python -m core predict`")
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


def bundle_stage1_threshold(bundle: Path) -> float:
    """The stage-1 threshold recorded in ``bundle.json`` (no model is loaded)."""
    stage1 = read_manifest(bundle).thresholds.stage1
    if stage1 is None:
        raise BundleError(f"{bundle}: the bundle has no stage-1 threshold (not an aneurysm bundle)")
    return stage1


def run(args: argparse.Namespace) -> int:
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
    text = json.dumps(json_ready(report), indent=2, allow_nan=False)
    if args.out is not None:
        args.out.write_text(text + "\n")
    sys.stdout.write(text + "\n")
    return 0
