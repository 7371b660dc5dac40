"""Cohort metrics of any study that scores labels: one table of findings, one report.

Study-agnostic on purpose: the table is built from ``result.findings`` (the
:class:`core.studies.study.StudyResult` protocol) and the truth per case, so a new study
gets per-label AUROC with a bootstrap interval, the operating point at each label's
threshold and the macro AUROC without writing any metric code. The aneurysm study keeps
its K-Ium report (:mod:`core.metrics.report`) on top of the same binary metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.metrics.binary import auroc, operating_point
from core.metrics.bootstrap import bootstrap_intervals, resampled_auroc
from core.metrics.locations import macro_auroc
from core.studies.study import StudyResult

__all__ = ["score_column", "findings_table", "label_report"]


def score_column(label: str) -> str:
    return f"score_{label}"


def findings_table(
    results: Iterable[StudyResult], truth: Mapping[str, Mapping[str, int]]
) -> pd.DataFrame:
    """One row per case: ``case_id``, ``case_hash``, each label's 0/1 truth under its own
    name and its score under :func:`score_column`. A case without truth is an error, not a
    silently dropped row."""
    rows = []
    for r in results:
        if r.case_id not in truth:
            raise KeyError(f"no truth for case {r.case_id!r}")
        row: dict[str, Any] = {"case_id": r.case_id, "case_hash": r.content_hash}
        for f in r.findings:
            row[f.label] = int(truth[r.case_id][f.label])
            row[score_column(f.label)] = f.score
        rows.append(row)
    return pd.DataFrame(rows)


def label_report(
    table: pd.DataFrame,
    thresholds: Mapping[str, float],
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Per label: AUROC with its bootstrap 95 % interval, prevalence and the operating
    point at the label's threshold; then the macro AUROC over labels where it is defined."""
    labels: Sequence[str] = list(thresholds)
    per: dict[str, Any] = {}
    for label in labels:
        y, s = table[label].to_numpy(int), table[score_column(label)].to_numpy(float)

        def stat(counts: np.ndarray, y: np.ndarray = y, s: np.ndarray = s) -> dict[str, Any]:
            return {"auroc": resampled_auroc(y, s, counts)}

        ci = bootstrap_intervals(stat, len(table), n_boot, seed)["auroc"]
        per[label] = {
            "auroc": auroc(y, s),
            "auroc_ci95": ci.to_list(),
            "positives": int(y.sum()),
            "n": int(len(y)),
            **operating_point(y, s, thresholds[label]),
        }
    macro, defined = macro_auroc([per[label]["auroc"] for label in labels])
    return {"labels": per, "macro_auroc": macro, "labels_with_auroc": defined}
