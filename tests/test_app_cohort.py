"""AppTest of the cohort page on a pre-populated cache: it renders, and a threshold change
recomputes every count with zero forward passes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from cohort_fixtures import populate, write_cohort
from conftest import TINY_LOCATION, TINY_STAGE1
from models_fixtures import dsa_like
from streamlit.testing.v1 import AppTest

from core.cohort.cache import PredictionCache, cache_key
from core.cohort.synthetic import synthetic_table
from core.models.threshold_sets import list_threshold_sets, load_threshold_set
from core.models.thresholds import Thresholds
from core.schema import VIEWS
from core.verdicts import VerdictIn, VerdictStore
from ui.auth import NAME_KEY

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "cohort.py")
TIMEOUT = 120
N_BOOT = 1000  # the page's default; the intervals below are pre-cached for it
CACHED_CI = {
    "aneurysm": [0.801, 0.902],
    "macro": [0.7, 0.8],
    "weighted": [0.75, 0.85],
    "locations": {},
    "bootstrap": {"n": N_BOOT, "seed": 0},
}


class ForwardPass(AssertionError):
    pass


@pytest.fixture
def cohort_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """A data dir with the demo bundle.json, the demo held-out cohort and its cached table;
    every way into a model raises."""
    import core.cohort.batch
    import core.models.inference
    import core.models.runner
    import ui.cohort.source
    from ui.cohort.reviewer import verdict_store

    verdict_store.clear()  # the store is per process; this test's lives in tmp_path
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("REVIEW_BUNDLE", raising=False)
    bundle_dir, cohort_dir, _ = populate(tmp_path, n_patients=40)
    PredictionCache(tmp_path / "cache" / "cohort").save_intervals(
        cache_key(bundle_dir, cohort_dir), N_BOOT, 0, CACHED_CI
    )

    def forbidden(*args: object, **kwargs: object) -> None:
        raise ForwardPass("the cohort page ran a model")

    for module, name in (
        (core.models.runner, "logits"),
        (core.models.runner, "cam_logits"),
        (core.models.inference, "predict_cases"),
        (core.cohort.batch, "predict_cases"),
        (core.cohort.batch, "run_batch"),
        (ui.cohort.source, "run_batch"),
    ):
        monkeypatch.setattr(module, name, forbidden)
    yield bundle_dir, cohort_dir
    verdict_store.clear()


def _metric(at: AppTest, label: str):
    return next(m for m in at.metric if m.label == label)


def _counts(at: AppTest) -> tuple[int, ...]:
    sens, spec = _metric(at, "Sensitivity").delta, _metric(at, "Specificity").delta
    return tuple(int(n) for n in re.findall(r"\d+", f"{sens} {spec}"))


def test_page_renders_from_cache(cohort_env: tuple[Path, Path]) -> None:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert labels[:3] == ["Aneurysm AUROC", "Sensitivity", "Specificity"]
    assert labels[3] == "Location accuracy (K-Ium)" and labels[5] == "Weighted AUROC (RSNA)"
    assert re.fullmatch(r"Location AUROC \(\d+/21\)", labels[4])
    assert _metric(at, "Aneurysm AUROC").delta == "95% CI 0.801–0.902"  # read from the cache
    assert _metric(at, "Location accuracy (K-Ium)").delta.startswith("all-zeros floor 0.9")
    tp, fn, tn, fp = _counts(at)
    assert tp + fn + tn + fp == 40
    assert at.slider(key="wi_stage1").value == 0.5  # the bundle's own stage-1 threshold
    assert len(at.slider) == 22
    [download] = at.get("download_button")
    assert download.proto.label == "Download this cohort's verdicts as CSV (0 rows)"


def test_threshold_change_recomputes_without_inference(cohort_env: tuple[Path, Path]) -> None:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    before = _counts(at)
    at.slider(key="wi_stage1").set_value(0.2).run()
    assert not at.exception, at.exception
    after = _counts(at)
    assert after != before
    tp, fn, tn, fp = after
    assert tp + fn + tn + fp == 40 and fn <= before[1] and fp >= before[3]  # looser: fewer misses
    assert "0.200" in _metric(at, "Sensitivity").help
    at.slider(key="wi_L_MCA").set_value(0.95).run()
    assert not at.exception and _counts(at) == after  # a location threshold leaves stage 1 alone


def test_calibration_rule_loads_suggested_values(cohort_env: tuple[Path, Path]) -> None:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    at.selectbox(key="wi_source").select("Fit on this cohort: Youden J").run()
    assert any("optimistic" in w.value for w in at.warning)
    at.button(key="wi_apply").click().run()
    assert not at.exception, at.exception
    assert at.slider(key="wi_stage1").value != 0.5
    assert "youden" in " ".join(c.value for c in at.caption)


def test_save_threshold_set_keeps_bundle_json(cohort_env: tuple[Path, Path]) -> None:
    bundle_dir, _ = cohort_env
    manifest = (bundle_dir / "bundle.json").read_bytes()
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    at.slider(key="wi_stage1").set_value(0.37).run()
    at.text_input(key="wi_save_name").input("loose")
    at.session_state[NAME_KEY] = "tester"  # the sidebar's name, typed once
    at.button(key="FormSubmitter:wi_save-Save threshold set").click().run()
    assert not at.exception, at.exception
    assert any("Saved threshold set" in s.value for s in at.success)
    assert list_threshold_sets(bundle_dir) == ["original", "loose"]
    saved = load_threshold_set(bundle_dir, "loose")
    assert saved.stage1 == 0.37 and saved.author == "tester (not signed in)" and "hand-tuned" in saved.rule
    assert (bundle_dir / "bundle.json").read_bytes() == manifest


def test_model_vs_reviewer(cohort_env: tuple[Path, Path]) -> None:
    """Two reviewed cases of the cohort (one agreement, one correction) and one of another."""
    _, cohort_dir = cohort_env
    table = PredictionCache().load(cache_key(cohort_env[0], cohort_dir))
    assert table is not None
    rows = table.iloc[:2]

    def verdict(case_hash: str, agree: bool) -> VerdictIn:
        return VerdictIn(
            case_hash=case_hash,
            case_id="x",
            bundle_name="fixture",
            bundle_hash="ab",
            study="aneurysm",
            finding="Aneurysm",
            probability=0.9,
            threshold=0.5,
            model_decision=1,
            agree=agree,
            reviewer="rev",
            idempotency_key=str(uuid.uuid4()),
        )

    store = VerdictStore.open()
    store.save(
        [
            verdict(rows.iloc[0]["case_hash"], True),
            verdict(rows.iloc[1]["case_hash"], False),
            verdict("f" * 64, True),
        ]
    )
    store.close()
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    [download] = at.get("download_button")
    assert download.proto.label.endswith("(2 rows)")  # only this cohort's cases
    seen = next(df for df in at.dataframe if "reviewed" in df.value.columns).value
    assert seen.loc["Aneurysm", "reviewed"] == 2 and seen.loc["Aneurysm", "agree"] == 1
    assert seen.loc["Aneurysm", "corrected_to_negative"] == 1


def test_uncached_cohort_offers_a_run(cohort_env: tuple[Path, Path]) -> None:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    at.toggle(key="cohort_cam").set_value(True).run()  # no CAM table is cached
    assert not at.exception, at.exception
    assert any("has not been run" in i.value for i in at.info)
    assert at.button(key="cohort_run").label.startswith("Run the model on 40 patients")
    assert not at.metric


def test_selecting_an_error_opens_the_case_page(app_env: Path, tmp_path: Path) -> None:
    """Through app.py with the tiny bundle: a selected false positive opens on the case page
    with the cohort's thresholds handed over."""
    table = synthetic_table(8, seed=4)
    cohort = write_cohort(tmp_path / "cohort", table)
    rng = np.random.default_rng(0)
    for i in table["Index"]:
        for v in VIEWS:
            cv2.imwrite(str(cohort / f"{i}{v}.jpg"), dsa_like(rng, 80, 96, 6))
    PredictionCache().save(cache_key(app_env, cohort), table)

    app = Path(PAGE).parent.parent / "app.py"
    at = AppTest.from_file(str(app), default_timeout=TIMEOUT).run()
    at.switch_page("pages/cohort.py").run()
    at.text_input(key="cohort_dir").input(str(cohort)).run()
    assert not at.exception, at.exception
    fp = next(df for df in at.dataframe if df.key == "cohort_err_FP").value
    first = int(fp.iloc[0]["Index"])
    at.session_state["cohort_err_FP"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Case review"]
    assert any(f"#{first}" in h.value for h in at.subheader)  # the patient, from the cohort folder
    assert "open_case_dir" not in at.session_state  # consumed by the case page
    # AppTest re-runs only the page after a switch (not app.py's sidebar), so the sidebar's
    # adoption of the thresholds is covered by the case page's own hand-over test.
    sent = Thresholds.from_dict(at.session_state["open_case_thresholds"])
    assert sent.stage1 == TINY_STAGE1 and set(sent.labels.values()) == {TINY_LOCATION}


# --- one data root and the audit trail (issue 14, items 3 and 4) --------------------------


def test_a_cohort_folder_outside_the_roots_is_refused(
    cohort_env: tuple[Path, Path],
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each way out shows an error and no table, although the copy outside has the very
    fingerprint of a cached table (so a missed check would render it)."""
    import shutil

    from core.roots import ALLOWED_ROOTS_ENV

    monkeypatch.delenv(ALLOWED_ROOTS_ENV)
    _, cohort_dir = cohort_env
    outside = tmp_path_factory.mktemp("outside")
    copy = shutil.copytree(cohort_dir, outside / "cohort")
    (tmp_path / "link").symlink_to(copy, target_is_directory=True)
    for typed in ("/etc", str(tmp_path / "link"), f"{cohort_dir}/../../../{outside.name}/cohort"):
        at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
        at.text_input(key="cohort_dir").input(typed).run()
        assert not at.exception, at.exception
        error = "\n".join(e.value for e in at.error)
        assert "This folder is refused" in error and "not inside an allowed folder" in error
        assert not at.metric and not at.button


def test_a_bundle_outside_the_roots_is_refused_on_the_cohort_page(
    cohort_env: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.roots import ALLOWED_ROOTS_ENV

    monkeypatch.delenv(ALLOWED_ROOTS_ENV)
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.session_state["bundle_dir"] = "/etc"  # the sidebar's box (app.py is not run here)
    at.run()
    assert not at.exception, at.exception
    assert any("This folder is refused" in e.value and "`/etc`" in e.value for e in at.error)
    assert not at.metric


def _audit_rows():  # -> pd.DataFrame
    from core.verdicts import audit_events

    with VerdictStore.open() as store:
        return audit_events(store)


def test_opening_and_running_a_cohort_are_audited_by_fingerprint(
    cohort_env: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    from types import SimpleNamespace

    import ui.cohort.source

    bundle_dir, cohort_dir = cohort_env
    key = cache_key(bundle_dir, cohort_dir)
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    at.run()  # opened once per session, however often the page reruns
    assert not at.exception, at.exception
    rows = _audit_rows()
    assert list(rows["action"]) == ["open_cohort"] and list(rows["target"]) == [key.data]
    assert json.loads(rows["detail"].iloc[0]) == {"bundle": key.bundle}
    assert cohort_dir.name not in rows.to_csv() and str(bundle_dir) not in rows.to_csv()

    runs: list[object] = []
    monkeypatch.setattr(ui.cohort.source, "load_bundle", lambda path: SimpleNamespace())
    monkeypatch.setattr(ui.cohort.source, "bundle_predictor", lambda bundle, cam: None)
    monkeypatch.setattr(
        ui.cohort.source, "run_batch", lambda *a, **k: runs.append(a) or SimpleNamespace(skipped=[])
    )
    at.toggle(key="cohort_cam").set_value(True).run()  # no CAM table: the run is offered
    at.button(key="cohort_run").click().run()
    assert not at.exception, at.exception
    assert len(runs) == 1
    run = _audit_rows().iloc[-1]
    assert (run["action"], run["target_kind"], run["target"]) == ("run_bundle", "cohort", key.data)
    assert json.loads(run["detail"]) == {"bundle": key.bundle, "variant": "cam", "patients": 40}


# --- user text as plain text (issue 14, item 7) ---------------------------------------------

HOSTILE = "**bold** [link](http://x) <b>x</b>"


def _shown(at: AppTest) -> list[str]:
    """Every Markdown-rendered text element of the page."""
    kinds = ("markdown", "caption", "success", "error", "warning", "info")
    return [str(e.value) for kind in kinds for e in getattr(at, kind)]


def test_saved_author_is_shown_as_typed(cohort_env: tuple[Path, Path]) -> None:
    from ui.text import plain

    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    at.slider(key="wi_stage1").set_value(0.41).run()
    at.text_input(key="wi_save_name").input("hostile")
    at.session_state[NAME_KEY] = HOSTILE
    at.button(key="FormSubmitter:wi_save-Save threshold set").click().run()
    assert not at.exception, at.exception
    [saved] = [s.value for s in at.success if "Saved threshold set" in s.value]
    assert plain(HOSTILE) in saved and HOSTILE not in saved  # escaped: shown as typed


def test_a_threshold_sets_author_and_rule_are_never_markdown(
    cohort_env: tuple[Path, Path],
) -> None:
    """A set saved by another user, opened here: wherever its author or rule appears, every
    Markdown character is escaped (``ui.text.plain``), so no bold, link or HTML renders."""
    from core.models.threshold_sets import save_threshold_set
    from ui.text import plain

    bundle_dir, _ = cohort_env
    base = load_threshold_set(bundle_dir, "original")
    save_threshold_set(bundle_dir, "theirs", replace(base, rule=HOSTILE), author=HOSTILE)
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    at.selectbox(key="wi_source").select("theirs").run()
    at.button(key="wi_apply").click().run()
    assert not at.exception, at.exception
    mentions = [t for t in _shown(at) if "bold" in t]
    assert mentions, "the set's author is shown somewhere"
    for text in mentions:
        assert plain(HOSTILE) in text and HOSTILE not in text, text


def test_threshold_sets_are_shown_side_by_side_with_the_floor(
    cohort_env: tuple[Path, Path],
) -> None:
    """Issue 15 part 3: every set of the bundle in one table, each with the all-zeros floor
    (hand-computed from the cohort's train.csv); a set that never flags scores exactly it."""
    import pandas as pd

    from core.models.threshold_sets import save_threshold_set
    from core.schema import LOCATIONS

    bundle_dir, cohort_dir = cohort_env
    base = load_threshold_set(bundle_dir, "original")
    silent = replace(base, labels=dict.fromkeys(LOCATIONS, 1.0), rule="never flag")
    save_threshold_set(bundle_dir, "silent", silent, author="tester")
    labels = pd.read_csv(cohort_dir / "train.csv")[list(LOCATIONS)].to_numpy()
    floor = 1 - labels.sum() / labels.size
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    [sets] = [d.value for d in at.dataframe if "all_zero_floor" in d.value.columns]
    assert sets["set"].tolist() == ["original", "silent"]
    assert sets["all_zero_floor"].tolist() == pytest.approx([floor, floor])
    assert sets["kium_accuracy"].iloc[1] == pytest.approx(floor)  # no flag: the floor itself
    assert sets["flags_per_patient"].iloc[1] == 0 and sets["flags_per_patient"].iloc[0] > 0
    assert sets["vs_floor"].iloc[0] == pytest.approx(sets["kium_accuracy"].iloc[0] - floor)
    shown = float(_metric(at, "Location accuracy (K-Ium)").value)
    assert sets["kium_accuracy"].iloc[0] == pytest.approx(shown, abs=5e-5)  # the headline's
    at.slider(key="wi_L_MCA").set_value(0.05).run()  # unsaved sliders: a third row
    [sets] = [d.value for d in at.dataframe if "all_zero_floor" in d.value.columns]
    assert sets["set"].tolist() == ["original", "silent", "current sliders (unsaved)"]
    assert sets["flags_per_patient"].iloc[2] > sets["flags_per_patient"].iloc[0]
