"""Pointing game on a cohort: truth.json positions against cached CAM peaks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.cohort.pointing import hits_by_view, load_targets, view_hits
from core.cohort.synthetic import synthetic_table
from core.cohort.table import peak_columns
from core.schema import VIEWS


def test_hits_per_view(tmp_path: Path) -> None:
    table = synthetic_table(3, seed=0)
    for v in VIEWS:
        x, y, w, h = peak_columns(v)
        table[x], table[y], table[w], table[h] = 100.0, 100.0, 1000, 800
    table.loc[0, peak_columns("LI-B")[0]] = 400.0  # patient 1's LI-B peak is far off
    images = {
        "1LI-A.jpg": {
            "patient": 1,
            "view": "LI-A",
            "aneurysms": [{"location": "ICA", "center": [110, 95], "radius": 8}],
        },
        "1LI-B.jpg": {
            "patient": 1,
            "view": "LI-B",
            "aneurysms": [{"location": "ICA", "center": [110, 95], "radius": 8}],
        },
        "2LV-A.jpg": {
            "patient": 2,
            "view": "LV-A",
            "aneurysms": [{"location": "BA", "center": [100, 170], "radius": 10}],
        },
        "2LV-B.jpg": {"patient": 2, "view": "LV-B", "aneurysms": []},
    }
    (tmp_path / "truth.json").write_text(json.dumps({"images": images}))
    targets = load_targets(tmp_path)
    assert targets is not None and targets[(2, "LV-B")].shape == (0, 3)
    hits = view_hits(table, targets).set_index(["Index", "view"])["hit"]
    # margin 5 % of 1000 px = 50 px: (110, 95) r=8 is a hit; LI-B at x=400 misses;
    # (100, 170) is 70 px away
    assert hits.to_dict() == {(1, "LI-A"): True, (1, "LI-B"): False, (2, "LV-A"): False}
    by_view = hits_by_view(table, targets)
    assert by_view.loc["all", "n_views"] == 3 and by_view.loc["all", "hits"] == 1
    assert by_view.loc["LI-A", "hit_rate"] == 1.0 and by_view.loc["RV-B", "n_views"] == 0
    assert hits_by_view(table, targets, margin_frac=0.1).loc["LV-A", "hits"] == 1  # 70 <= 10 + 100


def test_no_truth_or_no_peaks(tmp_path: Path) -> None:
    assert load_targets(tmp_path) is None
    with pytest.raises(ValueError, match="CAM"):
        view_hits(synthetic_table(2), {(1, "LI-A"): np.zeros((0, 3))})
