"""``python -m core thresholds fit|compare BUNDLE DATA``: location sets without retraining.

* ``fit`` runs the bundle on labelled patients of ``DATA``, fits location thresholds by
  ``--rule`` (``f1`` or ``precision=P``; :mod:`core.models.location_rules`) behind the
  stage-1 gate of ``--base`` (default: the bundle's own), and saves them as a named set in
  ``BUNDLE/thresholds/``. With ``--patients validation`` (the default) only the bundle's
  recorded validation split is used, and ``DATA`` must be the folder it was trained on;
  ``--patients all`` fits on every labelled patient of ``DATA`` (a development cohort: never
  the held-out one that will judge the set).
* ``compare`` runs the bundle once and prints every set of the bundle side by side, each
  K-Ium location accuracy beside its all-zeros floor (:func:`compare_sets`).

Both print one JSON object (and write it with ``--out``). Exit status: 0 done; 2 the
bundle, the folder or the patients cannot be used.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd

from core.cohort.location_sets import compare_sets, fit_on_table, predict_table, validation_indices
from core.intake.errors import IntakeError
from core.intake.folder import KiumFolder, read_kium_folder
from core.models.bundle import BundleError, load_bundle
from core.models.location_rules import DEFAULT_MIN_TP, LocationRuleError, parse_location_rule
from core.models.manifest import read_manifest
from core.models.threshold_sets import (
    ORIGINAL,
    list_threshold_sets,
    load_threshold_set,
    save_threshold_set,
)
from core.models.thresholds import ThresholdsError

__all__ = ["PatientsError", "configure", "run"]

log = logging.getLogger(__name__)


class PatientsError(ValueError):
    """The patients asked for are not in the folder (no recorded validation split there)."""


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    fit = sub.add_parser("fit", help="fit location thresholds and save them as a named set")
    compare = sub.add_parser("compare", help="every set of the bundle side by side")
    for p in (fit, compare):
        p.add_argument("bundle", type=Path, help="aneurysm bundle directory")
        p.add_argument("data", type=Path, help="labelled K-Ium folder (train.csv)")
        p.add_argument(
            "--patients", choices=("validation", "all"), default="validation",
            help="the bundle's validation split of DATA (its training folder), or all of DATA",
        )  # fmt: skip
        p.add_argument("--out", type=Path, help="also write the JSON here")
    fit.add_argument("--rule", default="precision=0.8", help="f1 or precision=P")
    fit.add_argument("--name", help="set name (default: <rule>-<patients>)")
    fit.add_argument("--base", default=ORIGINAL, help="set whose stage-1 gate is kept")
    fit.add_argument(
        "--min-tp", type=int, default=DEFAULT_MIN_TP,
        help="true positives a location needs before it is ever flagged",
    )  # fmt: skip
    fit.add_argument("--author", default="thresholds fit", help="who fitted the set")
    fit.add_argument("--overwrite", action="store_true", help="replace a set of that name")


def _patients(args: argparse.Namespace, folder: KiumFolder) -> list[int]:
    labelled = [i for i in folder.indices if i in (folder.labels or {})]
    if args.patients == "all":
        return labelled
    val = validation_indices(read_manifest(args.bundle), folder)
    if val is None:
        raise PatientsError(
            f"{folder.root} is not the folder this bundle was trained on (or the bundle "
            "records no validation split): use --patients all on a development cohort"
        )
    return val


def _emit(report: dict[str, object], out: Path | None) -> int:
    text = json.dumps(report, indent=2, allow_nan=False, default=float)
    if out is not None:
        out.write_text(text + "\n")
    sys.stdout.write(text + "\n")
    return 0


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return json.loads(frame.to_json(orient="records"))


def run(args: argparse.Namespace) -> int:
    try:
        rule = parse_location_rule(args.rule) if args.action == "fit" else None
        folder = read_kium_folder(args.data)
        indices = _patients(args, folder)
        bundle = load_bundle(args.bundle)
        sets = {n: load_threshold_set(args.bundle, n) for n in list_threshold_sets(args.bundle)}
        base = load_threshold_set(args.bundle, args.base) if rule is not None else None
    except (BundleError, ThresholdsError, IntakeError, LocationRuleError, PatientsError) as err:
        log.error("%s", err)
        return 2
    table = predict_table(bundle, folder, indices)
    where = f"{len(table)} {args.patients} patients of {folder.root.name}"
    report: dict[str, object] = {"patients": where}
    if rule is not None and base is not None and base.stage1 is not None:
        name = args.name or f"{rule.slug()}-{args.patients}"
        fitted = fit_on_table(
            table, rule, stage1=base.stage1, min_tp=args.min_tp, author=args.author,
            fitted_on=f"{where} (gate of set {args.base!r})",
        )  # fmt: skip
        try:
            report["saved"] = str(
                save_threshold_set(args.bundle, name, fitted, overwrite=args.overwrite)
            )
        except ThresholdsError as err:
            log.error("%s", err)
            return 2
        sets[name] = fitted
    report["sets"] = _records(compare_sets(table, sets))
    return _emit(report, args.out)
