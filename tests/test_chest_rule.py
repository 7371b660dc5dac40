"""The normal/abnormal classifier rule on hand-built detections: its three zones, the
identity, saved rules refused, and fit_rule choosing the clearly better rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.studies.chest.classes import NO_FINDING_ID
from core.studies.chest.metric import match_all, mean_average_precision
from core.studies.chest.rule import (
    IDENTITY_RULE,
    ClassifierRule,
    RuleError,
    apply_rule,
    fit_rule,
)

BOXES = np.array([[10.0, 20.0, 110.0, 220.0], [300.0, 300.0, 400.0, 380.0]])
SCORES = np.array([0.5, 0.25])
LABELS = np.array([3, 8])
RULE = ClassifierRule(low=0.2, high=0.6)


def test_below_low_scores_are_multiplied_by_p_and_no_finding_added() -> None:
    out = apply_rule(BOXES, SCORES, LABELS, 0.12, RULE)
    assert out.factor == pytest.approx(0.12)
    np.testing.assert_allclose(out.scores, [0.06, 0.03])
    np.testing.assert_array_equal(out.boxes, BOXES)
    np.testing.assert_array_equal(out.labels, LABELS)
    assert out.no_finding == pytest.approx(0.88)
    assert out.action == "lowered box scores ×0.12 and added No finding 0.88"


def test_between_the_factor_runs_linearly_from_low_to_one() -> None:
    # t = (0.4 - 0.2) / (0.6 - 0.2) = 0.5; factor = 0.4 + (1 - 0.4) * 0.5 = 0.7
    out = apply_rule(BOXES, SCORES, LABELS, 0.4, RULE)
    assert out.factor == pytest.approx(0.7)
    np.testing.assert_allclose(out.scores, [0.35, 0.175])
    assert out.no_finding == pytest.approx(0.6)
    assert out.action == "lowered box scores ×0.70 and added No finding 0.60"


def test_above_high_boxes_are_kept_and_no_finding_still_added() -> None:
    out = apply_rule(BOXES, SCORES, LABELS, 0.9, RULE)
    np.testing.assert_array_equal(out.scores, SCORES)
    assert out.no_finding == pytest.approx(0.1)
    assert out.action == "kept box scores and added No finding 0.10"


def test_factor_is_continuous_and_rising() -> None:
    p = np.linspace(0.0, 1.0, 1001)
    f = RULE.factor(p)
    assert np.all(np.diff(f) >= 0) and np.max(np.abs(np.diff(f))) < 0.01
    assert RULE.factor(0.2) == pytest.approx(0.2) and RULE.factor(0.6) == 1.0
    step = ClassifierRule(low=0.3, high=0.3)  # the public kernels' hard step
    assert step.factor(0.29) == pytest.approx(0.29) and step.factor(0.3) == 1.0


def test_no_boxes_and_no_no_finding() -> None:
    out = apply_rule(np.zeros((0, 4)), [], [], 0.12, RULE)
    assert out.action == "no boxes and added No finding 0.88" and len(out.scores) == 0
    silent = ClassifierRule(low=0.2, high=0.6, add_no_finding=False)
    out = apply_rule(BOXES, SCORES, LABELS, 0.12, silent)
    assert out.no_finding is None and out.action == "lowered box scores ×0.12"
    assert NO_FINDING_ID not in set(out.to_frame("a")["class_id"])


def test_identity_changes_nothing() -> None:
    for p in (None, 0.0, 0.5, 1.0):
        out = apply_rule(BOXES, SCORES, LABELS, p, IDENTITY_RULE)
        np.testing.assert_array_equal(out.boxes, BOXES)
        np.testing.assert_array_equal(out.scores, SCORES)
        np.testing.assert_array_equal(out.labels, LABELS)
        assert out.no_finding is None and out.factor == 1.0
    frame = apply_rule(BOXES, SCORES, LABELS, None, IDENTITY_RULE).to_frame("img")
    assert frame["class_id"].tolist() == [3, 8] and frame["score"].tolist() == [0.5, 0.25]
    assert IDENTITY_RULE.is_identity and not RULE.is_identity


def test_to_frame_writes_no_finding_as_the_unit_box() -> None:
    frame = apply_rule(BOXES, SCORES, LABELS, 0.12, RULE).to_frame("img")
    last = frame.iloc[-1]
    assert last["class_id"] == NO_FINDING_ID and last["score"] == pytest.approx(0.88)
    assert [last[c] for c in ("x_min", "y_min", "x_max", "y_max")] == [0, 0, 1, 1]


@pytest.mark.parametrize(
    ("p", "labels", "message"),
    [(None, LABELS, "needs the classifier"), (1.5, LABELS, "p_abnormal"),
     (float("nan"), LABELS, "p_abnormal"), (0.5, [3, 14], "finding classes"),
     (0.5, [3], "differ")],
)  # fmt: skip
def test_apply_rule_refuses_bad_input(p: float | None, labels: list[int], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        apply_rule(BOXES, SCORES, labels, p, RULE)


def test_rule_round_trips_and_refuses_bad_saved_rules() -> None:
    assert ClassifierRule.from_dict(RULE.to_dict()) == RULE
    assert ClassifierRule.from_dict(IDENTITY_RULE.to_dict()).is_identity
    bad = [
        ({"low": 0.1, "hihg": 0.5}, "unknown rule fields"),
        ({"low": 0.7, "high": 0.5}, "above high"),
        ({"low": "0.1"}, "must be a number"),
        ({"low": True}, "must be a number"),
        ({"high": float("nan")}, "must be in"),
        ({"high": 1.2}, "must be in"),
        ({"add_no_finding": "yes"}, "true or false"),
    ]
    for data, message in bad:
        with pytest.raises(RuleError, match=message):
            ClassifierRule.from_dict(data)
    with pytest.raises(RuleError, match="mapping"):
        ClassifierRule.from_dict([0.1, 0.5])  # type: ignore[arg-type]


def _tiny_case() -> tuple[dict, dict, pd.DataFrame]:
    """Film A: one lesion the detector finds at 0.4, P(abnormal) 0.9. Film B: normal, a
    false box at 0.9, P(abnormal) 0.05. Demoting B's box below A's makes class 0 perfect."""
    lesion = [100.0, 100.0, 200.0, 200.0]
    detections = {
        "A": (np.array([lesion]), np.array([0.4]), np.array([0])),
        "B": (np.array([[50.0, 50.0, 150.0, 150.0]]), np.array([0.9]), np.array([0])),
    }
    truth = pd.DataFrame(
        [("A", 0, *lesion), ("B", NO_FINDING_ID, 0.0, 0.0, 1.0, 1.0)],
        columns=["image_id", "class_id", "x_min", "y_min", "x_max", "y_max"],
    )
    return detections, {"A": 0.9, "B": 0.05}, truth


def test_fit_rule_picks_the_clearly_better_rule() -> None:
    detections, p, truth = _tiny_case()
    rule, table = fit_rule(detections, p, truth, ["A", "B"], lows=(0.0, 0.1), highs=(0.1,))
    # identity: class 0 ranks B's false box first (AP 0.5), "No finding" never predicted
    # (AP 0) -> 0.25. low 0, high 0.1: B's factor 0.525 keeps 0.4725 above A's 0.4
    # (AP 0.5), "No finding" ranks B first (AP 1) -> 0.75. low 0.1: B's box x0.05 -> 1.0.
    assert table[["low", "high", "add_no_finding"]].values.tolist() == [
        [0.0, 0.0, False], [0.0, 0.1, True], [0.1, 0.1, True]]  # fmt: skip
    np.testing.assert_allclose(table["map"], [0.25, 0.75, 1.0])
    assert rule == ClassifierRule(low=0.1, high=0.1)
    # the grid's vectorised scoring agrees with apply_rule image by image
    pred = pd.concat([apply_rule(*detections[i], p[i], rule).to_frame(i) for i in "AB"])
    assert mean_average_precision(match_all(pred, truth, ["A", "B"]))[0] == pytest.approx(1.0)


def test_fit_rule_keeps_the_identity_on_a_tie_and_needs_every_probability() -> None:
    detections, p, truth = _tiny_case()
    truth = truth[truth["image_id"] == "A"]  # no normal film; the rule has nothing to gain
    detections = {"A": detections["A"]}  # B without detections: no boxes
    rule, table = fit_rule(detections, p, truth, ["A", "B"], lows=(0.0,), highs=(0.0, 0.5))
    assert rule.is_identity and table["map"].tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(RuleError, match="no P\\(abnormal\\) for 1 images"):
        fit_rule(detections, {"A": 0.9}, truth, ["A", "B"])
