"""Two-stage inference on synthetic cases with a tiny bundle, and ``python -m core predict``."""

from __future__ import annotations

import csv
import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from models_fixtures import dsa_like, synthetic_case, write_tiny_bundle

from core.__main__ import main as cli_main
from core.case import Case, SourceInfo, ViewImage
from core.models.bundle import Bundle, load_bundle
from core.models.explain import explain
from core.models.inference import predict_cases, preprocess_case, run_case
from core.models.manifest import manifest_path
from core.preprocess.params import PreprocessParamsError, recorded_params
from core.schema import LOCATIONS, TRAIN_COLUMNS, VIEWS


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_bundle(tmp_path_factory.mktemp("inference") / "tiny")


@pytest.fixture(scope="module")
def bundle(bundle_dir: Path) -> Bundle:
    return load_bundle(bundle_dir, device="cpu")


def test_full_case(bundle: Bundle) -> None:
    case = synthetic_case("11")
    result = run_case(bundle, case)
    assert list(result.views) == list(VIEWS) and result.missing_views == ()
    assert set(result.locations) == set(LOCATIONS)
    means = [result.gate.anterior_mean, result.gate.posterior_mean]
    assert result.aneurysm_probability == pytest.approx(max(means))  # type: ignore[type-var]
    li_a = result.views["LI-A"]
    assert set(li_a.stage2_probabilities) == set(bundle.spec("anterior").labels)
    assert set(result.views["RV-B"].stage2_probabilities) == set(bundle.spec("posterior").labels)
    x0, y0, x1, y1 = li_a.record.crop
    assert li_a.cam is not None and li_a.cam.target == "Aneurysm"
    if li_a.cam.peak_xy is not None:
        assert x0 <= li_a.cam.peak_xy[0] < x1 and y0 <= li_a.cam.peak_xy[1] < y1
    assert np.isclose(1 / (1 + np.exp(-li_a.cam.logit)), li_a.stage1_probability)
    t = result.timings
    assert t.fused_stage1_cam and t.device.startswith("cpu") and t.total_ms > 0
    json.dumps(result.to_dict())  # pure data


def test_cam_off_gives_the_same_scores(bundle: Bundle) -> None:
    case = synthetic_case("12", seed=1)
    with_cam, without = run_case(bundle, case), run_case(bundle, case, cam=False)
    assert without.views["LV-A"].cam is None
    for v in VIEWS:
        assert with_cam.views[v].stage1_probability == pytest.approx(
            without.views[v].stage1_probability, abs=1e-6
        )


def test_partial_case_says_what_is_missing(bundle: Bundle) -> None:
    case = synthetic_case("13", views=("LI-A", "LI-B", "RI-A"))
    result = run_case(bundle, case)
    assert result.missing_views == ("LV-A", "LV-B", "RI-B", "RV-A", "RV-B")
    assert result.gate.posterior_mean is None and "no posterior views" in result.gate.reason
    assert result.notes[0].startswith("partial case: missing LV-A")
    assert result.locations["BA"].sources == () and result.locations["BA"].score == 0.0


def test_negative_gate_keeps_stage2_probabilities_for_what_if(bundle: Bundle) -> None:
    result = run_case(bundle, synthetic_case("14"), cam=False)
    strict = result.with_thresholds(replace(result.thresholds, stage1=2.0))
    assert not strict.gate.positive and sum(strict.decisions.values()) == 0
    assert strict.probabilities == result.probabilities
    lenient = result.with_thresholds(
        replace(result.thresholds, stage1=0.0, labels=dict.fromkeys(LOCATIONS, 0.0))
    )
    assert lenient.gate.positive and sum(lenient.decisions.values()) == 21


def test_batched_cohort_path_matches_single_cases(bundle: Bundle) -> None:
    cases = [synthetic_case(str(i), seed=i) for i in range(3)]
    cases.append(synthetic_case("9", views=("LV-A", "RV-B"), seed=9))
    batched = predict_cases(bundle, cases, cases_per_batch=3, batch=5)
    for case, got in zip(cases, batched):
        single = run_case(bundle, case, cam=False)
        assert got.case_id == case.case_id and got.missing_views == single.missing_views
        assert got.aneurysm_probability == pytest.approx(single.aneurysm_probability, abs=1e-5)
        for c in LOCATIONS:
            assert got.probabilities[c] == pytest.approx(single.probabilities[c], abs=1e-5)


def test_explain_a_location_uses_the_views_that_show_it(bundle: Bundle) -> None:
    clean = preprocess_case(synthetic_case("15"))
    assert set(explain(bundle, clean, "L_MCA", method="layercam")) == {"LI-A", "LI-B"}
    assert set(explain(bundle, clean, "BA")) == {"LV-A", "LV-B", "RV-A", "RV-B"}
    assert set(explain(bundle, clean)) == set(VIEWS)


