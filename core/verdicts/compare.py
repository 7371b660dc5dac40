"""Model versus reviewer, per finding: the cohort page's agreement table.

A pure function of two tables, so the page can recompute it as a threshold slider moves
without touching the database. Findings are one study's labels, asked of the study
registry, so one table can hold verdicts of several studies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.studies import get_study

__all__ = ["STAT_COLUMNS", "agreement_stats"]

#: Columns of :func:`agreement_stats`, in order.
STAT_COLUMNS: tuple[str, ...] = (
    "reviewed",
    "agree",
    "agree_rate",
    "model_positive",
    "reviewer_positive",
    "corrected_to_positive",
    "corrected_to_negative",
)


def agreement_stats(
    verdicts: pd.DataFrame, decisions: pd.DataFrame | None = None, *, study: str
) -> pd.DataFrame:
    """Per finding of ``study``: how often reviewers agree with the model, and which way
    they correct it.

    ``verdicts`` is :meth:`VerdictStore.all_latest` (each reviewer's current verdict counts
    once); verdicts of other studies are left out. Without ``decisions`` each verdict is
    compared with the decision the reviewer saw. ``decisions`` (0/1, indexed by case hash,
    one column per finding) gives the model's *current* decisions instead, e.g. at a
    what-if threshold or from another bundle; verdicts on cases or findings it lacks are
    left out.

    ``corrected_to_positive`` counts model negatives the reviewer called positive (misses);
    ``corrected_to_negative`` counts model positives the reviewer called negative (false
    alarms). The result has one row per label of the study's ``finding_labels``, in their
    order; ``agree_rate`` is NaN where nothing was reviewed. An unknown study raises
    :class:`core.studies.StudyError`.
    """
    labels = get_study(study).schema.finding_labels
    mine = verdicts[verdicts["study"] == study]
    pairs = mine[["case_hash", "finding", "model_decision", "reviewer_label"]]
    if decisions is not None:
        pairs = pairs.drop(columns="model_decision").merge(
            _long(decisions, labels), on=["case_hash", "finding"], how="inner"
        )
    model = pairs["model_decision"].to_numpy(dtype=int)
    reviewer = pairs["reviewer_label"].to_numpy(dtype=int)
    counts = pd.DataFrame(
        {
            "finding": pairs["finding"].to_numpy(),
            "reviewed": 1,
            "agree": (model == reviewer).astype(int),
            "model_positive": model,
            "reviewer_positive": reviewer,
            "corrected_to_positive": ((model == 0) & (reviewer == 1)).astype(int),
            "corrected_to_negative": ((model == 1) & (reviewer == 0)).astype(int),
        }
    )
    stats = counts.groupby("finding").sum().reindex(list(labels), fill_value=0)
    stats["agree_rate"] = stats["agree"] / stats["reviewed"].replace(0, np.nan)
    stats.index.name = "finding"
    return stats[list(STAT_COLUMNS)]


def _long(decisions: pd.DataFrame, labels: tuple[str, ...]) -> pd.DataFrame:
    """Wide 0/1 decisions (case hash x finding) to rows of case_hash, finding, decision."""
    unknown = [c for c in decisions.columns if c not in labels]
    if unknown:
        raise ValueError(f"decisions has columns that are not findings of the study: {unknown}")
    long = (
        decisions.rename_axis(index="case_hash")
        .reset_index()
        .melt(id_vars="case_hash", var_name="finding", value_name="model_decision")
        .dropna(subset=["model_decision"])
    )
    if not long["model_decision"].isin([0, 1]).all():
        raise ValueError("decisions must be 0 or 1 (or empty where the model gave none)")
    return long
