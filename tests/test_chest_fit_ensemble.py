"""Ensemble selection on hand-built detections: a member that only adds false boxes is left
out, a member that finds what the best one misses joins, and the chosen candidate is the
table's best."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.studies.chest.ensemble import EnsembleSettings
from core.studies.chest.fit_ensemble import choose_members
from core.studies.chest.runner import ChestOutput

SIZE = (100, 100)


def _boxes(*rows: tuple[float, float, float, float, float, int]):  # noqa: ANN202
    arr = np.array([r[:4] for r in rows], np.float32).reshape(-1, 4)
    return arr, np.array([r[4] for r in rows], np.float32), np.array([r[5] for r in rows], np.int64)


def _truth(rows: list[tuple[str, int, float, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["image_id", "class_id", "x_min", "y_min", "x_max", "y_max"])


def _outputs(members: dict[str, dict[str, tuple]]) -> list[ChestOutput]:
    ids = list(next(iter(members.values())))
    return [
        ChestOutput(
            i,
            SIZE,
            {r: m[i] for r, m in members.items()},
            next(iter(members.values()))[i],
            next(iter(members.values()))[i],
        )  # fmt: skip
        for i in ids
    ]


TRUTH = _truth([("a", 3, 10, 10, 40, 40), ("b", 3, 50, 50, 90, 90), ("c", 14, 0, 0, 1, 1)])
GOOD = {"a": _boxes((10, 10, 40, 40, 0.9, 3)), "b": _boxes((50, 50, 90, 90, 0.8, 3)), "c": _boxes()}


def test_a_member_of_false_alarms_is_left_out() -> None:
    noise = {i: _boxes((60, 0, 99, 30, 0.95, 3), (0, 60, 30, 99, 0.95, 3)) for i in "abc"}
    kept, settings, table = choose_members(
        _outputs({"detector_good": GOOD, "detector_noise": noise}),
        TRUTH,
        list("abc"),
        EnsembleSettings(),
    )
    assert kept == ["detector_good"] and settings.weights is None
    assert max(row["map"] for row in table) == table[0]["map"]  # the best member alone wins


def test_a_member_that_finds_the_missed_box_joins() -> None:
    partial = {"a": _boxes((10, 10, 40, 40, 0.9, 3)), "b": _boxes(), "c": _boxes()}
    other = {"a": _boxes(), "b": _boxes((50, 50, 90, 90, 0.9, 3)), "c": _boxes()}
    kept, settings, table = choose_members(
        _outputs({"detector_a": partial, "detector_b": other}),
        TRUTH,
        list("abc"),
        EnsembleSettings(),
    )
    assert kept == ["detector_a", "detector_b"] and settings.weights is not None
    best = max(table, key=lambda row: row["map"])
    assert best["members"] == kept and best["map"] > table[0]["map"]