def _write_folder(root: Path) -> None:
    rng = np.random.default_rng(0)
    for idx in (1, 2):
        for v in VIEWS:
            if idx == 2 and v.startswith("R"):
                continue  # a partial case
            cv2.imwrite(str(root / f"{idx:04d}{v}.jpg"), dsa_like(rng, 120, 160))
    (root / "0001RV-B.jpg").write_bytes(b"this is not an image")  # a bad file


def test_predict_cli_writes_three_tables(bundle_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _write_folder(data)
    out = tmp_path / "out" / "sub.csv"
    rc = cli_main(["predict", str(bundle_dir), str(data), str(out)])
    assert rc == 1  # finished, with partial cases reported
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == TRAIN_COLUMNS and [r["Index"] for r in rows] == ["1", "2"]
    assert all(rows[0][c] in ("0", "1") for c in LOCATIONS)
    with open(tmp_path / "out" / "sub.probabilities.csv") as f:
        probs = list(csv.DictReader(f))
    assert "RV-B" in probs[0]["missing_views"] and "not a JPEG" in probs[0]["notes"]
    assert float(probs[0]["Aneurysm"]) == pytest.approx(float(rows[0]["Aneurysm"]))
    with open(tmp_path / "out" / "sub.views.csv") as f:
        views = list(csv.DictReader(f))
    assert len(views) == 7 + 4
    peaks = [v for v in views if v["cam_peak_x"]]
    assert all(int(v["crop_x0"]) <= int(v["cam_peak_x"]) < int(v["crop_x1"]) for v in peaks)


def test_predict_cli_refuses_a_missing_bundle(tmp_path: Path) -> None:
    assert cli_main(["predict", str(tmp_path), str(tmp_path), str(tmp_path / "o.csv")]) == 2


def _grey_margin_case(case_id: str = "20") -> Case:
    """Every view: a light picture whose left 20 columns are grey 70. The default params crop
    that margin; ``min_margin=25`` (margins narrower than 25 px are kept as picture) does
    not."""
    rng = np.random.default_rng(3)
    views = {}
    for v in VIEWS:
        img = (rng.random((120, 160)) * 20 + 190).astype(np.uint8)
        img[:, :20] = 70
        views[v] = ViewImage(v, img, SourceInfo(f"{case_id}{v}.png", "png"))
    return Case(case_id, views, expected_views=VIEWS)


def _recording(bundle_dir: Path, to: Path, **params: object) -> Path:
    """A copy of ``bundle_dir`` whose ``bundle.json`` records other preprocessing params."""
    shutil.copytree(bundle_dir, to)
    path = manifest_path(to)
    manifest = json.loads(path.read_text())
    manifest["preprocessing"]["crop_text_fill"]["params"].update(params)
    path.write_text(json.dumps(manifest, indent=2))
    return to


def test_the_bundles_recorded_preprocessing_params_are_used(
    bundle: Bundle, bundle_dir: Path, tmp_path: Path
) -> None:
    recorded = load_bundle(_recording(bundle_dir, tmp_path / "b", min_margin=25), "cpu")
    assert recorded_params(recorded.manifest).min_margin == 25
    case = _grey_margin_case()
    default, other = run_case(bundle, case, cam=False), run_case(recorded, case, cam=False)
    assert default.views["LI-A"].record.crop == (20, 0, 160, 120)
    assert other.views["LI-A"].record.crop == (0, 0, 160, 120)
    (batched,) = predict_cases(recorded, [case])  # the cohort path reads them too
    assert batched.views["RV-B"].record == other.views["RV-B"].record


def test_a_bundle_without_recorded_params_falls_back_with_a_warning(
    bundle: Bundle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manifest = {**bundle.manifest, "preprocessing": {"resize": "recorded before params were"}}
    old = replace(bundle, path=tmp_path / "old", manifest=manifest)
    with caplog.at_level(logging.WARNING, logger="core.preprocess.params"):
        result = run_case(old, _grey_margin_case(), cam=False)
    assert result.views["LI-A"].record.crop == (20, 0, 160, 120)  # DEFAULT_PARAMS
    assert [r.getMessage() for r in caplog.records].count(
        f"{old.path} records no preprocessing params (preprocessing.crop_text_fill.params); "
        "using the defaults"
    ) == 1  # once per bundle, not once per view or case


def test_malformed_recorded_params_are_refused(bundle: Bundle) -> None:
    manifest = {**bundle.manifest, "preprocessing": {"crop_text_fill": {"params": {"x": 1}}}}
    with pytest.raises(PreprocessParamsError, match="unknown fields \\['x'\\]"):
        run_case(replace(bundle, manifest=manifest), synthetic_case("21"), cam=False)


def test_views_cleaned_on_the_pool_equal_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """preprocess_case cleans views in parallel when torch may use several cores; the
    result must be the sequential one, view for view, in VIEWS order."""
    import torch

    case = synthetic_case(seed=5)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    one = preprocess_case(case)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    pooled = preprocess_case(case)
    assert list(pooled) == list(one) == [v for v in VIEWS if v in case.views]
    for view in one:
        assert np.array_equal(pooled[view].image, one[view].image)
        assert pooled[view].record == one[view].record
