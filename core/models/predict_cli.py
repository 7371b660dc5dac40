"""``python -m core predict BUNDLE DATA OUT.csv``: run a bundle on a folder.

A chest bundle (its ``bundle.json`` names the study) goes to
:mod:`core.studies.chest.predict_cli` and writes the VinBigData submission; an aneurysm
bundle runs on a K-Ium folder as below.

Writes three tables (:mod:`core.models.predict_tables`):

* ``OUT.csv``: the K-Ium submission, ``Index, Aneurysm, <21 locations>`` with the
  patient probability and 0/1 location decisions;
* ``OUT.probabilities.csv``: the patient score, the stage-1 decision, the circulation
  means and all 21 combined location probabilities, with missing views and notes;
* ``OUT.views.csv``: per view, the stage-1 probability and the stage-1 Grad-CAM peak
  ``(x, y)`` in original image pixels (the pointing game's input), with the crop and the
  original size. ``--no-cam`` skips the CAM and leaves the peak columns empty.

Across ranks: ``torchrun --nproc_per_node=N -m core predict BUNDLE DATA OUT.csv`` gives
each rank every N-th chunk of patients (gloo on CPU, nccl on CUDA;
:mod:`core.training.distributed`) through :func:`core.cohort.shard.run_patients`, the
path the cohort page's batch run takes too. Rank 0 writes the CSVs, byte-identical to a
one-process run. Finished chunks are kept in ``OUT.parts/`` until then, so a rerun after
an interruption (any number of ranks) computes only the missing patients.

Unreadable files and partial cases are reported (log lines, notes columns) and never stop
the run. Exit status: 0 done; 1 done, but some cases were partial or had bad files; 2 the
bundle or the folder cannot be used.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import torch
from tqdm import tqdm

from core.cam.methods import DEFAULT_METHOD, METHODS
from core.cohort.batch import bundle_predictor
from core.cohort.cache import data_fingerprint
from core.cohort.shard import run_patients
from core.intake.errors import IntakeError
from core.intake.folder import read_kium_folder
from core.models.bundle import BundleError, load_bundle
from core.models.manifest import read_manifest
from core.models.predict_tables import JsonParts, output_paths, run_id
from core.models.threshold_sets import load_threshold_set
from core.models.thresholds import ThresholdsError
from core.pipeline_version import pipeline_version
from core.training.distributed import gather_objects, init_distributed, shutdown_distributed

__all__ = ["configure", "run", "output_paths"]

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, help="bundle directory (holds bundle.json)")
    parser.add_argument("data", type=Path, help="K-Ium folder of {Index}{View}.jpg images")
    parser.add_argument("out", type=Path, help="submission CSV to write")
    parser.add_argument("--no-cam", action="store_true", help="skip the stage-1 Grad-CAM peaks")
    parser.add_argument("--cam-method", default=DEFAULT_METHOD, choices=sorted(METHODS))
    parser.add_argument("--thresholds", help="named threshold set in BUNDLE/thresholds/")
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    parser.add_argument(
        "--cases-per-batch",
        type=int,
        default=8,
        help="patients per chunk (aneurysm: one part file, resumed whole) or films per pass (chest)",
    )
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads per process (torchrun's default: 1)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        study = read_manifest(args.bundle).study
    except BundleError as err:
        log.error("%s", err)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    if study == "chest":
        if int(os.environ.get("RANK", "0")) > 0:  # films are not sharded: rank 0 runs them
            log.info("chest bundle: rank 0 predicts every film; this rank has nothing to do")
            return 0
        from core.studies.chest.predict_cli import run_chest

        return run_chest(args)
    info = init_distributed(args.device)
    try:
        bundle = load_bundle(args.bundle, device=info.device)
        thresholds = load_threshold_set(args.bundle, args.thresholds) if args.thresholds else None
        folder = read_kium_folder(args.data)
    except (BundleError, ThresholdsError, IntakeError) as err:
        log.error("%s", err)
        return 2
    if info.is_main:
        for problem in folder.problems:
            log.warning("%s", problem.message)
    cam = not args.no_cam
    store = JsonParts(
        args.out,
        run_id(
            bundle=bundle.manifest_sha256,
            data=data_fingerprint(args.data),
            pipeline=pipeline_version(),
            cam=cam,
            method=args.cam_method if cam else None,
            thresholds=None if thresholds is None else thresholds.to_dict(),
        ),
        thresholds,
    )
    bar = tqdm(desc=f"predict rank {info.rank}/{info.world}", unit="case", disable=not info.is_main)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    shard = run_patients(
        folder,
        folder.indices,
        bundle_predictor(bundle, cam=cam, method=args.cam_method),
        store,
        rank=info.rank,
        world=info.world,
        chunk_size=args.cases_per_batch,
        progress=progress,
    )
    bar.close()
    shards = gather_objects(info, shard)  # every rank has written its parts
    code = 0
    if info.is_main:
        report = store.merge(folder.indices, args.out)
        log.info(
            "%d cases (%d partial, %d with file problems, %d without any view; %d resumed, "
            "%d ranks) -> %s",
            report.cases,
            report.partial,
            report.problems,
            report.empty,
            sum(s.resumed for s in shards),
            info.world,
            ", ".join(str(p) for p in output_paths(args.out).values()),
        )
        code = 1 if (report.partial or report.problems or folder.problems) else 0
    shutdown_distributed(info)
    return code
