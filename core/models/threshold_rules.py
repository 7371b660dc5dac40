"""The threshold rules a user can pick, in one table.

A *threshold rule* says how a bundle's operating thresholds are fitted from scored
patients: a column rule for the stage-1 gate, one for the labels, and their parameters
(:mod:`core.models.calibration` fits them). Every place that offers a rule reads this
table: the ``train`` CLI's ``--threshold-rule`` choices and help, the validation of
:class:`core.training.options.TrainOptions`, the training finish, and the cohort page's
what-if picker and its labels. Adding a rule is one entry in :data:`THRESHOLD_RULES` (plus
its name in :data:`RuleName` for type checkers, and in the ``rules`` of each study that
offers it).

The ``original`` entry is made of :mod:`core.models.calibration`'s ``ORIGINAL_*``
constants, the one place the original pipeline's rule is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np

from core.models.calibration import (
    DEFAULT_TARGET,
    ORIGINAL_LOCATIONS,
    ORIGINAL_Q,
    ORIGINAL_STAGE1,
    STAGE1_Q,
    ColumnRule,
    calibrate,
)
from core.models.thresholds import Thresholds
from core.schema import LOCATIONS

__all__ = [
    "RuleName",
    "DEFAULT_RULE",
    "ThresholdRule",
    "ThresholdRuleError",
    "THRESHOLD_RULES",
    "RULE_NAMES",
    "get_threshold_rule",
    "rules_help",
]

#: The table's names, for type checkers (a test keeps the two equal).
RuleName = Literal["original", "youden", "sensitivity"]


class ThresholdRuleError(ValueError):
    """A threshold rule name that is not in the table."""


@dataclass(frozen=True)
class ThresholdRule:
    """One named way of fitting a threshold set, and how it is shown.

    ``label`` is short, for a picker (the cohort page prefixes where it fits); ``help`` is
    a phrase for the ``train`` CLI. ``q`` is the label percentile (and the ROC rules'
    fallback), ``stage1_q`` the stage-1 one.
    """

    name: str
    label: str
    help: str
    stage1: ColumnRule
    locations: ColumnRule
    q: float = ORIGINAL_Q
    stage1_q: float = STAGE1_Q

    @property
    def uses_target(self) -> bool:
        """Whether a target sensitivity changes the result (a picker then asks for it)."""
        return "sensitivity" in (self.stage1, self.locations)

    def fit(
        self,
        patient_scores: np.ndarray,
        location_predictions: Mapping[str, np.ndarray],
        *,
        patient_labels: np.ndarray | None = None,
        location_labels: Mapping[str, np.ndarray] | None = None,
        target: float = DEFAULT_TARGET,
        author: str = "training",
        columns: Sequence[str] = LOCATIONS,
    ) -> Thresholds:
        """The threshold set this rule gives on these scores (labels are read only by the
        ROC column rules; see :func:`core.models.calibration.calibrate`)."""
        return calibrate(
            patient_scores,
            location_predictions,
            patient_labels=patient_labels,
            location_labels=location_labels,
            stage1_rule=self.stage1,
            location_rule=self.locations,
            q=self.q,
            stage1_q=self.stage1_q,
            target=target,
            author=author,
            columns=columns,
        )


_ORIGINAL_TEXT = f"{ORIGINAL_STAGE1} / {ORIGINAL_Q:g}th percentile"

#: Every threshold rule by name, in the order pickers list them.
THRESHOLD_RULES: Mapping[str, ThresholdRule] = MappingProxyType(
    {
        rule.name: rule
        for rule in (
            ThresholdRule(
                "original",
                label=f"original rule ({_ORIGINAL_TEXT})",
                help=f"stage 1 at the {ORIGINAL_STAGE1} patient score, each location at the "
                f"{ORIGINAL_Q:g}th percentile of its probabilities (the original pipeline)",
                stage1=ORIGINAL_STAGE1,
                locations=ORIGINAL_LOCATIONS,
            ),
            ThresholdRule(
                "youden",
                label="Youden J",
                help="stage 1 and each location at its ROC point maximising TPR - FPR",
                stage1="youden",
                locations="youden",
            ),
            ThresholdRule(
                "sensitivity",
                label="target sensitivity",
                help="stage 1 and each location at the highest threshold that reaches the "
                "target sensitivity",
                stage1="sensitivity",
                locations="sensitivity",
            ),
        )
    }
)
RULE_NAMES: tuple[str, ...] = tuple(THRESHOLD_RULES)
DEFAULT_RULE: RuleName = "original"


def get_threshold_rule(name: str) -> ThresholdRule:
    """The rule called ``name``; :class:`ThresholdRuleError` lists the known ones."""
    try:
        return THRESHOLD_RULES[name]
    except (KeyError, TypeError):
        raise ThresholdRuleError(
            f"unknown threshold rule {name!r}; use one of {RULE_NAMES}"
        ) from None


def rules_help() -> str:
    """One help text naming every rule, for ``--threshold-rule``."""
    return "; ".join(f"{r.name}: {r.help}" for r in THRESHOLD_RULES.values())
