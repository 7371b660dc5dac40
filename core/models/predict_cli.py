"""``python -m core predict BUNDLE DATA OUT.csv``: run a bundle on a folder.

A chest bundle (its ``bundle.json`` names the study) goes to
:mod:`core.studies.chest.predict_cli` and writes the VinBigData submission; an aneurysm
bundle runs on a K-Ium folder as below.

Writes three tables:

* ``OUT.csv``: the K-Ium submission, ``Index, Aneurysm, <21 locations>`` with the
  patient probability and 0/1 location decisions;
* ``OUT.probabilities.csv``: the patient score, the stage-1 decision, the circulation
  means and all 21 combined location probabilities, with missing views and notes;
* ``OUT.views.csv``: per view, the stage-1 probability and the stage-1 Grad-CAM peak
  ``(x, y)`` in original image pixels (the pointing game's input), with the crop and the
  original size. ``--no-cam`` skips the CAM and leaves the peak columns empty.

Unreadable files and partial cases are reported (log lines, notes columns) and never stop
the run. Exit status: 0 done; 1 done, but some cases were partial or had bad files; 2 the
bundle or the folder cannot be used.
"""

from __future__ import annotations

import argparse
import csv
import logging
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from core.cam.methods import DEFAULT_METHOD, METHODS
from core.case import Case
from core.intake.errors import IntakeError
from core.intake.folder import KiumFolder, read_kium_folder
from core.models.bundle import BundleError, load_bundle
from core.models.inference import iter_predict_cases
from core.models.manifest import read_manifest
from core.models.result import CaseResult
from core.models.threshold_sets import load_threshold_set
from core.models.thresholds import ThresholdsError
from core.schema import LOCATIONS, TRAIN_COLUMNS

__all__ = ["configure", "run", "output_paths"]

log = logging.getLogger(__name__)

PROB_COLUMNS = ("Index", "Aneurysm", "stage1_positive", "anterior_mean", "posterior_mean",
                *LOCATIONS, "missing_views", "notes")  # fmt: skip
VIEW_COLUMNS = ("Index", "View", "stage1_probability", "cam_peak_x", "cam_peak_y",
                "width", "height", "crop_x0", "crop_y0", "crop_x1", "crop_y1")  # fmt: skip


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, help="bundle directory (holds bundle.json)")
    parser.add_argument("data", type=Path, help="K-Ium folder of {Index}{View}.jpg images")
    parser.add_argument("out", type=Path, help="submission CSV to write")
    parser.add_argument("--no-cam", action="store_true", help="skip the stage-1 Grad-CAM peaks")
    parser.add_argument("--cam-method", default=DEFAULT_METHOD, choices=sorted(METHODS))
    parser.add_argument("--thresholds", help="named threshold set in BUNDLE/thresholds/")
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    parser.add_argument(
        "--cases-per-batch", type=int, default=8, help="patients (chest: films) per model pass"
    )


def output_paths(out: Path) -> dict[str, Path]:
    """``OUT.csv`` -> the submission, ``OUT.probabilities.csv`` and ``OUT.views.csv``."""
    return {
        "submission": out,
        "probabilities": out.with_name(f"{out.stem}.probabilities.csv"),
        "views": out.with_name(f"{out.stem}.views.csv"),
    }


def _cases(folder: KiumFolder) -> Iterator[Case]:
    for idx in folder.indices:
        yield folder.load_case(idx)


def _rows(r: CaseResult) -> tuple[dict[str, object], dict[str, object], list[dict[str, object]]]:
    score = r.aneurysm_probability
    sub = {"Index": int(r.case_id), "Aneurysm": 0.0 if score is None else score} | r.decisions
    prob = {
        "Index": int(r.case_id), "Aneurysm": score, "stage1_positive": int(r.gate.positive),
        "anterior_mean": r.gate.anterior_mean, "posterior_mean": r.gate.posterior_mean,
        **r.probabilities, "missing_views": " ".join(r.missing_views), "notes": " | ".join(r.notes),
    }  # fmt: skip
    views = []
    for v, vr in r.views.items():
        peak = vr.cam.peak_xy if vr.cam is not None else None
        x0, y0, x1, y1 = vr.record.crop
        width, height = vr.record.original_size
        views.append({
            "Index": int(r.case_id), "View": v, "stage1_probability": vr.stage1_probability,
            "cam_peak_x": None if peak is None else peak[0],
            "cam_peak_y": None if peak is None else peak[1],
            "width": width, "height": height,
            "crop_x0": x0, "crop_y0": y0, "crop_x1": x1, "crop_y1": y1,
        })  # fmt: skip
    return sub, prob, views


def run(args: argparse.Namespace) -> int:
    try:
        study = read_manifest(args.bundle).study
    except BundleError as err:
        log.error("%s", err)
        return 2
    if study == "chest":
        from core.studies.chest.predict_cli import run_chest

        return run_chest(args)
    try:
        bundle = load_bundle(args.bundle, device=args.device)
        thresholds = load_threshold_set(args.bundle, args.thresholds) if args.thresholds else None
        folder = read_kium_folder(args.data)
    except (BundleError, ThresholdsError, IntakeError) as err:
        log.error("%s", err)
        return 2
    for problem in folder.problems:
        log.warning("%s", problem.message)
    paths = output_paths(args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    n_partial = n_problems = n_empty = 0
    with (
        open(paths["submission"], "w", newline="") as f_sub,
        open(paths["probabilities"], "w", newline="") as f_prob,
        open(paths["views"], "w", newline="") as f_view,
    ):
        w_sub = csv.DictWriter(f_sub, TRAIN_COLUMNS)
        w_prob = csv.DictWriter(f_prob, PROB_COLUMNS)
        w_view = csv.DictWriter(f_view, VIEW_COLUMNS)
        for w in (w_sub, w_prob, w_view):
            w.writeheader()
        results = iter_predict_cases(
            bundle, _cases(folder), cam=not args.no_cam, method=args.cam_method,
            cases_per_batch=args.cases_per_batch,
        )  # fmt: skip
        for r in tqdm(results, total=len(folder), desc="predict", unit="case"):
            if thresholds is not None:
                r = r.with_thresholds(thresholds)
            n_partial += bool(r.missing_views)
            n_problems += any(not n.startswith("partial case") for n in r.notes)
            if r.missing_views:  # intake has already logged each problem
                log.info("Index %s: partial case, missing %s", r.case_id, " ".join(r.missing_views))
            if r.aneurysm_probability is None:
                n_empty += 1
                log.warning("Index %s: no usable view; submitted as Aneurysm 0", r.case_id)
            sub, prob, views = _rows(r)
            w_sub.writerow(sub)
            w_prob.writerow(prob)
            w_view.writerows(views)
    log.info(
        "%d cases (%d partial, %d with file problems, %d without any view) -> %s",
        len(folder),
        n_partial,
        n_problems,
        n_empty,
        ", ".join(str(p) for p in paths.values()),
    )
    return 1 if (n_partial or n_problems or folder.problems) else 0
