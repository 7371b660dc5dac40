"""The case review page through Streamlit's AppTest: intake to results, partial and bad
input, the cohort hand-over, verdicts, sessions kept apart, and display controls that never
run a model (forward passes are counted with hooks on the app's own cached models)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pytest
from intake_fixtures import PATIENT_ID, PATIENT_NAME, dicom
from models_fixtures import fixed_thresholds, write_tiny_bundle
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.cohort import (
    OPEN_CASE_DIR,
    OPEN_CASE_FOCUS,
    OPEN_CASE_ID,
    OPEN_CASE_INDEX,
    OPEN_CASE_THRESHOLDS,
)
from core.models.bundle import load_bundle
from core.models.threshold_sets import save_threshold_set
from core.review.identity import DEMO_NOTICE
from core.schema import LOCATIONS, VIEWS
from ui.auth import NAME_KEY
from ui.bundle import WHATIF_SET
from ui.text import code, plain

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 180
#: SIDEBAR_NOTE: with ``st.navigation``, AppTest (Streamlit 1.67) runs the entry point
#: ``app.py`` only on a session's first run; later runs execute the page script alone, so
#: the sidebar (drawn by app.py) vanishes from the element tree and its widgets stop
#: updating, although a browser shows and uses them. Sidebar choices are therefore made in
#: session state before the first run, and sidebar checks read a first run.


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def files_of(case_dir: Path) -> list[tuple[str, bytes, str]]:
    return [(p.name, p.read_bytes(), "image/jpeg") for p in sorted(case_dir.glob("*.jpg"))]


def handover_app(folder: Path, focus: str | None = None) -> AppTest:
    """A session opened from the cohort page: the hand-over keys of :mod:`core.cohort`."""
    index = int(next(folder.glob("*.jpg")).name[:4])
    at = new_app()
    at.session_state[OPEN_CASE_DIR] = str(folder)
    at.session_state[OPEN_CASE_INDEX] = index
    at.session_state[OPEN_CASE_ID] = str(index)
    if focus is not None:
        at.session_state[OPEN_CASE_FOCUS] = focus
    return at


def upload(at: AppTest, files: list[tuple[str, bytes, str]]) -> AppTest:
    at.file_uploader(key="uploads").set_value(files)
    return at.run()


def open_sample(at: AppTest, name: str) -> AppTest:
    at.radio(key="source").set_value("Sample case").run()
    at.selectbox(key="sample").set_value(name)
    return at.run()


def texts(elements: object) -> str:
    return "\n".join(str(e.value) for e in elements)  # type: ignore[attr-defined]


def frame(at: AppTest, column: str) -> pd.DataFrame:
    """The one dataframe on the page that has ``column`` (AppTest exposes no element keys)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(found) == 1, f"{len(found)} dataframes with column {column!r}"
    return found[0]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@contextmanager
def count_forwards(bundle_dir: Path) -> Iterator[Counter[str]]:
    """Forward calls per role on the very model objects the app holds in its cache."""
    bundle = load_bundle(bundle_dir.resolve())
    counts: Counter[str] = Counter()
    handles = [
        model.register_forward_hook(lambda *_args, role=role: counts.update([role]))
        for role, model in bundle.models.items()
    ]
    try:
        yield counts
    finally:
        for h in handles:
            h.remove()


def test_no_case_yet_shows_guidance(app_env: Path) -> None:
    at = new_app().run()
    assert_clean(at)
    assert "Upload a patient's eight views" in texts(at.info)
    assert "Device:" in texts(at.sidebar.caption)
    assert "Threshold rule: fixed for tests" in texts(at.sidebar.caption)


def test_upload_to_results(app_env: Path, sample_cases: list[Path]) -> None:
    at = upload(new_app().run(), files_of(sample_cases[0]))
    assert_clean(at)
    subheaders = [s.value for s in at.subheader]
    assert any(s.startswith("Case ") for s in subheaders) and "Results" in subheaders
    assert "Heatmaps" in subheaders and "Timings and export" in subheaders
    assert [m.label for m in at.metric] == [
        "Aneurysm probability",
        "Anterior mean (I views)",
        "Posterior mean (V views)",
    ]
    assert all(float(m.value) > 0 for m in at.metric)
    table = frame(at, "reason")
    assert len(table) == len(LOCATIONS)
    grid = frame(at, "Left · frontal")
    assert grid.to_numpy().size == len(VIEWS) and all(
        str(c).startswith("✓") for c in grid.to_numpy().ravel()
    )
    assert "Stage 1 positive" in texts(at.error)  # stage-1 threshold 0: every case is positive


