"""The film-review core without Streamlit: window/level, the figure's selection, the
result and its re-decision, the findings table, verdicts (relabel, drawn box), COCO with
verdicts, the study predictor and heatmaps on the tiny ensemble, and the exports."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from intake_fixtures import PATIENT_ID, PATIENT_NAME, dicom

from core.case import Case
from core.models.bundle import load_bundle
from core.models.thresholds import Thresholds
from core.review.reviewed import ExportContext, ReviewedCase
from core.review.verdicts import finding_key
from core.studies import get_study
from core.studies.chest.classes import ALL_LABELS, CLASSES, NO_FINDING
from core.studies.chest.film import VIEW, chest_case, load_film
from core.studies.chest.layout import list_images
from core.studies.chest.review.coco_review import review_status, reviewed_coco
from core.studies.chest.review.export import film_coco_json, film_csv, film_json
from core.studies.chest.review.figure import box_from_selection, film_figure
from core.studies.chest.review.heatmaps import (
    BoxNotFound,
    HeatmapRequest,
    film_heatmap,
    methods_for,
)
from core.studies.chest.review.report import REDACTION_NOTE, film_report
from core.studies.chest.review.result import ChestResult, rule_changes
from core.studies.chest.review.reviewed import film_review
from core.studies.chest.review.table import box_mm, findings_table
from core.studies.chest.review.truth import read_truth
from core.studies.chest.review.verdicts import (
    BoxAnswer,
    DrawnFinding,
    build_chest_verdicts,
    drawn_finding,
)
from core.studies.chest.review.window import Window, apply_window, window_source
from core.studies.chest.runner import ChestOutput

SHA = "ab" * 32


def thresholds(value: float = 0.5, **per: float) -> Thresholds:
    labels = {k: per.get(k, value) for k in ALL_LABELS}
    return Thresholds(None, labels, "test")


def output(p: float | None = 0.2) -> ChestOutput:
    boxes = np.array([[10, 10, 50, 40], [60, 60, 90, 95]], np.float32)
    fused = (boxes, np.array([0.8, 0.3], np.float32), np.array([0, 3]))
    final = (boxes, np.array([0.4, 0.15], np.float32), np.array([0, 3]))
    return ChestOutput("img", (100, 100), {"detector_frcnn": fused}, fused, final, p, 0.8,
                       "lowered box scores ×0.50 and added No finding 0.80")  # fmt: skip


def result(t: Thresholds | None = None) -> ChestResult:
    return ChestResult("chest", "img", SHA, "tiny", SHA, output(), t or thresholds(0.3))


def film_case() -> tuple[Case, object]:
    px = (np.arange(100 * 100).reshape(100, 100) % 4096).astype(np.uint16)
    data = dicom(px, bits_stored=12, window=(2048, 4096))
    case = chest_case([("Doe_Janeway.dcm", data)], case_id="upload-test")
    return case, load_film(data, "Doe_Janeway.dcm")


# --- window / level --------------------------------------------------------------------


def test_apply_window_maps_the_window_linearly_and_inverts_monochrome1() -> None:
    values = np.array([[0.0, 50.0, 100.0, 200.0]])
    out = apply_window(values, Window(100, 100))
    assert out.tolist() == [[0, 0, 128, 255]]
    assert apply_window(values, Window(100, 100), invert=True).tolist() == [[255, 255, 127, 0]]
    with pytest.raises(ValueError):
        Window(0, 0)


def test_window_source_uses_stored_values_and_the_files_presets() -> None:
    px = (np.arange(64 * 64).reshape(64, 64) * 3).astype(np.uint16)
    film = load_film(dicom(px, bits_stored=14, window=(6000, 4000)), "a.dcm")
    src = window_source(film)
    assert src.stored and src.values.dtype == np.float32 and src.values.max() == px.max()
    assert src.presets == (Window(6000, 4000),) and not src.invert


def test_monochrome1_film_is_shown_the_right_way_round() -> None:
    px = np.tile(np.linspace(0, 4000, 32, dtype=np.uint16), (32, 1))
    film = load_film(dicom(px, photometric="MONOCHROME1", bits_stored=12), "m1.dcm")
    src = window_source(film)
    shown = apply_window(src.values, src.full, src.invert)
    assert src.invert and shown[0, 0] > shown[0, -1]  # low stored values are bright
    assert abs(int(shown[0, 0]) - int(film.pixels[0, 0])) <= 2  # as the shared reader shows it


def test_png_film_windows_its_display_levels() -> None:
    import cv2

    ok, buf = cv2.imencode(".png", np.full((20, 30), 100, np.uint8))
    film = load_film(buf.tobytes(), "a.png")
    src = window_source(film)
    assert not src.stored and src.presets == () and film.values is None


# --- figure ------------------------------------------------------------------------------


def test_box_select_gives_an_ordered_clipped_box() -> None:
    sel = {"box": [{"x": [80.0, 20.0], "y": [5.0, -10.0]}], "points": []}
    assert box_from_selection(sel, (50, 40)) == (20.0, 0.0, 50.0, 5.0)
    assert box_from_selection({"box": []}, (50, 40)) is None
    assert box_from_selection({"box": [{"x": [3, 3], "y": [1, 2]}]}, (50, 40)) is None


def test_figure_is_in_original_pixels_with_one_shape_per_box() -> None:
    from core.studies.chest.review.figure import DrawnBox

    rgb = np.zeros((50, 40, 3), np.uint8)
    fig = film_figure(rgb, (400, 500), [DrawnBox((1, 2, 30, 40), "ILD", "ILD 0.90")])
    assert len(fig.layout.shapes) == 1 and fig.layout.annotations[0].text == "ILD 0.90"
    assert tuple(fig.layout.yaxis.range) == (500, 0)  # y down: the film the right way up


# --- result -------------------------------------------------------------------------------


def test_result_has_one_finding_per_box_and_no_finding_last() -> None:
    r = result()
    assert [f.label for f in r.findings] == [CLASSES[0], CLASSES[3], NO_FINDING]
    assert [f.decision for f in r.findings] == [1, 0, 1]
    assert r.findings[0].box == (10.0, 10.0, 50.0, 40.0) and r.findings[-1].box is None
    stricter = r.with_thresholds(thresholds(0.3, **{CLASSES[0]: 0.9}))
    assert [f.decision for f in stricter.findings] == [0, 0, 1]
    assert stricter.output is r.output  # no model ran
    d = json.loads(json.dumps(r.to_dict()))
    assert d["p_abnormal"] == pytest.approx(0.2) and len(d["rule_changes"]) == 2


def test_rule_changes_pair_fused_and_final_boxes() -> None:
    changes = rule_changes(output())
    assert [(c.label, c.before, c.after) for c in changes] == [
        (CLASSES[0], pytest.approx(0.8), pytest.approx(0.4)),
        (CLASSES[3], pytest.approx(0.3), pytest.approx(0.15)),
    ]


def test_findings_table_gives_mm_only_with_a_spacing() -> None:
    assert box_mm((0, 0, 10, 20), (0.5, 0.2)) == (2.0, 10.0)
    table = findings_table(result().findings, (0.5, 0.2))
    assert table.loc[0, "width_mm"] == pytest.approx(8.0)
    assert findings_table(result().findings, None)["width_mm"].isna().all()


# --- verdicts -----------------------------------------------------------------------------


def reviewed_of(r: ChestResult) -> ReviewedCase:
    case, _ = film_case()
    return ReviewedCase(case, {}, r, ExportContext("bundle.json (training)", "synthetic"))


def test_relabel_is_a_disagree_plus_a_verdict_for_the_new_class() -> None:
    rv = reviewed_of(result())
    key = finding_key(rv.result.findings[0])
    form = uuid.uuid4()
    batch = build_chest_verdicts(rv, "dr", [BoxAnswer(key, "relabel", "ILD")], [], "hmm", form)
    assert len(batch) == 2
    old, new = batch
    assert (old.finding, old.agree, old.corrected_label) == (CLASSES[0], False, 0)
    assert (new.finding, new.model_decision, new.corrected_label, new.probability) == (
        "ILD", 0, 1, 0.0)  # fmt: skip
    assert new.box == old.box and new.comment.startswith("relabelled from Aortic")
    again = build_chest_verdicts(rv, "dr", [BoxAnswer(key, "relabel", "ILD")], [], "hmm", form)
    assert [v.idempotency_key for v in again] == [v.idempotency_key for v in batch]


def test_drawn_box_and_agree_and_errors() -> None:
    rv = reviewed_of(result(thresholds(0.3, ILD=0.25)))
    key = finding_key(rv.result.findings[0])
    drawn = DrawnFinding("ILD", (1.0, 2.0, 30.0, 40.0))
    batch = build_chest_verdicts(rv, "dr", [BoxAnswer(key, "agree")], [drawn])
    assert batch[0].agree and batch[0].corrected_label is None
    assert (batch[1].finding, batch[1].threshold, batch[1].box) == ("ILD", 0.25, drawn.box)
    with pytest.raises(ValueError, match="another class"):
        build_chest_verdicts(rv, "dr", [BoxAnswer(key, "relabel", None)])
    with pytest.raises(ValueError, match="not a finding"):
        build_chest_verdicts(rv, "dr", [BoxAnswer("nope", "agree")])
    assert drawn_finding(None, [None] * 4, (100, 100)) is None
    with pytest.raises(ValueError, match="needs its class"):
        drawn_finding("ILD", [1, 2, None, 4], (100, 100))
    with pytest.raises(ValueError, match="on the film"):
        drawn_finding("ILD", [1, 2, 300, 4], (100, 100))


def test_reviewed_coco_flags_each_boxes_verdict() -> None:
    rv = reviewed_of(result(thresholds(0.1)))
    f0, f1 = rv.result.box_findings
    verdicts = build_chest_verdicts(
        rv, "dr",
        [BoxAnswer(finding_key(f0), "relabel", "ILD"), BoxAnswer(finding_key(f1), "disagree")],
        [DrawnFinding("Nodule/Mass", (70.0, 5.0, 80.0, 15.0))],
    )  # fmt: skip
    coco = reviewed_coco(rv.result.findings, verdicts, "file-x.dcm", (100, 100))
    attrs = [a["attributes"]["verdict"] for a in coco["annotations"]]
    assert attrs == ["relabelled", "rejected", "added"]
    assert coco["annotations"][0]["category_id"] == CLASSES.index("ILD")
    assert coco["annotations"][1]["attributes"]["rejected"] is True
    assert len(coco["categories"]) == 14
    assert review_status(f0, [])["verdict"] == "unreviewed"


# --- study predictor, heatmaps, truth (tiny ensemble) ------------------------------------


@pytest.fixture(scope="module")
def tiny(tiny_chest_bundle: Path, tiny_chest_cohort: Path):  # noqa: ANN201
    bundle = load_bundle(tiny_chest_bundle.resolve())
    image_id, path = sorted(list_images(tiny_chest_cohort).items())[0]
    film = load_film(path)
    case = Case(image_id, {VIEW: film.image}, [], expected_views=(VIEW,))
    return bundle, film, case, image_id


def test_study_predict_gives_chest_results(tiny) -> None:  # noqa: ANN001
    bundle, film, case, image_id = tiny
    results = list(get_study("chest").predict(bundle, [case]))
    assert len(results) == 1 and isinstance(results[0], ChestResult)
    r = results[0]
    assert r.content_hash == case.content_hash() and r.bundle_sha256 == bundle.manifest_sha256
    assert r.findings[-1].label == NO_FINDING and r.output.p_abnormal is not None
    assert all(f.box is not None for f in r.findings[:-1])


def test_eigencam_and_gradcam_maps(tiny) -> None:  # noqa: ANN001
    bundle, film, case, _ = tiny
    methods = methods_for(bundle)
    assert set(methods) == {"EigenCAM", "Grad-CAM (box score)"}
    role = methods["Grad-CAM (box score)"][0]
    heat = film_heatmap(bundle, film.pixels, film.original_size, HeatmapRequest("EigenCAM", role))
    assert heat.shape == film.pixels.shape and 0 <= heat.min() and heat.max() <= 1
    far = HeatmapRequest("Grad-CAM (box score)", role, (0.0, 0.0, 1.0, 1.0), CLASSES[0])
    with pytest.raises(BoxNotFound):
        film_heatmap(bundle, film.pixels, film.original_size, far)
    r = next(get_study("chest").predict(bundle, [case]))
    own = r.output.members[role]
    if len(own[1]):  # an untrained member may find nothing on this film
        req = HeatmapRequest("Grad-CAM (box score)", role, tuple(own[0][0]), CLASSES[own[2][0]])
        heat = film_heatmap(bundle, film.pixels, film.original_size, req)
        assert heat.shape == film.pixels.shape


def test_truth_of_a_labelled_film(tiny_chest_cohort: Path) -> None:
    from core.studies.chest.fusion import fuse_readers
    from core.studies.chest.layout import read_vinbigdata

    fused = fuse_readers(read_vinbigdata(tiny_chest_cohort))
    boxed = fused[fused["class_id"] != 14]
    image_id = boxed["image_id"].iloc[0]
    truth = read_truth(tiny_chest_cohort, image_id)
    assert len(truth.readers) == 3
    assert len(truth.fused) == (boxed["image_id"] == image_id).sum()
    assert set(truth.fused.columns) >= {"class_name", "x_min", "y_max"}


# --- exports ------------------------------------------------------------------------------


def test_exports_carry_no_identifier_and_say_what_was_redacted() -> None:
    case, film = film_case()
    r = ChestResult("chest", case.case_id, case.content_hash(), "tiny", SHA,
                    output(), thresholds(0.3))  # fmt: skip
    rv = ReviewedCase(case, {}, r, ExportContext("set-a", "synthetic", "Synthetic!"))
    src = window_source(film)
    review = film_review(rv, film, src.full, apply_window(src.values, src.full))
    out = {
        "json": film_json(review), "csv": film_csv(review), "html": film_report(review),
        "coco": film_coco_json(review, []),
    }  # fmt: skip
    for text in out.values():
        assert PATIENT_NAME not in text and PATIENT_ID not in text and "Doe_Janeway" not in text
    data = json.loads(out["json"])
    assert data["bundle"]["threshold_set"] == "set-a" and data["window"]["width"] > 0
    assert "Synthetic!" in out["html"] and REDACTION_NOTE in out["html"]
    assert "p_abnormal" in out["csv"] and CLASSES[0] in out["csv"]
    assert json.loads(out["coco"])["images"][0]["file_name"].startswith("file-")


def test_focus_shows_the_box_in_its_surroundings_inside_the_film() -> None:
    from core.studies.chest.review.figure import focus_view

    (x0, x1), (y1, y0) = focus_view((100.0, 100.0, 120.0, 140.0), (1000, 800))
    assert (x0, x1) == (0.0, 250.0)  # a quarter of the film beats 3 x 20 px; kept inside
    assert (y0, y1) == (20.0, 220.0)  # 3 x 40 px is less than 200 px: a quarter again
    (x0, x1), (y1, y0) = focus_view((900.0, 0.0, 1000.0, 400.0), (1000, 800))
    assert (x0, x1) == (700.0, 1000.0) and (y0, y1) == (0.0, 800.0)  # clipped, whole height
