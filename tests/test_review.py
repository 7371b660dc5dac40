"""The case page's UI-free pieces (core.review): grid, drawing, overlays, tables, figures,
schematic, exports, report and verdict records, on hand-built results and a tiny bundle."""

from __future__ import annotations

import csv
import io
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from models_fixtures import fixed_thresholds, synthetic_case

from core.case import Case, PreprocessRecord
from core.findings import Finding, decide_findings
from core.models.bundle import Bundle, load_bundle
from core.models.explain import explain
from core.models.inference import preprocess_case, run_case, run_clean
from core.models.result import CaseResult
from core.review.drawing import CROP_RGB, TEXT_RGB, draw_preprocessing, side_by_side
from core.review.export import export_csv, export_dict, export_json
from core.review.figures import location_bars, location_label, stage1_bars
from core.review.identity import DEMO_NOTICE, bundle_identity
from core.review.layout import grid_cells, view_grid
from core.review.overlay import HeatmapSettings, case_overlays, colourise, composite, letterbox
from core.review.report import html_report
from core.review.reviewed import ExportContext, ReviewedCase
from core.review.schematic import NODE_XY, node_position, willis_figure
from core.review.table import location_table, timing_table, view_table
from core.review.verdicts import build_verdicts, missable_findings, review_findings
from core.schema import BASE_LOCATIONS, LOCATIONS, VIEWS, groups_of, split_location, view_info
from core.studies import Study, StudySchema, register_study, unregister_study

CTX = ExportContext("bundle.json (training)", "demo-train, 10 patients", DEMO_NOTICE)
SETTINGS = HeatmapSettings("Aneurysm", "gradcam", 0.5, "shared")


@pytest.fixture(scope="module")
def bundle(tiny_bundle: Path) -> Bundle:
    return load_bundle(tiny_bundle)


@pytest.fixture(scope="module")
def case() -> Case:
    return synthetic_case("7")


@pytest.fixture(scope="module")
def result(bundle: Bundle, case: Case) -> CaseResult:
    return run_case(bundle, case)


@pytest.fixture(scope="module")
def bare(result: CaseResult, case: Case) -> ReviewedCase:
    """The record as the page builds it, before any heatmap is shown."""
    return ReviewedCase(case, preprocess_case(case), result, CTX)


@pytest.fixture(scope="module")
def reviewed(bare: ReviewedCase, result: CaseResult) -> ReviewedCase:
    """The record with the stage-1 heatmaps that came with the result, as on screen."""
    cams = {v: r.cam for v, r in result.views.items() if r.cam is not None}
    return bare.with_heatmaps(SETTINGS, cams, 12.5)


def test_view_grid_is_injection_by_side_and_projection() -> None:
    grid = view_grid()
    assert sorted(v for row in grid for v in row) == sorted(VIEWS)
    for row, inj in zip(grid, "IV"):
        assert [view_info(v).circulation for v in row] == [
            "anterior" if inj == "I" else "posterior"
        ] * 4
        assert [(view_info(v).side, view_info(v).projection) for v in row] == [
            ("L", "A"),
            ("L", "B"),
            ("R", "A"),
            ("R", "B"),
        ]


def test_grid_cells_mark_missing_views() -> None:
    case = synthetic_case("3", views=("LI-A", "RV-B"))
    cells = {c.view: c for row in grid_cells(case) for c in row}
    assert {v for v, c in cells.items() if c.present} == {"LI-A", "RV-B"}
    assert cells["LI-A"].file == "3LI-A.jpg" and cells["LV-A"].file is None


def test_draw_preprocessing_outlines_crop_and_text() -> None:
    img = np.full((100, 120), 128, np.uint8)
    rec = PreprocessRecord("margin_text", (10, 5, 110, 95), ((20, 70, 60, 85),), (120, 100))
    out = draw_preprocessing(img, rec)
    assert out.shape == (100, 120, 3) and img.max() == 128  # the input is untouched
    assert tuple(out[5, 50]) == CROP_RGB  # top edge of the crop
    assert tuple(out[70, 40]) == TEXT_RGB  # top edge of the text box
    inside = out[78, 40].astype(int)  # lightly tinted, not painted over
    assert 128 < inside[0] < TEXT_RGB[0] and tuple(out[50, 2]) == (128, 128, 128)


