"""The normal/abnormal "2-class filter": a classifier's P(abnormal) ``p`` reshaping a
detector's output, as the strongest VinBigData teams did.

The rule (one, exact; :meth:`ClassifierRule.factor`):

* every box score is multiplied by ``factor(p)``: ``p`` when ``p < low``; ``1`` when
  ``p >= high``; in between ``p + (1 - p) * (p - low) / (high - low)``, the straight line
  from ``low`` (at ``p = low``) to 1 (at ``p = high``), so the factor is continuous and
  rises with ``p``. ``low == high`` is the public kernels' hard step;
* "No finding" (``0 0 1 1``) is added with score ``1 - p`` (when ``add_no_finding``).

Why demote and never delete: in this metric (all-point VOC AP per class) a detection
ranked below the others can only add recall, never lower AP. The public kernels replaced
a normal-looking film's boxes by ``14 1 0 0 1 1``; multiplying by ``p`` instead sends them
to the tail of each class's ranking, where a real lesion still counts. For the same
reason "No finding" goes on every film: dropping the low-scored ones truncates its
ranking, which never helps. :data:`IDENTITY_RULE` (no classifier) changes nothing and adds
nothing: the "without the rule" arm of an evaluation.

:func:`fit_rule` picks ``low``/``high`` by grid search of mAP@0.4 on a VALIDATION split
only; fitting on held-out films would make their score a training score.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from core.studies.chest.classes import BOX_COLUMNS, NO_FINDING_ID
from core.studies.chest.fusion import NO_FINDING_BOX
from core.studies.chest.metric import COMPETITION_IOU, match_all, mean_average_precision
from core.studies.chest.submission import PREDICTION_COLUMNS

__all__ = ["DEFAULT_HIGHS", "DEFAULT_LOWS", "IDENTITY_RULE", "ClassifierRule", "RuleError",
           "RuleOutcome", "apply_rule", "fit_rule"]  # fmt: skip

log = logging.getLogger(__name__)

#: The grid :func:`fit_rule` searches by default (pairs with ``low <= high``).
DEFAULT_LOWS: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
DEFAULT_HIGHS: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.95)

#: One image's detections: ``(n, 4)`` xyxy pixels, ``(n,)`` scores, ``(n,)`` labels 0-13.
Detections = tuple[ArrayLike, ArrayLike, ArrayLike]


class RuleError(ValueError):
    """A rule, a probability or a saved rule that cannot be used."""


def _unit(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise RuleError(f"{name} must be a number in [0, 1], got {value!r}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise RuleError(f"{name} must be in [0, 1], got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ClassifierRule:
    """Thresholds on P(abnormal) (see the module docstring); JSON-able."""

    low: float = 0.05
    high: float = 0.5
    add_no_finding: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", _unit("low", self.low))
        object.__setattr__(self, "high", _unit("high", self.high))
        if self.low > self.high:
            raise RuleError(f"low {self.low} is above high {self.high}")
        if not isinstance(self.add_no_finding, bool):
            raise RuleError(f"add_no_finding must be true or false, got {self.add_no_finding!r}")

    @property
    def is_identity(self) -> bool:
        return self.high == 0.0 and not self.add_no_finding

    def factor(self, p: ArrayLike) -> np.ndarray:
        """The box-score multiplier for P(abnormal) ``p`` (vectorised)."""
        p = np.asarray(p, float)
        t = np.clip((p - self.low) / max(self.high - self.low, 1e-12), 0.0, 1.0)
        return np.where(p < self.low, p, np.where(p >= self.high, 1.0, p + (1.0 - p) * t))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ClassifierRule:
        """A saved rule; unknown fields or bad values raise :class:`RuleError` (missing
        fields take the defaults)."""
        if not isinstance(data, Mapping):
            raise RuleError(f"a rule is a mapping of its fields, got {type(data).__name__}")
        if unknown := sorted(set(data) - {f.name for f in fields(cls)}):
            raise RuleError(f"unknown rule fields {unknown}")
        return cls(**data)  # type: ignore[arg-type]


#: No classifier: boxes untouched, no "No finding" added.
IDENTITY_RULE = ClassifierRule(low=0.0, high=0.0, add_no_finding=False)


@dataclass(frozen=True)
class RuleOutcome:
    """One image after the rule: the boxes (unchanged), rescaled scores, labels, the
    "No finding" score to add (``None``: add none), the factor and a line for the UI."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    no_finding: float | None
    factor: float
    action: str

    def to_frame(self, image_id: str) -> pd.DataFrame:
        """:data:`PREDICTION_COLUMNS` rows, "No finding" last with the ``0 0 1 1`` box."""
        rows = [(image_id, int(c), float(s), *map(float, b))
                for b, s, c in zip(self.boxes, self.scores, self.labels)]  # fmt: skip
        if self.no_finding is not None:
            rows.append((image_id, NO_FINDING_ID, self.no_finding, *NO_FINDING_BOX))
        return pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))


