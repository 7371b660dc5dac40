"""``python -m core study DATA OUT --study chest [--budget-min M]``: the augmentation study.

The origin compared its detectors under four cumulative augmentation sets on mAP@0.4.
This trains the detector x augmentation grid on one split of ``DATA`` (the same training
and validation films for every cell: :func:`core.studies.chest.train.split_films` with one
seed), scores each cell on the validation films with the competition's metric and a
bootstrap 95 % interval, and writes ``OUT/chest_study.json`` and ``OUT/chest_study.md``:
mAP@0.4 with its interval, AP per class, and each cell's training time.

A time budget trims the grid on a CPU: cells run augmentation-major (every detector's
``original`` first, so each row has its baseline), and a cell is skipped when the time it
is expected to take (the slowest finished cell of its detector) would overrun the budget;
skipped cells are listed as such, never silently dropped. Without ``--budget-min`` (as on
a GPU) the whole grid runs. Detectors train on the abnormal films (as the demo's do)
unless ``--all-films``; validation keeps every film.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from core.device import describe_device, resolve_device

__all__ = ["configure", "run", "run_study", "study_markdown"]

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    from core.studies.chest.augment import AUG_SETS
    from core.studies.chest.train import MODELS, ORIGIN_DETECTORS

    parser.add_argument("data", type=Path, help="labelled VinBigData folder")
    parser.add_argument("out", type=Path, help="folder for the cells' bundles and the tables")
    parser.add_argument("--study", choices=("chest",), default="chest")
    parser.add_argument("--budget-min", type=float, help="wall-clock budget; trims the grid")
    detectors = sorted(m for m in MODELS if m != "classifier")
    parser.add_argument("--models", nargs="+", choices=detectors, default=list(ORIGIN_DETECTORS))
    parser.add_argument("--augs", nargs="+", choices=AUG_SETS, default=list(AUG_SETS))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument(
        "--side", type=int, help="input side for every detector (default: each model's)"
    )
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=200, help="resamples for the intervals")
    parser.add_argument("--device", help="cpu, cuda ... (default: GPU when present)")
    parser.add_argument(
        "--all-films", action="store_true", help="detectors also train on normal films"
    )


def _score_cell(bundle_path: Path, data: Path, n_boot: int, seed: int) -> dict[str, Any]:
    """The cell's bundle on its own validation films, with the competition's metric."""
    from core.models.bundle import load_bundle
    from core.studies.chest.runner import ChestRunner
    from core.studies.chest.validation import score_on_films

    bundle = load_bundle(bundle_path)
    val_ids = list(bundle.manifest["training_data"]["val_ids"])
    report = score_on_films(ChestRunner(bundle), data, val_ids, n_boot=n_boot, seed=seed)
    return {
        "map_iou40": report["map_iou40"], "ci95": (report.get("ci95") or {}).get("map"),
        "per_class_ap": {k: v["ap"] for k, v in report["per_class"].items()},
        "val_images": len(val_ids),
    }  # fmt: skip


def run_study(args: argparse.Namespace) -> dict[str, Any]:
    """Train and score the grid; returns the JSON document written to ``OUT``."""
    from core.studies.chest.train import ChestTrainOptions, train_chest

    started = time.perf_counter()
    budget = None if args.budget_min is None else args.budget_min * 60
    slowest: dict[str, float] = {}
    cells: list[dict[str, Any]] = []
    for aug in args.augs:
        for model in args.models:
            cell: dict[str, Any] = {"model": model, "aug": aug}
            elapsed = time.perf_counter() - started
            expect = slowest.get(model, 0.0)
            if budget is not None and elapsed + expect > budget:
                cell |= {"status": "skipped (budget)", "expected_s": round(expect, 1)}
                log.info(
                    "%s/%s skipped: %.0f s used, about %.0f s needed, budget %.0f s",
                    model,
                    aug,
                    elapsed,
                    expect,
                    budget,
                )
                cells.append(cell)
                continue
            t = time.perf_counter()
            opts = ChestTrainOptions(model=model, aug=aug, side=args.side, epochs=args.epochs,
                                     batch_size=args.batch_size, seed=args.seed, device=args.device,
                                     abnormal_only=not args.all_films)  # fmt: skip
            path = train_chest(args.data, args.out / "cells" / f"{model}_{aug.strip('+')}", opts)
            if path is None:  # not rank 0
                continue
            cell |= _score_cell(path, args.data, args.bootstrap, args.seed)
            cell |= {"status": "done", "train_s": round(time.perf_counter() - t, 1)}
            slowest[model] = max(slowest.get(model, 0.0), time.perf_counter() - t)
            log.info("%s/%s: mAP@0.4 %.4f", model, aug, cell["map_iou40"] or 0.0)
            cells.append(cell)
    return {
        "study": "chest", "data": args.data.name, "seed": args.seed, "epochs": args.epochs,
        "side": args.side, "budget_min": args.budget_min, "device": describe_device(resolve_device(args.device)),
        "wall_s": round(time.perf_counter() - started, 1), "cells": cells,
    }  # fmt: skip


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def study_markdown(doc: dict[str, Any]) -> str:
    """The study as a markdown table (mAP@0.4 with its interval, time) plus per-class AP."""
    lines = [
        f"Data `{doc['data']}`, seed {doc['seed']}, {doc['epochs']} epochs, device {doc['device']}, "
        f"budget {doc['budget_min']} min, wall {doc['wall_s']:.0f} s. Scored on the validation films "
        "with the competition's mAP@0.4 (95 % bootstrap interval over films).",
        "",
        "| detector | augmentation | mAP@0.4 | 95 % interval | train s | status |",
        "|---|---|---|---|---|---|",
    ]
    for c in doc["cells"]:
        ci = c.get("ci95")
        lines.append(
            f"| {c['model']} | {c['aug']} | {_fmt(c.get('map_iou40'))} | "
            f"{'–' if not ci else f'{ci[0]:.3f}–{ci[1]:.3f}'} | {c.get('train_s', '–')} | {c['status']} |"
        )
    done = [c for c in doc["cells"] if c["status"] == "done"]
    if done:
        classes = list(done[0]["per_class_ap"])
        lines += ["", "AP per class (validation films; – where the class has no truth):", "",
                  "| class | " + " | ".join(f"{c['model']} {c['aug']}" for c in done) + " |",
                  "|---|" + "---|" * len(done)]  # fmt: skip
        for k in classes:
            lines.append(f"| {k} | " + " | ".join(_fmt(c["per_class_ap"][k]) for c in done) + " |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    doc = run_study(args)
    (args.out / "chest_study.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / "chest_study.md").write_text(study_markdown(doc))
    log.info("wrote %s and %s", args.out / "chest_study.json", args.out / "chest_study.md")
    return 0