def test_a_thumbnail_is_drawn_at_its_own_size_with_the_boxes_scaled() -> None:
    img = np.full((400, 480), 128, np.uint8)
    rec = PreprocessRecord("margin_text", (40, 20, 440, 380), ((80, 280, 240, 340),), (480, 400))
    out = draw_preprocessing(img, rec, height=100)
    assert out.shape == (100, 120, 3)
    assert tuple(out[5, 50]) == CROP_RGB  # the crop's top edge: 20 px at a quarter
    assert tuple(out[70, 40]) == TEXT_RGB  # the text box's top edge: 280 px at a quarter
    assert tuple(out[50, 2]) == (128, 128, 128)  # outside both: untouched
    assert draw_preprocessing(img[:90], rec, height=100).shape[0] == 90  # never enlarged


def test_side_by_side_and_letterbox_keep_geometry() -> None:
    pair = side_by_side(
        np.zeros((50, 100), np.uint8), np.zeros((20, 20), np.uint8), height=40, gap=4
    )
    assert pair.shape == (40, 80 + 4 + 40, 3)
    box = letterbox(np.full((50, 200), 255, np.uint8), 100, 100)
    assert box.shape == (100, 100, 3) and box[50, 50, 0] == 255 and box[5, 50, 0] == 14


def test_composite_weights_by_map_and_opacity() -> None:
    img = np.full((4, 4), 100, np.uint8)
    cold, hot = np.zeros((4, 4), np.float32), np.ones((4, 4), np.float32)
    assert (composite(img, cold, 1.0) == 100).all()  # a cold map leaves the image alone
    assert (composite(img, hot, 0.0) == 100).all()
    assert (composite(img, hot, 1.0) == colourise(hot)).all()
    with pytest.raises(ValueError):
        composite(img, np.zeros((3, 4), np.float32), 0.5)


def test_case_overlays_scale_as_a_set(result: CaseResult, case: Case) -> None:
    cams = {v: r.cam for v, r in result.views.items() if r.cam is not None}
    assert set(cams) == set(VIEWS)
    full = case_overlays(case, result, cams, SETTINGS, None)
    one = case_overlays(case, result, cams, SETTINGS, None, views=["LI-A"])
    assert set(one) == {"LI-A"} and (one["LI-A"] == full["LI-A"]).all()  # enlarging keeps colours
    assert full["LI-A"].shape == case.views["LI-A"].pixels.shape + (3,)
    small = case_overlays(case, result, {}, SETTINGS, 64)
    assert max(small["LI-A"].shape[:2]) == 64  # no map: the plain view, shrunk


def test_location_table_statuses(result: CaseResult) -> None:
    table = location_table(result)
    assert list(table["location"]) == list(LOCATIONS)
    flagged = table["status"] == "flagged"
    assert (flagged == (table["probability"] >= table["threshold"])).all()  # stage-1 threshold 0
    gated = location_table(result.with_thresholds(fixed_thresholds(1.0, 0.5)))
    assert set(gated["status"]) == {"gated"} and (gated["decision"] == 0).all()


def test_partial_case_locations_without_views_are_unseen(bundle: Bundle) -> None:
    partial = run_case(
        bundle, synthetic_case("4", views=("LI-A", "LI-B", "RI-A", "RI-B")), cam=False
    )
    table = location_table(partial).set_index("location")
    groups = groups_of(bundle.schema)
    posterior = [c for c in LOCATIONS if groups.circulation_of(split_location(c)[1]) == "posterior"]
    assert (table.loc[posterior, "status"] == "unseen").all()
    assert view_table(partial)["present"].sum() == 4 and len(view_table(partial)) == 8


def test_figures_carry_every_location_and_threshold(result: CaseResult) -> None:
    table = location_table(result)
    fig = location_bars(table)
    bars = [t for t in fig.data if t.type == "bar"]
    assert sum(len(t.y) for t in bars) == len(LOCATIONS)
    ticks = next(t for t in fig.data if t.name == "threshold")
    assert list(ticks.x) == pytest.approx(list(table["threshold"]))
    assert list(ticks.y) == [location_label(c) for c in LOCATIONS]
    assert location_label("L_MCA") == "MCA · L" and location_label("BA") == "BA"
    g = result.gate
    s1 = stage1_bars(g.patient_score, g.threshold, g.anterior_mean, None)
    assert list(s1.data[0].text)[2] == "n/a"


