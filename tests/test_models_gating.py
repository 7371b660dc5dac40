"""The two-stage decision as a pure function, on hand-built probabilities."""

from __future__ import annotations

import pytest

from core.models.gating import circulation_means, decide_locations, gate
from core.models.thresholds import Thresholds
from core.schema import LOCATIONS, ORIGINAL_GROUPS

THR = Thresholds(0.5, {c: 0.5 for c in LOCATIONS}, rule="fixed")
ANT = dict.fromkeys(ORIGINAL_GROUPS.anterior, 0.1)
POST = dict.fromkeys(ORIGINAL_GROUPS.posterior, 0.1)


def _views(**changes: dict[str, float]) -> dict[str, dict[str, float]]:
    base = {"LI-A": ANT, "LI-B": ANT, "RI-A": ANT, "RI-B": ANT,
            "LV-A": POST, "LV-B": POST, "RV-A": POST, "RV-B": POST}  # fmt: skip
    return {v: base[v] | changes.get(v.replace("-", "_"), {}) for v in base}


def test_patient_score_is_the_max_of_circulation_means() -> None:
    scores = {"LI-A": 0.9, "LI-B": 0.7, "RI-A": 0.1, "RI-B": 0.1,
              "LV-A": 0.2, "LV-B": 0.2, "RV-A": 0.2, "RV-B": 0.2}  # fmt: skip
    means = circulation_means(scores)
    assert means == {"anterior": pytest.approx(0.45), "posterior": pytest.approx(0.2)}
    g = gate(scores, 0.45)
    assert g.patient_score == pytest.approx(0.45) and g.positive  # >= is positive
    assert "anterior mean" in g.reason
    assert not gate(scores, 0.46).positive


def test_negative_gate_zeroes_decisions_but_keeps_probabilities() -> None:
    views = _views(LI_A={"MCA": 0.95})
    g = gate(dict.fromkeys(views, 0.2), THR.stage1)
    locs = decide_locations(views, g, THR, ORIGINAL_GROUPS)
    assert not g.positive
    assert all(d.decision == 0 for d in locs.values())
    assert locs["L_MCA"].score == pytest.approx(0.95)
    assert "stage 1 negative" in locs["L_MCA"].reason


def test_sides_come_back_from_views_and_ab_combine_by_max() -> None:
    views = _views(LI_A={"ICA": 0.9}, LI_B={"ICA": 0.2}, RI_B={"MCA": 0.7},
                   LV_B={"BA": 0.3}, RV_A={"BA": 0.8}, RV_B={"PCOM": 0.6})  # fmt: skip
    g = gate(dict.fromkeys(views, 0.9), THR.stage1)
    locs = decide_locations(views, g, THR, ORIGINAL_GROUPS)
    decided = {c for c, d in locs.items() if d.decision}
    assert decided == {"L_ICA", "R_MCA", "BA", "R_PCOM"}
    assert locs["L_ICA"].score == pytest.approx(0.9)
    assert locs["L_ICA"].sources == ("LI-A", "LI-B")
    assert locs["BA"].score == pytest.approx(0.8)  # from the right side
    assert set(locs["BA"].sources) == {"LV-A", "LV-B", "RV-A", "RV-B"}
    mean_locs = decide_locations(views, g, THR, ORIGINAL_GROUPS, combine="mean")
    assert mean_locs["L_ICA"].score == pytest.approx(0.55)


def test_joint_rule_lets_stage1_rank_locations_and_says_so() -> None:
    from core.models.gating import gate_and_decide

    views = _views(LI_A={"MCA": 0.9}, LI_B={"MCA": 0.6})
    scores = dict.fromkeys(views, 0.9) | {"LI-A": 0.2, "LI-B": 0.95}
    _, plain = gate_and_decide(scores, views, THR, ORIGINAL_GROUPS)
    g, joint = gate_and_decide(scores, views, THR, ORIGINAL_GROUPS, "joint_max")
    assert plain["L_MCA"].score == pytest.approx(0.9)
    assert joint["L_MCA"].score == pytest.approx(0.57)  # 0.6 x 0.95 beats 0.9 x 0.2
    assert g.positive and joint["L_MCA"].decision == 1
    assert "max of stage 1 x stage 2 of LI-A, LI-B" in joint["L_MCA"].reason
    assert joint["L_ICA"].score == pytest.approx(0.1 * 0.95)


def test_partial_case_without_posterior_views() -> None:
    views = {v: p for v, p in _views(LI_A={"ACA": 0.9}).items() if "I" in v}
    g = gate(dict.fromkeys(views, 0.8), THR.stage1)
    assert g.posterior_mean is None and g.anterior_mean == pytest.approx(0.8)
    assert g.positive and "no posterior views" in g.reason
    locs = decide_locations(views, g, THR, ORIGINAL_GROUPS)
    assert locs["L_ACA"].decision == 1
    assert locs["BA"].decision == 0 and locs["BA"].sources == ()
    assert "no view" in locs["BA"].reason


def test_no_views_at_all() -> None:
    g = gate({}, 0.5)
    assert g.patient_score is None and not g.positive and "no views" in g.reason
    locs = decide_locations({}, g, THR, ORIGINAL_GROUPS)
    assert sum(d.decision for d in locs.values()) == 0 and len(locs) == 21
