"""AppTests of the Dataset panels: the aneurysm cohort page's Dataset tab on the cached
cohort fixture (with and without truth.json), and the chest panel in a one-line script on
the tiny chest cohort and on a missing folder."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from streamlit.testing.v1 import AppTest
from test_app_cohort import CACHED_CI, N_BOOT, PAGE, TIMEOUT, cohort_env  # noqa: F401

from core.cohort.cache import PredictionCache, cache_key


def _charts(at: AppTest) -> dict[str, go.Figure]:
    """Plotly charts by their ``eda_`` key, each decoded back into a figure."""
    out = {}
    for el in at.get("plotly_chart"):
        key = el.proto.id.rsplit("-", 1)[-1]
        out[key] = pio.from_json(el.proto.spec)
    return {k: v for k, v in out.items() if k.startswith("eda_")}


def _values(data: object) -> list:
    """A trace's array: plotly's JSON writes numpy arrays as base64 typed arrays."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def _texts(elements) -> str:
    return " ".join(e.value for e in elements)


def _title(fig: go.Figure) -> str:
    return fig.layout.title.text


def test_dataset_tab_without_truth(cohort_env: tuple[Path, Path]) -> None:  # noqa: F811
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    assert "Dataset" in [t.label for t in at.tabs]
    charts = _charts(at)
    assert set(charts) == {"eda_kium_locations", "eda_kium_per_patient"}
    assert _title(charts["eda_kium_locations"]) == "Positives per location"
    per_patient = charts["eda_kium_per_patient"].data[0]
    assert sum(_values(per_patient.y)) == 40  # every patient of the fixture, once
    captions = _texts(at.caption)
    assert "40 patients in train.csv" in captions and "in train.csv order" in captions
    assert "No truth.json (real data)" in _texts(at.info)


def test_dataset_tab_with_truth(cohort_env: tuple[Path, Path]) -> None:  # noqa: F811
    """truth.json is part of the data fingerprint: the cached table moves to the new key."""
    bundle_dir, cohort_dir = cohort_env
    cache = PredictionCache(bundle_dir.parents[1] / "cache" / "cohort")
    table = cache.load(cache_key(bundle_dir, cohort_dir))
    sac = {"location": "R_MCA", "center": [10, 10], "radius": 8.0}
    images = {f"1{v}.jpg": {"patient": 1, "view": v, "aneurysms": [sac]} for v in ("RI-A", "RI-B")}
    (cohort_dir / "truth.json").write_text(json.dumps({"images": images}))
    key = cache_key(bundle_dir, cohort_dir)
    cache.save(key, table)
    cache.save_intervals(key, N_BOOT, 0, CACHED_CI)
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    sacs = _charts(at)["eda_kium_sacs"]
    assert [t.name for t in sacs.data] == ["R_MCA"] and _values(sacs.data[0].x) == [8.0]
    assert "1 drawn aneurysms from truth.json" in _texts(at.caption)


def _chest_script(folder: str) -> None:
    from pathlib import Path

    from ui.eda import chest_eda_panel

    chest_eda_panel(Path(folder))


def test_chest_panel(tiny_chest_cohort: Path) -> None:
    at = AppTest.from_function(
        _chest_script, args=(str(tiny_chest_cohort),), default_timeout=TIMEOUT
    )
    at.run()
    assert not at.exception, at.exception
    assert not at.warning
    charts = _charts(at)
    expected = {"eda_chest_boxes", "eda_chest_images", "eda_chest_labels", "eda_chest_habits"}
    assert expected <= set(charts)
    boxes = charts["eda_chest_boxes"].data
    assert [t.name for t in boxes] == ["readers", "fused"] and len(_values(boxes[0].x)) == 15
    assert at.caption[0].value.startswith("12 films")
    assert {"eda_chest_sizes", "eda_chest_position", "eda_chest_mix"} <= set(charts)
    first = _title(charts["eda_chest_position"])
    options = at.selectbox(key="eda_chest_class").options
    assert len(options) > 1  # the tiny cohort's readers mark several classes
    at.selectbox(key="eda_chest_class").select(options[-1]).run()
    assert not at.exception, at.exception
    assert _title(_charts(at)["eda_chest_position"]) != first
    at.radio(key="eda_chest_source").set_value("fused").run()
    assert not at.exception, at.exception
    assert "(fused)" in _title(_charts(at)["eda_chest_sizes"])
    assert {"eda_chest_mix", "eda_chest_reader_sizes"} <= set(_charts(at))


def test_chest_panel_missing_folder(tmp_path: Path) -> None:
    at = AppTest.from_function(
        _chest_script, args=(str(tmp_path / "nope"),), default_timeout=TIMEOUT
    )
    at.run()
    assert not at.exception, at.exception
    assert len(at.warning) == 1 and "no train.csv" in at.warning[0].value
    assert not _charts(at)
