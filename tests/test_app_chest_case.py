"""The chest film-review page through Streamlit's AppTest: intake (upload, bad file,
cohort hand-over), the summary and findings, every display control without a model run
(forward hooks on the app's cached models), heatmaps computed once, verdicts (agree,
relabel, drawn box, failed save), exports, and two sessions kept apart.

SIDEBAR_NOTE (tests/test_app_case.py): AppTest runs a page switched to before the first
run without ``app.py``, so the sidebar never activates the chest bundle; the tests put the
sidebar's :class:`ui.bundle.ActiveBundle` (bundle, identity, threshold set) in session
state before the first run, as the sidebar would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
from intake_fixtures import PATIENT_ID, PATIENT_NAME, dicom
from streamlit.testing.v1 import AppTest
from test_app_case import assert_clean, count_forwards, frame, texts

from core.models.bundle import load_bundle
from core.models.threshold_sets import load_threshold_set, save_threshold_set
from core.models.thresholds import Thresholds
from core.review.identity import bundle_identity
from core.studies.chest.classes import ALL_LABELS, CLASSES
from core.studies.chest.layout import list_images, read_vinbigdata
from core.verdicts import VerdictStore
from ui.auth import NAME_KEY
from ui.bundle import TRAINING_SET, ActiveBundle
from ui.chest.handover import OPEN_FILM, FilmHandover

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "pages/chest_case.py"
TIMEOUT = 240
LOW_SET = "low-test"


def active(bundle_dir: Path, set_name: str = TRAINING_SET) -> ActiveBundle:
    """What the sidebar activates for ``bundle_dir`` and threshold set ``set_name``."""
    bundle = load_bundle(bundle_dir.resolve())
    ident = bundle_identity(bundle.path, bundle.name, bundle.manifest_sha256, bundle.manifest)
    chosen = (
        bundle.thresholds if set_name == TRAINING_SET else load_threshold_set(bundle.path, set_name)
    )
    return ActiveBundle(bundle, ident, chosen, set_name)


def chest_app(bundle_dir: Path | None = None, set_name: str = TRAINING_SET) -> AppTest:
    """The film page; with ``bundle_dir``, that chest bundle active (see the module notes)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page(PAGE)
    if bundle_dir is not None:
        at.session_state["chest_active_bundle"] = active(bundle_dir, set_name)
    return at


#: Boxes (fractions of the film) given to films the untrained detector finds nothing on.
_FAKE = (
    np.array([[0.1, 0.15, 0.5, 0.55], [0.55, 0.2, 0.9, 0.7]]),
    np.array([0.6, 0.3]),
    np.array([0, 3]),
)