def test_schematic_mirrors_sides_and_labels_every_location(result: CaseResult) -> None:
    assert set(NODE_XY) == set(BASE_LOCATIONS)
    for col in LOCATIONS:
        side, _ = split_location(col)
        x, _ = node_position(col)
        assert (x > 0) if side == "L" else (x < 0) if side == "R" else x == 0  # radiological
    fig = willis_figure(location_table(result))
    labelled = [t for t in fig.data if t.mode == "markers+text"]
    assert sum(len(t.x) for t in labelled) == len(LOCATIONS)
    probs = " ".join(str(s) for t in labelled for s in t.text)
    assert f"{result.locations['L_MCA'].score:.2f}" in probs


def test_reviewed_case_is_one_frozen_record(bare: ReviewedCase, reviewed: ReviewedCase) -> None:
    assert bare.settings is None and not bare.cams and bare.cam_ms == 0.0
    assert reviewed.case is bare.case and reviewed.result is bare.result
    assert set(reviewed.cams) == set(VIEWS) and reviewed.settings == SETTINGS
    with pytest.raises(TypeError):
        reviewed.cams["LI-A"] = None  # type: ignore[index]
    with pytest.raises(ValueError):
        ReviewedCase(bare.case, bare.clean, bare.result, CTX, cams=reviewed.cams)  # no settings


def test_export_csv_holds_every_number(reviewed: ReviewedCase) -> None:
    result = reviewed.result
    assert isinstance(result, CaseResult)
    rows = list(csv.DictReader(io.StringIO(export_csv(reviewed))))
    got = {(r["section"], r["item"], r["field"]): r["value"] for r in rows}
    for col in LOCATIONS:
        assert float(got[("location", col, "probability")]) == pytest.approx(
            result.locations[col].score
        )
        assert float(got[("location", col, "threshold")]) == pytest.approx(
            result.locations[col].threshold
        )
    for view, r in result.views.items():
        assert float(got[("view", view, "stage1_probability")]) == pytest.approx(
            r.stage1_probability
        )
    assert float(got[("patient", "Aneurysm", "probability")]) == pytest.approx(
        result.gate.patient_score
    )
    assert ("timing_ms", "total", "ms") in got
    assert float(got[("timing_ms", "extra heatmaps", "ms")]) == pytest.approx(reviewed.cam_ms)


def test_export_json_records_identity_and_settings(
    reviewed: ReviewedCase, bare: ReviewedCase
) -> None:
    result, case = reviewed.result, reviewed.case
    data = json.loads(export_json(reviewed))
    assert data["notice"] == DEMO_NOTICE and data["bundle"]["bundle_sha256"] == result.bundle_sha256
    assert (
        data["heatmaps"]["method"] == "gradcam"
        and data["case"]["content_hash"] == case.content_hash()
    )
    assert [f["label"] for f in data["result"]["findings"]] == ["Aneurysm", *LOCATIONS]
    assert data["result"]["study"] == "aneurysm"
    assert export_dict(bare)["heatmaps"] is None


def test_report_is_self_contained_and_escaped(reviewed: ReviewedCase, bare: ReviewedCase) -> None:
    result, case = reviewed.result, reviewed.case
    hostile = Case(
        "<script>alert(1)</script>", case.views, case.problems, expected_views=VIEWS
    )
    html = html_report(ReviewedCase(hostile, reviewed.clean, result, CTX, reviewed.cams, SETTINGS))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("data:image/png;base64,") == 16 and "http" not in html.replace("https://", "")
    assert DEMO_NOTICE in html and result.bundle_sha256[:12] in html
    assert all(location_label(c) in html for c in LOCATIONS)
    assert "gradcam, target Aneurysm" in html
    plain = html_report(bare, max_side=32)  # no heatmaps shown: only the annotated originals
    assert plain.count("data:image/png;base64,") == 8 and "None shown." in plain


def test_timing_table_adds_extra_heatmaps(result: CaseResult) -> None:
    t = timing_table(result, cam_ms=10.0).set_index("step")
    assert t.loc["extra heatmaps", "ms"] == 10.0
    assert t.loc["total", "ms"] == pytest.approx(result.timings.total_ms + 10.0)


def test_bundle_identity_marks_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path))
    demo = bundle_identity(
        tmp_path / "bundles" / "demo", "demo", "ab" * 32, {"training_data": None}
    )
    assert demo.is_demo and demo.notice == DEMO_NOTICE and demo.training_data == "not recorded"
    data = {"folder": "kium-train", "patients": 900, "n_images": 7200, "train_csv_sha256": "f" * 64}
    real = bundle_identity(tmp_path / "mine", "mine", "cd" * 32, {"training_data": data})
    assert not real.is_demo and real.notice is None
    assert (
        real.training_data == "kium-train, 900 patients, 7200 images"
        and real.fingerprint == "f" * 64
    )
    synthetic = bundle_identity(
        tmp_path / "x", "x", "ef" * 32, {"training_data": {"folder": "demo-train"}}
    )
    assert synthetic.is_demo


