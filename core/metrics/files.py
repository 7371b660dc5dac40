"""Reading what ``predict`` wrote and what the synthetic generator knows, for evaluation.

``predict`` writes ``OUT.csv`` (submission), ``OUT.probabilities.csv`` (21 location
probabilities) and ``OUT.views.csv`` (stage-1 CAM peak per view in original pixels). A
synthetic cohort carries ``truth.json`` with every aneurysm drawn, per image, in original
pixels. Missing side files make the matching metrics ``None``, never an error.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.metrics.pointing import DEFAULT_MARGIN_FRAC, PointingResult, pointing_game
from core.metrics.report import evaluate_tables
from core.sacs import parse_sacs, sac_array
from core.schema import validate_train_table

__all__ = ["side_paths", "view_targets", "pointing_from_files", "evaluate_files", "json_ready"]

log = logging.getLogger(__name__)


def json_ready(obj: object) -> object:
    """NaN/inf become null and numpy scalars plain numbers: strict JSON for any consumer."""
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    return obj


def side_paths(pred: Path) -> dict[str, Path]:
    """``OUT.csv`` -> its ``probabilities`` and ``views`` companions (as predict names them)."""
    return {
        "probabilities": pred.with_name(f"{pred.stem}.probabilities.csv"),
        "views": pred.with_name(f"{pred.stem}.views.csv"),
    }


def view_targets(truth: dict[str, Any], views: pd.DataFrame) -> list[np.ndarray]:
    """Per row of ``views`` (``Index``, ``View``): the ``(x, y, r)`` of every aneurysm drawn
    in that image according to ``truth.json`` (empty when none, or the image is unknown)."""
    sacs = parse_sacs(truth)
    return [sac_array(sacs.get((int(i), str(v)), ())) for i, v in zip(views["Index"], views["View"])]


def pointing_from_files(
    views_csv: Path, truth_json: Path, margin_frac: float = DEFAULT_MARGIN_FRAC
) -> PointingResult | None:
    """The pointing game over ``views_csv``'s CAM peaks; None if a file is missing or the
    predictions were made without CAM."""
    if not (views_csv.is_file() and truth_json.is_file()):
        return None
    views = pd.read_csv(views_csv)
    if views[["cam_peak_x", "cam_peak_y"]].isna().all().all():
        log.info("%s has no CAM peaks (predicted with --no-cam): no pointing game", views_csv.name)
        return None
    targets = view_targets(json.loads(truth_json.read_text()), views)
    peaks = views[["cam_peak_x", "cam_peak_y"]].to_numpy(float)
    sizes = views[["width", "height"]].to_numpy(float)
    return pointing_game(peaks, targets, sizes, margin_frac)


def evaluate_files(
    pred: Path,
    data: Path,
    *,
    thresholds: Sequence[float] = (0.5,),
    n_boot: int = 1000,
    seed: int = 0,
    margin_frac: float = DEFAULT_MARGIN_FRAC,
) -> dict[str, object]:
    """The evaluation report of a ``predict`` output against ``data/train.csv``."""
    truth = validate_train_table(pd.read_csv(data / "train.csv"))
    sides = side_paths(pred)
    prob = pd.read_csv(sides["probabilities"]) if sides["probabilities"].is_file() else None
    if prob is None:
        log.warning("%s not found: location AUROCs are undefined", sides["probabilities"].name)
    pointing = pointing_from_files(sides["views"], data / "truth.json", margin_frac)
    report = evaluate_tables(
        truth,
        pd.read_csv(pred),
        prob,
        thresholds=thresholds,
        n_boot=n_boot,
        seed=seed,
        pointing=pointing,
    )
    if pointing is None:
        report["pointing_game"] = {
            "hit_rate": None,
            "margin_frac": margin_frac,
            "reason": f"needs {sides['views'].name} with CAM peaks and {data.name}/truth.json",
        }
    return {"predictions": pred.name, "data": data.name} | report