def test_preprocessing_panel_is_drawn_only_while_open(
    app_env: Path, sample_cases: list[Path]
) -> None:
    def panel(at: AppTest) -> list[str]:
        [expander] = [e for e in at.expander if e.label.startswith("Preprocessing")]
        return [c for image in expander.image for c in image.captions]

    at = upload(new_app().run(), files_of(sample_cases[0]))
    assert_clean(at)
    assert panel(at) == []  # closed: no thumbnails drawn for a case nobody looks at
    at.session_state["preprocess_open"] = True  # what clicking the expander sets
    at.run()
    assert_clean(at)
    captions = panel(at)
    assert sorted(c.split(" · ")[0] for c in captions) == sorted(VIEWS)
    assert all("surround" in c for c in captions), captions  # the framing found, per view


def test_zip_upload(app_env: Path, sample_cases: list[Path]) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, _ in files_of(sample_cases[0]):
            zf.writestr(f"case/{name}", data)
    at = upload(new_app().run(), [("case.zip", buf.getvalue(), "application/zip")])
    assert_clean(at)
    assert "Results" in [s.value for s in at.subheader]
    assert not at.warning


def test_partial_case_runs_and_says_what_is_missing(
    app_env: Path, sample_cases: list[Path]
) -> None:
    files = [f for f in files_of(sample_cases[0]) if "LV-" not in f[0]]
    at = upload(new_app().run(), files)
    assert_clean(at)
    warning = texts(at.warning)
    assert "Partial case: 6 of 8 views" in warning and "LV-A, LV-B" in warning
    table = frame(at, "reason").set_index("label")
    # Left posterior locations come only from the LV views: no score, said so.
    assert table.loc["VA · L", "status"] == "no view supplied"
    assert table.loc["VA · R", "status"] != "no view supplied"
    assert "Results" in [s.value for s in at.subheader]


def test_bad_file_is_reported_and_the_rest_runs(app_env: Path, sample_cases: list[Path]) -> None:
    files = files_of(sample_cases[0])
    name = files[-1][0]
    files[-1] = (name, b"\xff\xd8\xff this is not really a JPEG", "image/jpeg")
    at = upload(new_app().run(), files)
    assert_clean(at)
    error = texts(at.error)
    assert "Files that could not be used" in error and name in error
    assert "Partial case: 7 of 8 views" in texts(at.warning)
    assert "Results" in [s.value for s in at.subheader]


