"""Threshold what-if: decisions and metrics of a cached prediction table at any thresholds.

Everything here is a pure function of the table and a :class:`Thresholds`, so moving a
slider recomputes in a fraction of a second and never touches a model. Metrics come from
:mod:`core.metrics` (the same report ``python -m core evaluate`` prints); this module only
turns thresholds into the decisions those functions take.

Gating follows the original pipeline: a location is positive only when the patient is
above the stage-1 threshold *and* its probability reaches the location threshold. Location
AUROCs are computed on the ungated stage-2 probabilities, which rank patients independently
of any threshold; so they (:func:`ranking_report`), their bootstrap intervals
(:func:`interval_report`) and every curve are computed once per table, while the
thresholded counts are recomputed per change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.cohort.table import PROB_COLUMNS, SCORE, prob_frame, truth_frame
from core.metrics.binary import binarize, operating_point
from core.metrics.report import evaluate_tables
from core.models.calibration import DEFAULT_TARGET
from core.models.threshold_rules import RULE_NAMES, RuleName, get_threshold_rule
from core.models.thresholds import Thresholds
from core.schema import LOCATIONS

__all__ = [
    "CALIBRATION_RULES",
    "WhatIf",
    "decisions",
    "prediction_frame",
    "location_operating_points",
    "ranking_report",
    "what_if",
    "interval_report",
    "location_summary",
    "suggest_thresholds",
    "with_values",
]

#: Rules the page offers: every entry of the threshold-rule table.
CALIBRATION_RULES: tuple[str, ...] = RULE_NAMES


def decisions(table: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    """``Index``, 0/1 ``Aneurysm`` and the 21 gated 0/1 locations, one row per patient."""
    stage1 = binarize(table[SCORE].to_numpy(float), thresholds.stage1)
    loc_thr = np.array([thresholds.labels[c] for c in LOCATIONS])
    locs = binarize(table[list(PROB_COLUMNS)].to_numpy(float), loc_thr) * stage1[:, None]
    out = pd.DataFrame(locs, columns=list(LOCATIONS))
    out.insert(0, "Aneurysm", stage1)
    out.insert(0, "Index", table["Index"].to_numpy())
    return out


def prediction_frame(table: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    """What :func:`core.metrics.report.evaluate_tables` takes as ``pred``: the patient
    score as ``Aneurysm`` and the gated 0/1 locations."""
    pred = decisions(table, thresholds)
    pred["Aneurysm"] = table[SCORE].to_numpy(float)
    return pred


def location_operating_points(table: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    """Sensitivity, specificity, PPV, NPV and counts of every location at its threshold.

    A gated-out patient scores ``-inf`` so it is negative at any threshold, which makes
    ``operating_point`` count exactly the gated decisions.
    """
    stage1 = binarize(table[SCORE].to_numpy(float), thresholds.stage1).astype(bool)
    rows = []
    for col, pcol in zip(LOCATIONS, PROB_COLUMNS, strict=True):
        gated = np.where(stage1, table[pcol].to_numpy(float), -np.inf)
        point = operating_point(table[col].to_numpy(int), gated, thresholds.labels[col])
        rows.append({"location": col, **point})
    return pd.DataFrame(rows).set_index("location")


@dataclass(frozen=True)
class WhatIf:
    """Everything that depends on the thresholds, recomputed on each change."""

    thresholds: Thresholds
    decisions: pd.DataFrame  # Index, Aneurysm, 21 locations (0/1, gated)
    report: dict[str, Any]  # core.metrics report without bootstrap intervals
    locations: pd.DataFrame  # per-location operating points (location_operating_points)

    @property
    def stage1_point(self) -> dict[str, Any]:
        return self.report["aneurysm"]["operating_points"][0]


#: Report entries that rank probabilities and so do not depend on any threshold.
_RANKING_KEYS = ("location_macro_auroc", "weighted_auroc")


def _ranking_inputs(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Truth, predictions and probabilities for a report whose AUROCs are all that count:
    the location decisions are the truth itself as placeholders (no AUROC reads them)."""
    truth = truth_frame(table)
    pred = truth.copy()
    pred["Aneurysm"] = table[SCORE].to_numpy(float)
    return truth, pred, prob_frame(table)


def ranking_report(table: pd.DataFrame) -> dict[str, Any]:
    """The threshold-free entries of the report (location AUROCs, macro, weighted), computed
    once per table so a threshold change does not recompute 21 AUROCs."""
    report = evaluate_tables(*_ranking_inputs(table), n_boot=0)
    return {
        "locations": {c: report["locations"][c]["auroc"] for c in LOCATIONS},
        **{k: report[k] for k in _RANKING_KEYS},
    }