def test_verdicts_from_answers(reviewed: ReviewedCase) -> None:
    result = reviewed.result
    assert isinstance(result, CaseResult)
    findings = review_findings(result)
    assert findings[0] == "Aneurysm" and all(result.locations[f].decision for f in findings[1:])
    missed = next(c for c in LOCATIONS if not result.locations[c].decision)
    assert missable_findings(result) == [c for c in LOCATIONS if c not in findings]
    form = uuid.uuid4()
    verdicts = build_verdicts(reviewed, "dr-a", {"Aneurysm": False}, [missed], "note", form)
    by = {v.finding: v for v in verdicts}
    assert by["Aneurysm"].corrected_label == 1 - by["Aneurysm"].model_decision
    assert by["Aneurysm"].probability == pytest.approx(result.gate.patient_score)
    assert by[missed].corrected_label == 1 and by[missed].agree is False
    assert {v.study for v in verdicts} == {"aneurysm"} and all(v.box is None for v in verdicts)
    again = build_verdicts(reviewed, "dr-a", {"Aneurysm": False}, [missed], "note", form)
    assert [v.idempotency_key for v in again] == [v.idempotency_key for v in verdicts]
    with pytest.raises(ValueError):
        build_verdicts(reviewed, "", {"Aneurysm": True})
    with pytest.raises(ValueError):
        build_verdicts(reviewed, "dr-a", {"Nowhere": True})  # not a finding of this result


@dataclass(frozen=True)
class _ToyResult:
    """A box-free, gate-free study's result: only what common code may ask of one."""

    findings: tuple[Finding, ...]
    study: str = "toy-review"
    case_id: str = "toy-1"
    content_hash: str = "0" * 64
    bundle: str = "toy"
    bundle_sha256: str = "ab" * 32

    def to_dict(self) -> dict[str, object]:
        return {"study": self.study, "findings": [f.to_dict() for f in self.findings]}


@pytest.fixture
def toy_study() -> Iterator[str]:
    def predict(_bundle: object, _cases: object) -> Iterator[_ToyResult]:
        return iter(())

    schema = StudySchema(study="toy-review", labels=("spot", "streak"))
    register_study(
        Study("toy-review", "Toy", "image", "classify", schema, ("net",), (), (), (), (),
              predict, lambda _specs, _schema: None)
    )  # fmt: skip
    yield "toy-review"
    unregister_study("toy-review")


def test_verdicts_and_json_serve_a_study_without_case_label(toy_study: str, case: Case) -> None:
    findings = decide_findings({"spot": 0.9, "streak": 0.1}, {"spot": 0.5, "streak": 0.5})
    toy = ReviewedCase(case, {}, _ToyResult(findings), CTX)
    assert review_findings(toy.result) == ["spot"] and missable_findings(toy.result) == ["streak"]
    verdicts = build_verdicts(toy, "dr-b", {"spot": True}, ["streak"])
    assert [(v.study, v.finding, v.agree) for v in verdicts] == [
        (toy_study, "spot", True),
        (toy_study, "streak", False),
    ]
    data = json.loads(export_json(toy))
    assert data["result"]["study"] == toy_study and data["heatmaps"] is None
    with pytest.raises(TypeError, match="aneurysm"):
        export_csv(toy)
    with pytest.raises(TypeError, match="aneurysm"):
        html_report(toy)


def test_concurrent_cases_on_shared_models_match_sequential(bundle: Bundle) -> None:
    """Two sessions' cases running at once on the one shared bundle (scores and CAMs)."""
    cases = [synthetic_case(str(i), seed=i) for i in range(4)]
    cleans = [preprocess_case(c) for c in cases]

    def work(i: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        res = run_clean(bundle, cases[i], cleans[i], cam=True)
        cams = explain(bundle, cleans[i], "L_MCA")
        return res.probabilities, {v: c.raw for v, c in cams.items()}

    sequential = [work(i) for i in range(len(cases))]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(work, list(range(len(cases))) * 2))
    for i, (probs, maps) in enumerate(concurrent):
        ref_probs, ref_maps = sequential[i % len(cases)]
        assert probs == pytest.approx(ref_probs)
        for v in ref_maps:
            np.testing.assert_allclose(maps[v], ref_maps[v], rtol=1e-5, atol=1e-6)