@pytest.fixture
def boxes_on_films(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The tiny detector (one epoch) scores every box under the floor, so a film has no
    box; here the runner's real outputs (real forward passes) get two boxes where they
    have none, through the rule as usual. Caches are cleared around it."""
    import streamlit as st

    from core.studies.chest import runner as runner_mod

    real = runner_mod.ChestRunner.run

    def run(self, films, sizes, image_ids):  # noqa: ANN001, ANN202
        outs = []
        for out in real(self, films, sizes, image_ids):
            if not len(out.fused[1]):
                w, h = out.size
                boxes = (_FAKE[0] * [w, h, w, h]).astype(np.float32)
                b = (boxes, _FAKE[1].astype(np.float32), _FAKE[2])
                out = replace(out, members={r: b for r in out.members}, fused=b, final=b)
                out = runner_mod.with_rule(out, self.rule)
            outs.append(out)
        return outs

    monkeypatch.setattr(runner_mod.ChestRunner, "run", run)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture
def low_set(chest_env: Path) -> str:
    """A saved threshold set at 0.01 for every class, so the untrained detector's boxes
    are flagged."""
    low = Thresholds(None, {k: 0.01 for k in ALL_LABELS}, "low for tests")
    save_threshold_set(chest_env, LOW_SET, low, overwrite=True)
    return LOW_SET


def handover(
    bundle_dir: Path, cohort: Path, index: int = 0, threshold_set: str = TRAINING_SET
) -> AppTest:
    """A session opened by the cohort page's hand-over on film ``index`` (one with boxes)."""
    ann = read_vinbigdata(cohort)
    ids = sorted(set(ann.findings()["image_id"]))
    image_id = ids[index]
    at = chest_app(bundle_dir, threshold_set)
    at.session_state[OPEN_FILM] = asdict(
        FilmHandover(str(list_images(cohort)[image_id]), image_id, str(cohort))
    )
    return at.run()


def findings(at: AppTest):  # noqa: ANN201
    return frame(at, "decision")


def test_no_film_yet_shows_guidance_and_the_chest_bundle(chest_env: Path) -> None:
    at = chest_app(chest_env).run()
    assert_clean(at)
    assert "Upload one chest film" in texts(at.info)
    assert [t.value for t in at.title] == ["Film review"]
    assert not at.warning  # the tiny bundle is no demo: no synthetic-data notice
    was = at.session_state["chest_active_bundle"]
    demo = replace(was, identity=replace(was.identity, is_demo=True))  # as the demo bundle
    at.session_state["chest_active_bundle"] = demo
    at.run()
    assert demo.identity.notice and demo.identity.notice in texts(at.warning)


def test_no_bundle_says_so(chest_env: Path) -> None:
    px = np.full((40, 40), 900, np.uint16)
    at = chest_app().run()
    at.file_uploader(key="chest_upload").set_value(("a.dcm", dicom(px), "application/dicom"))
    at.run()
    assert_clean(at)
    assert "No chest model bundle is loaded" in texts(at.info)


@pytest.mark.parametrize("data", [b"", b"garbage, not an image at all"])
def test_empty_or_garbage_upload_is_one_clear_message(chest_env: Path, data: bytes) -> None:
    at = chest_app(chest_env).run()
    at.file_uploader(key="chest_upload").set_value(("film.png", data, "image/png")).run()
    assert_clean(at)
    assert len(at.error) == 2  # the file's problem, then "nothing to analyse"
    assert "The file could not be used" in at.error[0].value and "film.png" in at.error[0].value
    assert "No usable film" in at.error[1].value


def test_dicom_upload_runs_and_shows_no_identifier(chest_env: Path) -> None:
    px = (np.arange(96 * 80).reshape(96, 80) % 4000).astype(np.uint16)
    data = dicom(px, bits_stored=12, window=(2000, 4000))
    at = chest_app(chest_env).run()
    at.file_uploader(key="chest_upload").set_value(("Doe_Janeway.dcm", data, "application/dicom"))
    at.run()
    assert_clean(at)
    assert {"Summary", "Film", "Findings", "Export"} <= {s.value for s in at.subheader}
    assert at.selectbox(key="chest_wl_preset").value == "File preset 1: 2000 / 4000"
    page = "\n".join(texts(getattr(at, k)) for k in ("caption", "markdown", "subheader"))
    assert PATIENT_NAME not in page and PATIENT_ID not in page


def test_handover_shows_summary_findings_and_truth_toggles(
    chest_env: Path, tiny_chest_cohort: Path, low_set: str
) -> None:
    at = handover(chest_env, tiny_chest_cohort, threshold_set=low_set)
    assert_clean(at)
    assert at.radio(key="chest_source").value == "Cohort film"
    assert [m.label for m in at.metric] == ["P(abnormal)", "No finding score", "Boxes flagged"]
    table = findings(at)
    assert table["class"].iloc[-1] == "No finding" and len(table) >= 1
    assert "Pixel spacing: " in texts(at.caption) and "unknown" not in texts(at.caption)
    assert table["width_mm"].iloc[:-1].notna().all()
    readers = at.multiselect(key="chest_readers")
    assert len(readers.options) == 3
    readers.set_value(readers.options[:1]).run()
    at.checkbox(key="chest_truth").check().run()
    assert_clean(at)


def test_display_controls_never_run_a_model(
    chest_env: Path, tiny_chest_cohort: Path, low_set: str
) -> None:
    import streamlit as st

    st.cache_data.clear()  # nothing computed earlier may hide a forward pass
    at = handover(chest_env, tiny_chest_cohort, threshold_set=low_set)
    assert_clean(at)
    with count_forwards(chest_env) as forwards:
        at.selectbox(key="chest_wl_preset").set_value("Manual").run()
        at.number_input(key="chest_wl_centre").set_value(3000.0).run()
        at.number_input(key="chest_wl_width").set_value(500.0).run()
        at.selectbox(key="chest_wl_preset").set_value("Full range").run()
        at.number_input(key=f"chest_thr::{low_set}::{CLASSES[0]}").set_value(0.9).run()
        readers = at.multiselect(key="chest_readers")
        readers.set_value(readers.options[:2]).run()
        at.checkbox(key="chest_truth").check().run()
        assert_clean(at)
        assert sum(forwards.values()) == 0, forwards
        at.selectbox(key="chest_heat_method").set_value("EigenCAM").run()
        assert_clean(at)
        first = sum(forwards.values())
        assert first >= 1, "the hooks did not see the heatmap's forward pass"
        assert "EigenCAM shows" in texts(at.caption)
        at.slider(key="chest_heat_opacity").set_value(0.8).run()
        at.selectbox(key="chest_wl_preset").set_value("Manual").run()
        at.selectbox(key="chest_heat_method").set_value("None").run()
        at.selectbox(key="chest_heat_method").set_value("EigenCAM").run()
        assert_clean(at)
        assert sum(forwards.values()) == first, "a cached heatmap or a display control ran a model"


def test_threshold_controls_start_from_the_set_and_re_decide(
    chest_env: Path, tiny_chest_cohort: Path, low_set: str, boxes_on_films: None
) -> None:
    at = handover(chest_env, tiny_chest_cohort, threshold_set=low_set)
    key = f"chest_thr::{low_set}::{CLASSES[0]}"
    assert at.number_input(key=key).value == pytest.approx(0.01)
    before = findings(at)
    flagged = before[(before["class"] != "No finding") & (before["decision"] == "positive")]
    assert len(flagged) >= 1, "the low set should flag the untrained detector's boxes"
    for label in set(flagged["class"]):
        at.number_input(key=f"chest_thr::{low_set}::{label}").set_value(1.0)
    at.run()
    after = findings(at)
    assert (after[after["class"] != "No finding"]["decision"] == "below threshold").all()


def test_gradcam_per_box_states_its_limits(
    chest_env: Path, tiny_chest_cohort: Path, low_set: str, boxes_on_films: None
) -> None:
    at = handover(chest_env, tiny_chest_cohort, threshold_set=low_set)
    at.selectbox(key="chest_heat_method").set_value("Grad-CAM (box score)").run()
    assert_clean(at)
    assert "Grad-CAM for one box" in texts(at.caption)
    assert len(at.selectbox(key="chest_heat_box").options) == 2  # the film's two boxes
    assert at.selectbox(key="chest_heat_role").value == "detector_frcnn"
    # the untrained member does not find these boxes again: said, not a traceback
    assert "does not find this box again" in texts(at.warning)


def _questions(at: AppTest) -> list[str]:
    return [r.key.split("::", 1)[1] for r in at.radio if str(r.key).startswith("chest_verdict::")]


def test_verdicts_agree_relabel_and_a_drawn_box(
    chest_env: Path, tiny_chest_cohort: Path, low_set: str, boxes_on_films: None
) -> None:
    at = handover(chest_env, tiny_chest_cohort, 1, threshold_set=low_set)
    boxes = [q for q in _questions(at) if "@" in q]
    assert len(boxes) >= 1
    boxless_questions = [q for q in _questions(at) if "@" not in q]
    assert boxless_questions == ["No finding"]  # the low set flags it
    for boxless in boxless_questions:  # "No finding" has no box to relabel
        assert at.radio(key=f"chest_verdict::{boxless}").options == ["agree", "disagree"]
        assert f"chest_relabel::{boxless}" not in {s.key for s in at.selectbox}
    target = boxes[0]
    old = target.split(" @ ")[0]
    new = next(c for c in CLASSES if c != old)
    at.radio(key=f"chest_verdict::{target}").set_value("relabel")
    at.selectbox(key=f"chest_relabel::{target}").set_value(new)
    at.selectbox(key="chest_add_class").set_value("ILD")
    for k, v in zip(("x0", "y0", "x1", "y1"), (5.0, 6.0, 40.0, 50.0)):
        at.number_input(key=f"chest_add_{k}").set_value(v)
    at.session_state[NAME_KEY] = "dr-chest"  # typed once in the sidebar
    next(b for b in at.button if b.label == "Save verdicts").click().run()
    assert_clean(at)
    assert "Saved 3 verdict(s)." in texts(at.success)
    case_hash = at.session_state["chest_film_input"].case.content_hash()
    stored = VerdictStore.open().latest(case_hash)
    mine = [v for v in stored if v.reviewer == "dr-chest (not signed in)"]
    got = {(v.finding, v.model_decision, v.corrected_label) for v in mine}
    assert {(old, 1, 0), (new, 0, 1), ("ILD", 0, 1)} <= got
    drawn = next(v for v in mine if v.finding == "ILD" and v.box == (5.0, 6.0, 40.0, 50.0))
    assert drawn.probability == 0.0 and drawn.threshold == pytest.approx(0.01)
    assert "dr-chest (not signed in)" in frame(at, "reviewer")["reviewer"].tolist()


def test_a_failed_save_keeps_the_form(
    chest_env: Path, tiny_chest_cohort: Path, low_set: str, boxes_on_films: None
) -> None:
    at = handover(chest_env, tiny_chest_cohort, threshold_set=low_set)
    target = next(q for q in _questions(at) if "@" in q)
    at.radio(key=f"chest_verdict::{target}").set_value("relabel")  # no new class chosen
    at.session_state[NAME_KEY] = "dr-fail"
    at.text_area(key="chest_verdict_comment").input("keep me")
    next(b for b in at.button if b.label == "Save verdicts").click().run()
    assert_clean(at)
    assert "Not saved:" in texts(at.error) and "another class" in texts(at.error)
    assert at.radio(key=f"chest_verdict::{target}").value == "relabel"
    assert at.text_area(key="chest_verdict_comment").value == "keep me"
    # a half-typed drawn box is refused the same way
    at.radio(key=f"chest_verdict::{target}").set_value("agree")
    at.number_input(key="chest_add_x0").set_value(3.0)
    next(b for b in at.button if b.label == "Save verdicts").click().run()
    assert "Not saved:" in texts(at.error) and "x0, y0, x1, y1" in texts(at.error)


def test_exports_are_offered(chest_env: Path, tiny_chest_cohort: Path) -> None:
    at = handover(chest_env, tiny_chest_cohort)
    assert_clean(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == [
        "Numbers (JSON)",
        "Numbers (CSV)",
        "Report (HTML)",
        "Report (PDF)",
        "Reviewed boxes (COCO)",
    ]


def test_two_sessions_never_see_each_other(chest_env: Path, tiny_chest_cohort: Path) -> None:
    a = handover(chest_env, tiny_chest_cohort, 0)
    b = handover(chest_env, tiny_chest_cohort, 1)
    a.selectbox(key="chest_wl_preset").set_value("Full range").run()  # A reruns after B ran
    head_a = next(s.value for s in a.subheader if s.value.startswith("Film "))
    head_b = next(s.value for s in b.subheader if s.value.startswith("Film "))
    assert head_a != head_b
    hash_a = a.session_state["chest_film_input"].case.content_hash()
    hash_b = b.session_state["chest_film_input"].case.content_hash()
    assert hash_a != hash_b


def test_sample_films_come_from_the_heldout_cohort(
    chest_env: Path, tiny_chest_cohort: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from core import paths

    heldout = paths.chest_demo_cohort_dir("heldout", tmp_path)
    shutil.copytree(tiny_chest_cohort, heldout)
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path))
    at = chest_app(chest_env).run()
    at.radio(key="chest_source").set_value("Sample film").run()
    box = at.selectbox(key="chest_sample")
    assert len(box.options) == min(12, len(list_images(heldout)))
    box.set_value(box.options[1]).run()
    assert_clean(at)
    assert f"Film {box.options[1]}" in texts(at.subheader)
    assert at.multiselect(key="chest_readers").options  # a labelled folder: readers shown


def test_box_select_prefills_the_missed_finding_and_focus_zooms(
    chest_env: Path, tiny_chest_cohort: Path
) -> None:
    import json

    ann = read_vinbigdata(tiny_chest_cohort)
    image_id = sorted(ann.image_ids)[0]
    at = chest_app(chest_env)
    focus = (10.0, 20.0, 60.0, 80.0)
    at.session_state[OPEN_FILM] = asdict(
        FilmHandover(
            str(list_images(tiny_chest_cohort)[image_id]), image_id, str(tiny_chest_cohort), focus
        )
    )
    at.run()
    assert_clean(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    # Three times the box on each axis, kept inside the film: the box and its surroundings.
    assert spec["layout"]["xaxis"]["range"] == [0.0, 150.0]
    assert spec["layout"]["yaxis"]["range"] == [180.0, 0.0]
    at.session_state["chest_figure"] = {
        "selection": {
            "points": [],
            "point_indices": [],
            "box": [{"x": [40.0, 5.0], "y": [6.0, 50.0]}],
            "lasso": [],
        }
    }
    at.run()
    assert_clean(at)
    values = [at.number_input(key=f"chest_add_{k}").value for k in ("x0", "y0", "x1", "y1")]
    assert values == [5.0, 6.0, 40.0, 50.0]