def what_if(
    table: pd.DataFrame, thresholds: Thresholds, rankings: dict[str, Any] | None = None
) -> WhatIf:
    """Decisions and the full ``core.metrics`` report at ``thresholds``, without bootstrap
    intervals (they do not depend on thresholds; see :func:`interval_report`).

    ``rankings`` is :func:`ranking_report` of the same table; pass it when recomputing for
    many thresholds. The report equals ``evaluate_tables(truth, pred, prob, n_boot=0)``.
    """
    rankings = rankings if rankings is not None else ranking_report(table)
    report = evaluate_tables(
        truth_frame(table),
        prediction_frame(table, thresholds),
        None,  # location AUROCs come from ``rankings``
        thresholds=(thresholds.stage1,),
        n_boot=0,
    )
    for c in LOCATIONS:
        report["locations"][c]["auroc"] = rankings["locations"][c]
    report |= {k: rankings[k] for k in _RANKING_KEYS}
    return WhatIf(
        thresholds,
        decisions(table, thresholds),
        report,
        location_operating_points(table, thresholds),
    )


def interval_report(table: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The threshold-free half: patient-bootstrap 95 % intervals of every AUROC.

    Computed once per table (the slow part: ``n_boot`` resamples of 22 AUROCs) and
    JSON-ready so the cache can keep it. Keys: ``aneurysm``, ``macro``, ``weighted`` (each
    ``[low, high]``), ``locations`` (column -> ``[low, high]``) and ``bootstrap``.
    """
    report = evaluate_tables(*_ranking_inputs(table), n_boot=n_boot, seed=seed)
    return {
        "aneurysm": report["aneurysm"]["auroc_ci95"],
        "macro": report["location_macro_auroc"]["ci95"],
        "weighted": report["weighted_auroc"]["ci95"],
        "locations": {c: report["locations"][c]["auroc_ci95"] for c in LOCATIONS},
        "bootstrap": report["bootstrap"],
    }


def location_summary(result: WhatIf, intervals: dict[str, Any] | None = None) -> pd.DataFrame:
    """One row per location: support, AUROC with its interval, F1, and the operating point
    at the location threshold (gated), ready to show as a table."""
    per = pd.DataFrame.from_dict(result.report["locations"], orient="index")
    points = result.locations
    ci = (intervals or {}).get("locations", {})
    out = pd.DataFrame(
        {
            "support": per["support"].astype(int),
            "auroc": pd.to_numeric(per["auroc"], errors="coerce"),
            "auroc_low": [(ci.get(c) or [None, None])[0] for c in LOCATIONS],
            "auroc_high": [(ci.get(c) or [None, None])[1] for c in LOCATIONS],
            "f1": per["f1"].astype(float),
            "threshold": points["threshold"],
            "sensitivity": pd.to_numeric(points["sensitivity"], errors="coerce"),
            "specificity": pd.to_numeric(points["specificity"], errors="coerce"),
            "ppv": pd.to_numeric(points["ppv"], errors="coerce"),
            **{k: points[k].astype(int) for k in ("tp", "fp", "fn", "tn")},
        },
        index=list(LOCATIONS),
    )
    out.index.name = "location"
    return out


def suggest_thresholds(
    table: pd.DataFrame,
    rule: RuleName,
    *,
    target: float = DEFAULT_TARGET,
    author: str = "cohort page",
) -> Thresholds:
    """Thresholds fitted on this cohort's cached predictions with one rule of the table
    (:data:`core.models.threshold_rules.THRESHOLD_RULES`; an unknown name raises its
    :class:`ValueError`). Fitting on the cohort being evaluated is optimistic: the page
    says so next to the picker.
    """
    result = get_threshold_rule(rule).fit(
        table[SCORE].to_numpy(float),
        {c: table[p].to_numpy(float) for c, p in zip(LOCATIONS, PROB_COLUMNS, strict=True)},
        patient_labels=table["Aneurysm"].to_numpy(int),
        location_labels={c: table[c].to_numpy(int) for c in LOCATIONS},
        target=target,
        author=author,
    )
    params = {**result.params, "fitted_on": f"cohort of {len(table)} patients"}
    return Thresholds(result.stage1, result.labels, result.rule, params, author, result.created)


def with_values(
    base: Thresholds, stage1: float, locations: dict[str, float], *, author: str, rule: str
) -> Thresholds:
    """A new set from hand-moved values, remembering which set it started from."""
    changed = sorted(c for c in LOCATIONS if locations[c] != base.labels[c])
    params = {
        "started_from": base.rule,
        "started_from_author": base.author,
        "stage1_changed": stage1 != base.stage1,
        "locations_changed": changed,
    }
    return Thresholds(
        float(stage1), {c: float(locations[c]) for c in LOCATIONS}, rule, params, author
    )
