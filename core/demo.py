"""``python -m core.demo --data DIR [--force]``: build the demo bundle and score it honestly.

1. Generate a synthetic training cohort and a *separate* held-out cohort (another seed,
   other patient indices, zero-padded file names as K-Ium test sets have), on every core.
2. Train the two-stage bundle on the training cohort (``demo`` profile on CPU, ``full``
   when a GPU is present), thresholds calibrated on training patients only.
3. Run ``predict`` on the held-out cohort and ``evaluate`` it; the report is written to
   ``<bundle>/heldout_eval.json`` and printed. The held-out labels are read only here,
   after training: nothing is tuned on them.

Each step is skipped when its outputs exist, unless ``force``. :func:`build_demo` builds
the aneurysm bundle; ``--progress STUDY...`` is how :mod:`core.demo_job` runs the builds in
the background, reporting each study's progress to the files the app reads.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch

from core import paths
from core.demo_cohorts import generate_parallel
from core.metrics.cli import bundle_stage1_threshold
from core.metrics.files import evaluate_files, json_ready
from core.models import predict_cli
from core.models.bundle import clear_bundle_cache
from core.models.manifest import is_bundle_dir
from core.training.groups import GROUPINGS
from core.training.options import TrainOptions
from core.training.profiles import get_profile
from core.training.trainer import train_bundle

__all__ = ["DemoPlan", "PLAN", "build_demo", "main"]

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class DemoPlan:
    """Cohort sizes and seeds. The held-out cohort shares no seed and no index with
    training (its indices start at ``heldout_start``). 200 held-out patients give a patient
    AUROC a 95 % interval about +/- 0.04 wide; 100 gave +/- 0.07, and two builds of the same
    recipe differed by more than the targets' margins."""

    train_patients: int = 400
    train_seed: int = 2023
    heldout_patients: int = 200
    heldout_seed: int = 43
    heldout_start: int = 5001
    heldout_pad: int = 4
    model_seed: int = 0
    bootstrap: int = 1000


PLAN = DemoPlan()
#: The held-out targets the demo is judged by (issue 15), printed beside the figures.
TARGETS = {"aneurysm AUROC": 0.90, "location macro AUROC": 0.80, "pointing game": 0.6}


