"""Fit an ensemble bundle's member weights, classifier rule and thresholds on its members'
validation films.

Everything is chosen on the films the members held out of training (their bundles record
them), by the competition's metric. The members first (:func:`choose_members`, ensemble
selection): the best member keeps weight 1, each other one joins with a weight and WBF
score type from a small grid or stays out, and the best member alone is a candidate, so
weak members cannot drag the ensemble below its best detector on these films. Then the
rule by
:func:`~core.studies.chest.rule.fit_rule`'s grid (the identity is a candidate, so a rule
that does not help is not used), the thresholds by
:func:`~core.studies.chest.calibrate.calibrate_thresholds` on the ruled predictions. The
held-out cohort is never touched here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from core.models.bundle import clear_bundle_cache, load_bundle
from core.models.thresholds import Thresholds
from core.studies.chest.calibrate import calibrate_thresholds
from core.studies.chest.metric import match_all, mean_average_precision
from core.studies.chest.rule import ClassifierRule, fit_rule
import itertools
from dataclasses import replace

from core.studies.chest.ensemble import EnsembleSettings, fuse_members
from core.studies.chest.runner import ChestOutput, ChestRunner, predictions_frame, with_rule
from core.studies.chest.train_eval import fixed_thresholds
from core.studies.chest.validation import fused_truth, run_on_films

__all__ = ["WEIGHT_GRID", "CONF_TYPES", "choose_members", "fit_on_validation"]

#: Weights a member other than the best one may get, and the WBF score types tried.
WEIGHT_GRID: tuple[float, ...] = (1.0, 0.5)
CONF_TYPES: tuple[str, ...] = ("avg", "max")

log = logging.getLogger(__name__)


def _map(pred: Any, truth: Any, ids: list[str]) -> float | None:
    return mean_average_precision(match_all(pred, truth, ids))[0]


def _refused(
    outputs: list[ChestOutput], settings: EnsembleSettings, roles: list[str]
) -> list[ChestOutput]:
    """Outputs with their fused boxes recomputed from the stored boxes of ``roles`` (the
    rule not yet applied: ``final`` is the fusion, as for a film without a classifier);
    a single role is used as it is, unfused, as a one-detector bundle runs."""
    out = []
    for o in outputs:
        kept = {r: o.members[r] for r in roles}
        fused = (
            kept[roles[0]]
            if len(roles) == 1
            else fuse_members(list(kept.values()), o.size, settings)
        )
        out.append(replace(o, members=kept, fused=fused, final=fused, no_finding=None, action=""))
    return out


def choose_members(outputs: list[ChestOutput], truth: Any, ids: list[str], base: EnsembleSettings
                   ) -> tuple[list[str], EnsembleSettings, list[dict[str, Any]]]:  # fmt: skip
    """Ensemble selection on the validation films: which members to keep, their WBF weights
    and score type, by mAP@0.4, with the table of every candidate.

    Every candidate holds the best member (weight 1); the others join with a weight of
    :data:`WEIGHT_GRID`, or stay out. The best member alone is a candidate too, so a fusion
    that the weak members drag down is not chosen.
    """
    roles = list(outputs[0].members) if outputs else []
    if len(roles) < 2:
        return roles, base, []
    alone = {r: _map(predictions_frame(outputs, stage=r), truth, ids) or 0.0 for r in roles}
    best = max(roles, key=alone.__getitem__)
    table: list[dict[str, Any]] = [
        {"members": [best], "weights": None, "conf_type": None, "map": alone[best]}
    ]
    others = [r for r in roles if r != best]
    for n in range(1, len(others) + 1):
        for joined in itertools.combinations(others, n):
            kept = sorted([best, *joined])
            for combo in itertools.product(WEIGHT_GRID, repeat=n):
                weights = tuple(1.0 if r == best else combo[joined.index(r)] for r in kept)
                for conf in CONF_TYPES:
                    settings = replace(base, weights=weights, conf_type=conf)
                    frame = predictions_frame(_refused(outputs, settings, kept), stage="fused")
                    table.append({"members": kept, "weights": list(weights), "conf_type": conf,
                                  "map": _map(frame, truth, ids) or 0.0})  # fmt: skip
    chosen = max(table, key=lambda row: row["map"])
    log.info("members alone %s; chosen %s (mAP@0.4 %.4f of %d candidates)",
             {r: round(v, 4) for r, v in alone.items()}, {k: chosen[k] for k in ("members", "weights", "conf_type")},
             chosen["map"], len(table))  # fmt: skip
    if chosen["weights"] is None:
        return chosen["members"], replace(base, weights=None), table
    return (
        chosen["members"],
        replace(base, weights=tuple(chosen["weights"]), conf_type=chosen["conf_type"]),
        table,
    )


def fit_on_validation(bundle_path: Path, data: Path, val_ids: list[str]
                      ) -> tuple[list[str], EnsembleSettings, ClassifierRule | None, Thresholds, dict[str, Any]]:  # fmt: skip
    """``(detector roles kept, fusion settings, fitted rule or None without a classifier,
    thresholds, validation metrics)``."""
    if not val_ids:
        raise ValueError("the members record no validation films to fit on")
    clear_bundle_cache()  # the bundle was just (re)written
    runner = ChestRunner(load_bundle(bundle_path, device="cpu"))
    truth, sizes = fused_truth(data)
    outputs = run_on_films(runner, data, val_ids, sizes)
    ids = [o.image_id for o in outputs]
    truth = truth[truth["image_id"].astype(str).isin(ids)]
    kept, settings, weight_table = choose_members(outputs, truth, ids, runner.fusion)
    if weight_table:
        outputs = _refused(outputs, settings, kept)
    plain = predictions_frame(outputs, stage="fused")
    metrics: dict[str, Any] = {"val_images": len(ids), "val_map_iou40_without_rule": _map(plain, truth, ids),
                               "val_weight_grid": weight_table}  # fmt: skip
    rule = None
    if runner.classifier is not None:
        detections = {o.image_id: o.fused for o in outputs}
        p = {o.image_id: float(o.p_abnormal) for o in outputs}
        rule, table = fit_rule(detections, p, truth, ids)
        outputs = [with_rule(o, rule) for o in outputs]
        metrics["rule_grid_best"] = (
            table.sort_values("map", ascending=False).head(5).to_dict("records")
        )
    final = predictions_frame(outputs, stage="final")
    metrics["val_map_iou40"] = _map(final, truth, ids)
    thresholds = fixed_thresholds(
        calibrate_thresholds(final, truth, ids), rule="per-class F1-best on validation (IoU 0.4)"
    )
    log.info("ensemble on %d validation films: mAP@0.4 %.4f with the rule, %.4f without", len(ids),
             metrics["val_map_iou40"] or 0, metrics["val_map_iou40_without_rule"] or 0)  # fmt: skip
    return kept, settings, rule, thresholds, metrics