def test_dicom_run_shows_its_frame_rule_and_no_identifier(
    app_env: Path, sample_cases: list[Path]
) -> None:
    files = files_of(sample_cases[0])
    name, data, _ = files[0]
    frame = np.asarray(Image.open(io.BytesIO(data)).convert("L"))
    run = np.stack([frame, np.maximum(frame, 40), frame // 2 + 100])  # three frames
    files[0] = (name.replace(".jpg", ".dcm"), dicom(run), "application/dicom")
    at = new_app().run()
    at.session_state["preprocess_open"] = True  # the source captions are in that panel
    at = upload(at, files)
    assert_clean(at)
    assert "3 frames → minimum-intensity projection over 3 frames" in texts(at.caption)
    assert "Partial case" not in texts(at.warning) and "Results" in [s.value for s in at.subheader]
    page = "\n".join(texts(getattr(at, kind)) for kind in ("caption", "markdown", "subheader"))
    assert PATIENT_NAME not in page and PATIENT_ID not in page


def test_misnamed_file_fixed_by_choosing_its_view(app_env: Path, sample_cases: list[Path]) -> None:
    files = files_of(sample_cases[0])
    original = files[0][0]
    view = next(v for v in VIEWS if v in original)
    files[0] = ("scan-without-view.jpg", files[0][1], "image/jpeg")
    at = upload(new_app().run(), files)
    assert_clean(at)
    assert "scan-without-view.jpg: no view in the file name" in texts(at.warning)
    at.selectbox(key="override::scan-without-view.jpg").set_value(view)
    at.run()
    assert_clean(at)
    assert "Partial case" not in texts(at.warning)
    grid = frame(at, "Left · frontal").to_numpy().ravel()
    assert any("scan-without-view.jpg" in str(c) for c in grid)


def test_display_controls_never_run_a_model(app_env: Path, sample_cases: list[Path]) -> None:
    import streamlit as st

    st.cache_data.clear()  # nothing computed by an earlier test may hide a forward pass
    at = open_sample(new_app().run(), sample_cases[0].name)
    assert_clean(at)
    with count_forwards(app_env) as forwards:
        at.slider(key="cam_opacity").set_value(0.9).run()
        at.selectbox(key="cam_enlarge").set_value("LI-A").run()
        at.radio(key="cam_scale").set_value("per_view").run()
        at.slider(key="cam_opacity").set_value(0.2).run()
        assert_clean(at)
        assert sum(forwards.values()) == 0, forwards
        # A new location target runs only its stage-2 model, once.
        at.selectbox(key="cam_target").set_value("L_ICA").run()
        assert_clean(at)
        assert forwards["anterior"] >= 1 and forwards["stage1"] == forwards["posterior"] == 0
        first = sum(forwards.values())
        at.selectbox(key="cam_target").set_value("Aneurysm").run()
        at.selectbox(key="cam_target").set_value("L_ICA").run()
        at.slider(key="cam_opacity").set_value(0.6).run()
        at.selectbox(key="cam_enlarge").set_value("LI-B").run()
        assert_clean(at)
        assert sum(forwards.values()) == first, "a cached target or a display control ran a model"
    assert len(at.image) > len(VIEWS)  # the enlarged view is drawn besides the grid


def test_new_target_is_computed_once_with_hooks_active(
    app_env: Path, sample_cases: list[Path]
) -> None:
    """Guards the test above: the hooks do see forward passes when maps are computed."""
    import streamlit as st

    at = open_sample(new_app().run(), sample_cases[0].name)
    st.cache_data.clear()
    with count_forwards(app_env) as forwards:
        at.selectbox(key="cam_method").set_value("gradcam++").run()
        assert_clean(at)
        assert forwards["stage1"] >= 1
        seen = sum(forwards.values())
        at.selectbox(key="cam_method").set_value("gradcam++").run()
        assert sum(forwards.values()) == seen


def test_threshold_set_gates_without_running_a_model(
    app_env: Path, sample_cases: list[Path]
) -> None:
    save_threshold_set(app_env, "strict-test", fixed_thresholds(1.0, 0.5), overwrite=True)
    first = handover_app(sample_cases[0]).run()  # caches the result at the training thresholds
    assert "Stage 1 positive" in texts(first.error)
    at = handover_app(sample_cases[0])
    at.session_state["threshold_set"] = "strict-test"  # before the first run: see SIDEBAR_NOTE
    with count_forwards(app_env) as forwards:
        at.run()
    assert_clean(at)
    assert sum(forwards.values()) == 0, forwards
    assert "Stage 1 negative" in texts(at.info)
    assert set(frame(at, "reason")["status"]) == {"gated by stage 1"}


def test_two_sessions_never_see_each_other(app_env: Path, sample_cases: list[Path]) -> None:
    a, b = new_app().run(), new_app().run()
    open_sample(a, sample_cases[0].name)
    open_sample(b, sample_cases[1].name)
    a.slider(key="cam_opacity").set_value(0.8).run()  # a rerun of A after B ran
    case_a = next(s.value for s in a.subheader if s.value.startswith("Case "))
    case_b = next(s.value for s in b.subheader if s.value.startswith("Case "))
    assert plain(sample_cases[0].name) in case_a and plain(sample_cases[1].name) in case_b
    assert a.session_state["case"].content_hash() != b.session_state["case"].content_hash()
    probs_a = frame(a, "reason")["probability"].tolist()
    probs_b = frame(b, "reason")["probability"].tolist()
    assert probs_a != probs_b
    assert sample_cases[1].name not in texts(a.subheader) + texts(a.caption)


def test_cohort_handover_opens_the_patient_and_focus(
    app_env: Path, sample_cases: list[Path]
) -> None:
    at = handover_app(sample_cases[0], focus="L_MCA")
    at.session_state[OPEN_CASE_THRESHOLDS] = fixed_thresholds(1.0, 0.5).to_dict()
    at.run()
    assert_clean(at)
    assert at.radio(key="source").value == "Cohort case"
    assert at.selectbox(key="cam_target").value == "L_MCA"
    assert at.session_state["threshold_set"] == WHATIF_SET
    assert "Stage 1 negative" in texts(at.info)
    assert OPEN_CASE_DIR not in at.session_state


def test_verdict_is_saved_and_listed(app_env: Path, sample_cases: list[Path]) -> None:
    at = open_sample(new_app().run(), sample_cases[1].name)
    at.session_state[NAME_KEY] = "dr-test"  # typed once in the sidebar (see SIDEBAR_NOTE)
    at.radio(key="verdict::Aneurysm").set_value("disagree")
    next(b for b in at.button if b.label == "Save verdicts").click().run()
    assert_clean(at)
    assert "Saved 1 verdict(s)." in texts(at.success)
    stored = frame(at, "reviewer")
    assert list(stored["reviewer"]) == ["dr-test (not signed in)"]
    assert list(stored["agree"]) == [False]


def test_bad_bundle_directory_gives_a_clear_error(
    app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bundle.json").write_text("{not json")
    monkeypatch.setenv(
        "REVIEW_BUNDLE", str(broken)
    )  # the directory box's default; see SIDEBAR_NOTE
    at = new_app().run()
    assert_clean(at)
    assert at.text_input(key="bundle_dir").value == str(broken)
    assert "cannot be loaded" in texts(at.sidebar.error) and "not valid JSON" in texts(
        at.sidebar.error
    )
    assert "No model bundle is loaded" not in texts(at.info)  # no case yet: intake guidance
    assert "Upload a patient's eight views" in texts(at.info)


def test_a_bundle_of_another_study_is_named_not_loaded(
    app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.models.build import build_model
    from core.models.bundle import save_bundle
    from core.models.registry import get_spec
    from core.studies import get_study
    from core.studies.chest.train_eval import fixed_thresholds

    spec = get_spec("chest_classifier", size=32)
    chest = save_bundle(tmp_path / "chest", {"classifier": build_model(spec)}, {"classifier": spec},
                        fixed_thresholds(), schema=get_study("chest").schema, preprocessing={})  # fmt: skip
    monkeypatch.setenv("REVIEW_BUNDLE", str(chest))  # the directory box's default; see SIDEBAR_NOTE
    at = new_app().run()
    assert_clean(at)
    info = texts(at.sidebar.info)
    assert "Chest X-ray" in info and "not a Cerebral aneurysm" in info and "its own pages" in info
    assert not texts(at.sidebar.error)


def test_no_bundle_offers_the_demo_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sample_cases: list[Path]
) -> None:
    """The button starts the background build (core.demo_job.start_build); while it runs
    the page shows its stage, percent and time left; once its bundle exists a new session
    loads it with the demo notice. The build process is replaced by writing its progress
    file and the tiny bundle (training takes minutes and is tested with the trainer)."""
    import ui.intake_panel
    from core import demo_job

    monkeypatch.delenv("REVIEW_BUNDLE", raising=False)
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(ui.intake_panel, "SAMPLES_DIR", sample_cases[0].parent)
    calls = []

    def start_build(studies: list[str], root: Path | None = None) -> list[str]:
        calls.append(list(studies))
        report = demo_job.progress_writer("aneurysm", tmp_path)
        report(0.25, "training stage 1")
        return list(studies)

    monkeypatch.setattr(demo_job, "start_build", start_build)
    at = new_app().run()
    assert_clean(at)
    assert "No model bundle" in texts(at.sidebar.info) and "No models yet" in texts(at.markdown)
    at.button(key="build_demo").click().run()
    assert_clean(at)
    assert calls == [["aneurysm"]]
    assert "Building the demo models in the background" in texts(at.markdown)
    (bar,) = [e for e in at.get("progress")]
    assert "training stage 1" in bar.proto.text and "25%" in bar.proto.text
    write_tiny_bundle(tmp_path / "bundles" / "demo", fixed_thresholds())
    demo_job.progress_writer("aneurysm", tmp_path)(1.0, "demo ready", state="done")
    fresh = new_app().run()  # a new session (see SIDEBAR_NOTE) finds the built bundle
    assert_clean(fresh)
    assert DEMO_NOTICE in texts(fresh.warning) and DEMO_NOTICE in texts(fresh.sidebar.warning)
    assert "No models yet" not in texts(fresh.markdown)


def _bundle_copy(source: Path, target: Path, **spec_edit: object) -> Path:
    """A copy of ``source`` whose manifest has ``name`` or an anterior ``arch`` changed."""
    target.mkdir()
    for p in source.iterdir():
        if p.is_file():
            (target / p.name).write_bytes(p.read_bytes())
    manifest = json.loads((target / "bundle.json").read_text())
    if "name" in spec_edit:
        manifest["name"] = spec_edit["name"]
    if "arch" in spec_edit:
        manifest["models"]["anterior"]["spec"]["arch"] = spec_edit["arch"]
    (target / "bundle.json").write_text(json.dumps(manifest))
    return target


def test_hub_architecture_in_a_bundle_is_refused_in_the_sidebar(
    app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = _bundle_copy(app_env, tmp_path / "hub", arch="timm:hf-hub:someone/evil-model")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # were it reached, fail fast, never download
    monkeypatch.setenv("REVIEW_BUNDLE", str(hub))  # see SIDEBAR_NOTE
    at = new_app().run()
    assert_clean(at)
    error = texts(at.sidebar.error)
    assert "cannot be loaded" in error and "not one this app builds" in error
    assert "Upload a patient's eight views" in texts(at.info)  # the page goes on


def test_any_bundle_failure_is_a_sidebar_message(
    app_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only BundleError: an error from torch or timm while building must not break the
    page for the rest of the session."""
    import ui.bundle

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("CUDA error: out of memory while building")

    monkeypatch.setattr(ui.bundle, "load_bundle", explode)
    at = new_app().run()
    assert_clean(at)
    error = texts(at.sidebar.error)
    assert "cannot be loaded" in error and "RuntimeError" in error and "out of memory" in error
    assert "Upload a patient's eight views" in texts(at.info)


HOSTILE = "**bold** [link](http://x) <b>x</b>"


def test_bundle_name_is_shown_as_typed_not_as_markdown(
    app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = _bundle_copy(app_env, tmp_path / "named", name=HOSTILE)
    monkeypatch.setenv("REVIEW_BUNDLE", str(named))
    at = new_app().run()
    assert_clean(at)
    caption = texts(at.sidebar.caption)
    assert plain(HOSTILE) in caption and HOSTILE not in caption  # escaped: shown as typed


# --- one data root and the audit trail (issue 14, items 3 and 4) --------------------------


def _forbid_bundle_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any read of a bundle by the sidebar fails the test: a refused folder loads nothing."""
    import ui.bundle

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a refused bundle folder was read: {args}")

    for name in ("load_bundle", "read_manifest", "is_bundle_dir"):
        monkeypatch.setattr(ui.bundle, name, forbidden)


@pytest.mark.parametrize("typed", ["/etc", "{data}/bundles/../../../../../etc"])
def test_a_typed_bundle_folder_outside_the_roots_is_refused(
    app_env: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, typed: str
) -> None:
    from core.roots import ALLOWED_ROOTS_ENV

    monkeypatch.delenv(ALLOWED_ROOTS_ENV)
    _forbid_bundle_reads(monkeypatch)
    at = new_app()
    at.session_state["bundle_dir"] = typed.format(data=data_dir)  # see SIDEBAR_NOTE
    at.run()
    assert_clean(at)
    error = texts(at.sidebar.error)
    assert "This bundle folder is refused" in error and "not inside an allowed folder" in error
    assert str(data_dir.resolve()) in error  # the message names the allowed roots
    assert at.session_state["active_bundle"] is None


def test_a_symlink_in_the_data_dir_that_points_out_of_it_is_refused(
    app_env: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real, loadable bundle outside the roots, reached through a link inside ``data/``."""
    import shutil
    import uuid

    from core.roots import ALLOWED_ROOTS_ENV

    monkeypatch.delenv(ALLOWED_ROOTS_ENV)
    outside = shutil.copytree(app_env, tmp_path / "outside" / "bundle")
    link = data_dir / f"link-{uuid.uuid4().hex[:8]}"
    link.symlink_to(outside, target_is_directory=True)
    _forbid_bundle_reads(monkeypatch)
    at = new_app()
    at.session_state["bundle_dir"] = str(link)
    at.run()
    assert_clean(at)
    error = texts(at.sidebar.error)
    assert "This bundle folder is refused" in error and f"resolves to `{outside}`" in error
    assert at.session_state["active_bundle"] is None


def _audit_since(first_id: int) -> pd.DataFrame:
    """Audit rows newer than ``first_id``, from the database the app writes to."""
    from core.verdicts import VerdictStore, audit_events

    with VerdictStore.open() as store:
        rows = audit_events(store)
    return rows[rows["id"] > first_id].reset_index(drop=True)


def _last_audit_id() -> int:
    rows = _audit_since(0)
    return int(rows["id"].max()) if len(rows) else 0


def test_opening_running_and_judging_a_case_are_audited_by_content_hash(
    app_env: Path, sample_cases: list[Path]
) -> None:
    import json

    from core.verdicts import NOT_SIGNED_IN, VerdictStore, export_audit_csv

    start = _last_audit_id()
    at = open_sample(new_app().run(), sample_cases[0].name)
    assert_clean(at)
    at.run()  # a rerun of the same case records nothing new
    rows = _audit_since(start)
    assert list(rows["action"]) == ["open_case", "run_bundle"]
    case_hash = rows["target"].iloc[0]
    assert len(case_hash) == 64 and set(rows["target"]) == {case_hash}
    assert set(rows["target_kind"]) == {"case"} and set(rows["actor"]) == {NOT_SIGNED_IN}
    bundle = json.loads(rows["detail"].iloc[1])["bundle"]
    assert bundle == load_bundle(app_env.resolve()).manifest_sha256

    at.session_state[NAME_KEY] = "dr-audit"  # typed once in the sidebar (see SIDEBAR_NOTE)
    at.radio(key="verdict::Aneurysm").set_value("agree")
    next(b for b in at.button if b.label == "Save verdicts").click().run()
    assert_clean(at)
    saved = _audit_since(start).iloc[2:]
    actor = "dr-audit (not signed in)"
    assert list(saved["action"]) == ["save_verdict"] and list(saved["actor"]) == [actor]
    assert saved["target"].iloc[0] == case_hash
    with VerdictStore.open() as store:
        mine = [v.id for v in store.latest(case_hash) if v.reviewer == actor]
        buf = io.StringIO()
        export_audit_csv(store, buf)
    assert json.loads(saved["detail"].iloc[0])["verdict_ids"] == mine
    for leak in (sample_cases[0].name, *(p.name for p in sample_cases[0].glob("*.jpg"))):
        assert leak not in buf.getvalue()  # no folder or file name anywhere in the trail


def test_a_failed_audit_write_warns_and_the_page_goes_on(
    app_env: Path,
    sample_cases: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import ui.audit
    from core.verdicts import AuditError

    def broken(*args: object, **kwargs: object) -> int:
        raise AuditError("The audit trail could not be written: the database is read-only.")

    monkeypatch.setattr(ui.audit, "record", broken)
    at = open_sample(new_app().run(), sample_cases[1].name)
    assert_clean(at)
    assert "not written to the audit trail" in texts(at.warning)
    assert "Results" in texts(at.subheader)  # the models ran and the results are shown
    assert any("NOT recorded" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "typed",
    [
        HOSTILE,
        "# heading",
        "- item",
        "1. first",
        "> quote",
        "a_b_c *x* `c` ~~s~~ $x$ &lt; |t|",
        ":red[alarm]",
        "![img](http://x/y.png)",
        "line\n# two",
    ],
)
def test_plain_escapes_every_markdown_construct(typed: str) -> None:
    """Removing each escape gives back what was typed (newlines as spaces), and no Markdown
    construct survives unescaped."""
    out = plain(typed)
    assert re.sub(r"\\(.)", r"\1", out) == typed.replace("\n", " ")
    assert not re.search(r"(?<!\\)[*_`\[\]<&~$|]", out)
    assert not re.match(r"\s*([#>+-]|\d+\.)", out)


def test_plain_cuts_long_names_and_code_fences_backticks() -> None:
    assert plain("x" * 300, 40) == "x" * 39 + "…"
    assert code("a`b") == "``a`b``" and code("`") == "`` ` ``"