def seeded_plan(seed: int | None) -> DemoPlan:
    """The demo plan, or with ``seed`` another draw of both cohorts and of the models'
    initialisation and order: the second-seed check that a figure is not one lucky draw."""
    if seed is None:
        return PLAN
    return replace(PLAN, train_seed=3000 + seed, heldout_seed=4000 + seed, model_seed=seed)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The held-out figures beside their targets, with the bootstrap intervals, in words."""
    loc, pg = report["location_macro_auroc"], report["pointing_game"]
    figures = {
        "aneurysm AUROC": (report["aneurysm"]["auroc"], report["aneurysm"].get("auroc_ci95")),
        "location macro AUROC": (loc["value"], loc.get("ci95")),
        "pointing game": (pg.get("hit_rate"), None),
    }
    lines = [f"held-out: {report['n_patients']} patients, {report['n_positive']} positive"]
    for name, (value, ci) in figures.items():
        if value is None:
            lines.append(f"  {name}: undefined")
            continue
        interval = f" (95 % CI {ci[0]:.3f}-{ci[1]:.3f})" if ci and None not in ci else ""
        met = "met" if value >= TARGETS[name] else "NOT met"
        lines.append(f"  {name}: {value:.3f}{interval}; target >= {TARGETS[name]} {met}")
    acc = report["location_accuracy"]
    lines.append(
        f"  K-Ium location accuracy {acc['kium']:.3f} (all-zeros floor {acc['all_zero_floor']:.3f})"
    )
    return lines


#: Share of the progress bar per step: their shares of the 2026-11-30 build's wall time
#: (docs/demo_log.txt), so the time left the app shows follows the real pace.
_STEPS = {
    "train cohort": 0.19,
    "held-out cohort": 0.09,
    "training": 0.62,
    "predict": 0.08,
    "evaluate": 0.02,
}


def _cohort_ready(folder: Path) -> bool:
    return (folder / "train.csv").is_file() and (folder / "truth.json").is_file()


def _step(progress: Progress | None, name: str) -> Progress:
    start = sum(v for k, v in _STEPS.items() if list(_STEPS).index(k) < list(_STEPS).index(name))

    def report(frac: float, msg: str) -> None:
        if progress is not None:
            progress(min(1.0, start + _STEPS[name] * frac), msg)

    return report


def build_demo(
    data_dir: Path, progress: Progress | None = None, force: bool = False, plan: DemoPlan = PLAN
) -> Path:
    """Build (or reuse) the demo cohorts, bundle and held-out report; returns the bundle dir."""
    root = Path(data_dir).resolve()
    train_dir, heldout_dir = (
        paths.demo_cohort_dir("train", root),
        paths.demo_cohort_dir("heldout", root),
    )
    bundle = paths.demo_bundle_dir(root)
    report_path = bundle / "heldout_eval.json"
    torch.set_num_threads(os.cpu_count() or 1)
    gpu = torch.cuda.is_available()
    cohorts = [
        ("train cohort", train_dir, plan.train_patients, plan.train_seed, 1, 0),
        (
            "held-out cohort",
            heldout_dir,
            plan.heldout_patients,
            plan.heldout_seed,
            plan.heldout_start,
            plan.heldout_pad,
        ),
    ]
    for name, folder, n, seed, start, pad in cohorts:
        step = _step(progress, name)
        if force or not _cohort_ready(folder):
            step(0.0, f"generating the {name} ({n} patients)")
            generate_parallel(folder, n, seed, start_index=start, pad_width=pad)
        step(1.0, f"{name} ready")
    step = _step(progress, "training")
    if force or not is_bundle_dir(bundle):
        shutil.rmtree(bundle, ignore_errors=True)
        opts = TrainOptions(
            seed=plan.model_seed,
            groups=GROUPINGS["view-shows"],
            checkpoints=bundle.with_name(bundle.name + ".checkpoints"),
        )
        train_bundle(train_dir, bundle, get_profile("full" if gpu else "demo"), opts, step)
        clear_bundle_cache()
        report_path.unlink(missing_ok=True)
    step(1.0, "bundle ready")
    if force or not report_path.is_file():
        pred = bundle / "heldout_predictions.csv"
        _step(progress, "predict")(0.0, "predicting the held-out cohort")
        parser = argparse.ArgumentParser()
        predict_cli.configure(parser)
        predict_cli.run(parser.parse_args([str(bundle), str(heldout_dir), str(pred)]))
        _step(progress, "evaluate")(0.0, "evaluating the held-out cohort")
        report = evaluate_files(
            pred, heldout_dir, thresholds=[bundle_stage1_threshold(bundle)], n_boot=plan.bootstrap
        )
        report_path.write_text(json.dumps(json_ready(report), indent=2, allow_nan=False) + "\n")
    _step(progress, "evaluate")(1.0, "demo ready")
    return bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--data", type=Path, default=paths.data_dir(), help="data folder (default ./data)"
    )
    parser.add_argument("--force", action="store_true", help="regenerate cohorts and retrain")
    parser.add_argument(
        "--study", choices=("aneurysm", "chest", "all"), default="aneurysm",
        help="which demo to build (chest: core.studies.chest.demo)",
    )  # fmt: skip
    parser.add_argument(
        "--progress", nargs="+", choices=("aneurysm", "chest"), metavar="STUDY",
        help="background mode (core.demo_job): build these, reporting progress to <data>/jobs",
    )  # fmt: skip
    parser.add_argument(
        "--aneurysm-seed", type=int,
        help="aneurysm only: another draw of both cohorts and the models (a second-seed check; "
        "give --data another folder to keep the app's demo)",
    )  # fmt: skip
    parser.add_argument(
        "--chest-seed", type=int,
        help="chest only: another draw of both cohorts and the models (a second-seed check)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.progress:
        return _background(args.data, args.progress)
    builders = {"aneurysm": partial(build_demo, plan=seeded_plan(args.aneurysm_seed))}
    if args.study in ("chest", "all"):
        from core.studies.chest.demo import build_chest_demo
        from core.studies.chest.demo import seeded_plan as chest_plan

        builders["chest"] = partial(build_chest_demo, plan=chest_plan(args.chest_seed))
    if args.study == "chest":
        del builders["aneurysm"]
    for name, build in builders.items():
        t0 = time.perf_counter()
        bundle = build(args.data, force=args.force)
        report = json.loads((bundle / "heldout_eval.json").read_text())
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        wall = time.perf_counter() - t0
        if name == "aneurysm":
            for line in summary_lines(report):
                log.info("%s", line)
        log.info("%s demo built in %.0f s (wall): %s", name, wall, bundle)
    return 0


def _background(data: Path, studies: list[str]) -> int:
    """Build ``studies`` one after another, each reporting to its progress file; one
    failure is reported and the next study is still built. The lock is always released."""
    from core import demo_job

    failed = 0
    try:
        for study in studies:
            report = demo_job.progress_writer(study, data.resolve())
            report(0.0, "starting")
            try:
                if study == "chest":
                    from core.studies.chest.demo import build_chest_demo

                    build_chest_demo(data, progress=report)
                else:
                    build_demo(data, progress=report)
            except Exception as err:  # noqa: BLE001 - reported to the app, then the next study
                log.exception("the %s demo build failed", study)
                report(0.0, "failed", state="failed", error=f"{type(err).__name__}: {err}"[:500])
                failed += 1
            else:
                report(1.0, "demo ready", state="done")
    finally:
        demo_job.release(data)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
