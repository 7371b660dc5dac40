"""The aneurysm demo's plan: a held-out cohort apart from training, a second-seed draw, and
the printed summary of the held-out figures against their targets."""

from __future__ import annotations

from core.demo import PLAN, TARGETS, seeded_plan, summary_lines


def test_held_out_cohort_is_large_and_shares_nothing_with_training() -> None:
    assert PLAN.heldout_patients >= 200  # a patient AUROC interval about +/- 0.04 wide
    assert PLAN.heldout_seed != PLAN.train_seed
    assert PLAN.heldout_start > PLAN.train_patients  # indices never overlap


def test_a_second_seed_redraws_both_cohorts_and_the_models() -> None:
    assert seeded_plan(None) is PLAN
    one, two = seeded_plan(1), seeded_plan(2)
    for plan in (one, two):
        assert plan.train_seed != PLAN.train_seed and plan.heldout_seed != PLAN.heldout_seed
        assert plan.heldout_seed != plan.train_seed
        assert plan.heldout_patients == PLAN.heldout_patients
    assert (one.train_seed, one.heldout_seed, one.model_seed) != (
        two.train_seed,
        two.heldout_seed,
        two.model_seed,
    )


def _report(auroc: float, macro: float | None, hit: float) -> dict:
    return {
        "n_patients": 200,
        "n_positive": 90,
        "aneurysm": {"auroc": auroc, "auroc_ci95": [auroc - 0.04, auroc + 0.03]},
        "location_macro_auroc": {"value": macro, "ci95": [None, None]},
        "pointing_game": {"hit_rate": hit},
        "location_accuracy": {"kium": 0.95, "all_zero_floor": 0.97},
    }


def test_summary_puts_each_figure_beside_its_target_with_its_interval() -> None:
    lines = summary_lines(_report(0.91, 0.79, 0.6))
    assert lines[0] == "held-out: 200 patients, 90 positive"
    assert "aneurysm AUROC: 0.910 (95 % CI 0.870-0.940); target >= 0.9 met" in lines[1]
    assert lines[2].endswith("location macro AUROC: 0.790; target >= 0.8 NOT met")
    assert lines[3].endswith("pointing game: 0.600; target >= 0.6 met")  # the target is >=
    assert "0.950 (all-zeros floor 0.970)" in lines[4]
    assert set(TARGETS) == {"aneurysm AUROC", "location macro AUROC", "pointing game"}
    assert "location macro AUROC: undefined" in summary_lines(_report(0.5, None, 0.0))[2]