_NONE: Detections = (np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=int))


def _arrays(boxes: ArrayLike, scores: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, ...]:
    b = np.asarray(boxes, float).reshape(-1, 4)
    s, c = np.asarray(scores, float).ravel(), np.asarray(labels, int).ravel()
    if not len(b) == len(s) == len(c):
        raise RuleError(f"{len(b)} boxes, {len(s)} scores and {len(c)} labels differ")
    if c.size and not (c.min() >= 0 and c.max() < NO_FINDING_ID):
        raise RuleError(f"box labels must be finding classes 0-13, got {sorted(set(c))}")
    return b, s, c


def apply_rule(
    boxes: ArrayLike, scores: ArrayLike, labels: ArrayLike, p_abnormal: float | None,
    rule: ClassifierRule,
) -> RuleOutcome:  # fmt: skip
    """The rule on one image's detections; ``p_abnormal`` may be ``None`` only for the
    identity rule (there is no classifier to ask)."""
    b, s, c = _arrays(boxes, scores, labels)
    if rule.is_identity:
        return RuleOutcome(b, s, c, None, 1.0, "no classifier rule: detector output unchanged")
    if p_abnormal is None:
        raise RuleError("this rule needs the classifier's P(abnormal); got None")
    p = _unit("p_abnormal", p_abnormal)
    factor = float(rule.factor(p))
    nf = round(1.0 - p, 12) if rule.add_no_finding else None
    kept = "kept box scores" if factor == 1.0 else f"lowered box scores ×{factor:.2f}"
    kept = kept if len(s) else "no boxes"
    added = f" and added No finding {nf:.2f}" if nf is not None else ""
    return RuleOutcome(b, s * factor, c, nf, factor, kept + added)


def fit_rule(
    detections: Mapping[str, Detections],
    p_abnormal: Mapping[str, float],
    truth: pd.DataFrame,
    image_ids: Sequence[str],
    *,
    lows: Sequence[float] = DEFAULT_LOWS,
    highs: Sequence[float] = DEFAULT_HIGHS,
    iou_thr: float = COMPETITION_IOU,
) -> tuple[ClassifierRule, pd.DataFrame]:
    """The grid rule with the best mAP@``iou_thr`` over ``image_ids`` of a VALIDATION split
    (never held-out films), and the table (``low, high, add_no_finding, map``; the
    identity first, as the "without the rule" line). Ties go to the earlier row: the
    identity, then the smaller ``low`` and ``high`` (the gentler rule). ``detections``
    missing an image means no boxes there; ``p_abnormal`` must cover every image.
    """
    ids = [str(i) for i in image_ids]
    if missing := [i for i in ids if i not in p_abnormal]:
        raise RuleError(f"no P(abnormal) for {len(missing)} images, e.g. {missing[:3]}")
    p = np.array([_unit(f"p_abnormal[{i}]", p_abnormal[i]) for i in ids])
    flat = [_arrays(*detections.get(i, _NONE)) for i in ids]
    row_img = np.repeat(np.arange(len(ids)), [len(s) for _, s, _ in flat])
    coords = np.concatenate([b for b, _, _ in flat]) if flat else np.zeros((0, 4))
    boxes = pd.DataFrame({"image_id": np.array(ids, dtype=object)[row_img],
                          "class_id": np.concatenate([c for *_, c in flat] or [[]]).astype(int),
                          "score": np.concatenate([s for _, s, _ in flat] or [[]])}
                         | dict(zip(BOX_COLUMNS, coords.T)))  # fmt: skip
    row_p = p[row_img]
    raw = boxes["score"].to_numpy(float)
    nf = pd.DataFrame({"image_id": ids, "class_id": NO_FINDING_ID, "score": 1.0 - p}
                      | dict(zip(BOX_COLUMNS, NO_FINDING_BOX)))  # fmt: skip
    candidates = [IDENTITY_RULE] + [ClassifierRule(lo, hi) for lo in sorted(set(lows))
                                    for hi in sorted(set(highs)) if lo <= hi]  # fmt: skip
    rows = []
    for rule in candidates:
        pred = boxes.assign(score=raw * rule.factor(row_p))
        if rule.add_no_finding:
            pred = pd.concat([pred, nf], ignore_index=True)
        score, _ = mean_average_precision(match_all(pred, truth, ids, iou_thr))
        rows.append({**rule.to_dict(), "map": score})
    table = pd.DataFrame(rows)
    best = int(table["map"].astype(float).fillna(-1.0).to_numpy().argmax())
    log.info("fit_rule: %d candidates on %d images; best %s (mAP %s)", len(table), len(ids),
             candidates[best].to_dict(), table["map"][best])  # fmt: skip
    return candidates[best], table
