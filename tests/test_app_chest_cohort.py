"""AppTest of the chest "Detection errors" page through app.py, on the tiny chest bundle
and cohort: the batch run, every what-if control with zero forward passes, galleries
that hand the film over, two isolated sessions, saving a threshold set.

See SIDEBAR_NOTE in tests/test_app_case.py: after the first run AppTest runs the page
alone, so the page falls back to the chest bundle the environment names (chest_env)."""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import paths
from core.cohort import OPEN_CASE_THRESHOLDS
from core.models.bundle import load_bundle
from core.models.threshold_sets import list_threshold_sets, load_threshold_set
from core.studies.chest.classes import ALL_LABELS
from core.studies.chest.cohort.api import run_cohort
from core.studies.chest.cohort.store import ChestCohortCache
from ui.auth import NAME_KEY

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "pages/chest_cohort.py"
TIMEOUT = 180


@pytest.fixture(scope="module")
def cached_bundle(tiny_chest_bundle: Path, tiny_chest_cohort: Path, data_dir: Path) -> Path:
    """The tiny cohort run once into the session data dir's cache (the page reads it)."""
    run_cohort(tiny_chest_cohort, tiny_chest_bundle,
               cache=ChestCohortCache(data_dir / "cache" / "chest_cohort"))  # fmt: skip
    return tiny_chest_bundle


@pytest.fixture
def env(chest_env: Path, cached_bundle: Path, tiny_chest_cohort: Path,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, Path]:  # fmt: skip
    """A copy of the bundle (same bundle.json, so the same cache entry; saved sets land in
    the copy) as the chest default, and the tiny cohort."""
    copy = Path(shutil.copytree(cached_bundle, tmp_path / "bundle"))
    monkeypatch.setenv(paths.BUNDLE_ENVS["chest"], str(copy))
    monkeypatch.setitem(sys.modules, "ui.eda", None)  # the EDA panel: absent here
    return copy, tiny_chest_cohort


@contextmanager
def count_forwards(bundle_dir: Path) -> Iterator[Counter[str]]:
    bundle = load_bundle(bundle_dir.resolve())
    counts: Counter[str] = Counter()
    handles = [m.register_forward_hook(lambda *_a, role=role: counts.update([role]))
               for role, m in bundle.models.items()]  # fmt: skip
    try:
        yield counts
    finally:
        for h in handles:
            h.remove()


def open_page(cohort: Path) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(PAGE).run()
    at.text_input(key="cc_dir").input(str(cohort)).run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str):  # noqa: ANN201
    return next(m for m in at.metric if m.label == label)


def per_class(at: AppTest):  # noqa: ANN201
    return next(df.value for df in at.dataframe if "ap_kept" in df.value.columns)


def element_types(at: AppTest) -> set[str]:
    def walk(node, out: set[str]) -> set[str]:  # noqa: ANN001
        for child in getattr(node, "children", {}).values():
            out.add(child.type)
            walk(child, out)
        return out

    return walk(at._tree, set())


def texts(elements) -> str:  # noqa: ANN001
    return "\n".join(str(e.value) for e in elements)


def test_page_renders_from_cache(env: tuple[Path, Path]) -> None:
    bundle, cohort = env
    with count_forwards(bundle) as forwards:
        at = open_page(cohort)
    assert sum(forwards.values()) == 0, forwards
    assert [t.value for t in at.title] == ["Detection errors"]
    assert [m.label for m in at.metric] == [
        "mAP@0.4 (competition)",
        "mAP@0.4 at these thresholds",
        "FROC score",
    ]
    assert metric(at, "mAP@0.4 (competition)").delta.startswith("95% CI")
    table = per_class(at)
    assert list(table.index) == list(ALL_LABELS) and table.loc["No finding", "support"] > 0
    assert "Nothing to show" in texts(at.info)  # no augmentation-study table
    assert "Dataset overview unavailable" in texts(at.info)
    assert "Method: for each film" in texts(at.caption)
    assert any("missed" in df.value.columns for df in at.dataframe)  # the confusion matrix
    assert any("Buckets: thirds" in c.value for c in at.caption)


def test_every_control_reruns_without_a_forward_pass(env: tuple[Path, Path]) -> None:
    bundle, cohort = env
    at = open_page(cohort)
    before = per_class(at)
    with count_forwards(bundle) as forwards:
        nf = ALL_LABELS.index("No finding")
        at.slider(key=f"cc_thr_{nf}").set_value(0.99).run()
        moved = per_class(at)
        assert moved.loc["No finding", "kept"] < before.loc["No finding", "kept"]
        assert "hand-tuned" in texts(at.caption)
        at.toggle(key="cc_rule").set_value(False).run()
        assert per_class(at).loc["No finding", "predictions"] == 12
        assert at.slider(key="cc_wbf_iou").disabled  # one detector: nothing to fuse
        at.selectbox(key="cc_n_boot").select(1000).run()
        at.selectbox(key="cc_pr_class").select("No finding").run()
        at.selectbox(key="cc_gal_class").select(nf).run()
        at.radio(key="cc_gal_kind").set_value("FN").run()
        at.number_input(key="cc_gal_page").set_value(1).run()
        at.selectbox(key="cc_source").select("original").run()
        at.button(key="cc_apply").click().run()
        assert at.slider(key=f"cc_thr_{nf}").value != 0.99  # loaded back
    assert not at.exception, at.exception
    assert sum(forwards.values()) == 0, forwards


def test_gallery_open_hands_the_film_and_thresholds_over(
    env: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ui.chest.cohort_galleries as galleries

    sent = []
    monkeypatch.setattr(galleries, "send_film", lambda film, switch=True: sent.append(film))
    _, cohort = env
    at = open_page(cohort)
    nf = ALL_LABELS.index("No finding")
    at.slider(key=f"cc_thr_{nf}").set_value(0.0).run()
    at.selectbox(key="cc_gal_class").select(nf).run()  # "No finding" on abnormal films: FPs
    at.radio(key="cc_gal_kind").set_value("FP").run()
    assert not at.exception, at.exception
    opens = [b for b in at.button if str(b.key).startswith("cc_open_FP")]
    assert opens, "a false-positive crop with its Open button"
    assert "image" in element_types(at)  # the crops
    opens[0].click().run()
    assert not at.exception, at.exception
    [film] = sent
    assert film.cohort_dir == str(cohort) and Path(film.path).stem == film.image_id
    assert film.focus == (0.0, 0.0, 1.0, 1.0)
    handed = at.session_state[f"chest_{OPEN_CASE_THRESHOLDS}"]
    assert handed["labels"]["No finding"] == 0.0


def test_two_sessions_are_isolated(env: tuple[Path, Path]) -> None:
    _, cohort = env
    a, b = open_page(cohort), open_page(cohort)
    nf = ALL_LABELS.index("No finding")
    start = b.slider(key=f"cc_thr_{nf}").value
    a.slider(key=f"cc_thr_{nf}").set_value(0.99).run()
    a.toggle(key="cc_rule").set_value(False).run()
    b.run()
    assert b.slider(key=f"cc_thr_{nf}").value == start and b.toggle(key="cc_rule").value
    assert per_class(a).loc["No finding", "kept"] != per_class(b).loc["No finding", "kept"]


def test_save_threshold_set_keeps_bundle_json(env: tuple[Path, Path]) -> None:
    bundle, cohort = env
    manifest = (bundle / "bundle.json").read_bytes()
    before = set(list_threshold_sets(bundle))  # the bundle is shared: other tests save sets
    at = open_page(cohort)
    at.slider(key="cc_thr_0").set_value(0.3).run()
    at.text_input(key="cc_save_name").input("loose")
    at.session_state[NAME_KEY] = "tester"  # the sidebar's name, typed once
    at.button(key="FormSubmitter:cc_save-Save threshold set").click().run()
    assert not at.exception, at.exception
    assert any("Saved threshold set" in s.value for s in at.success)
    assert set(list_threshold_sets(bundle)) - before == {"loose"}
    saved = load_threshold_set(bundle, "loose")
    assert saved.labels[ALL_LABELS[0]] == 0.3 and saved.author == "tester (not signed in)"
    assert (bundle / "bundle.json").read_bytes() == manifest


def test_uncached_folder_offers_a_run_that_fills_the_cache(
    env: tuple[Path, Path], tmp_path: Path
) -> None:
    bundle, cohort = env
    fresh = Path(shutil.copytree(cohort, tmp_path / "fresh"))
    (fresh / "train.csv").write_text((cohort / "train.csv").read_text() + "\n")  # a new key
    at = open_page(fresh)
    assert "has not been run on this folder" in texts(at.info)
    assert at.button(key="cc_run").label == "Run the bundle on 12 films"
    with count_forwards(bundle) as forwards:
        at.button(key="cc_run").click().run()
    assert not at.exception, at.exception
    assert forwards["detector_frcnn"] > 0  # the run is the one place a model runs
    assert [m.label for m in at.metric][0] == "mAP@0.4 (competition)"
    at.button(key="cc_forget").click().run()  # forgotten: the run is offered again
    assert not at.exception, at.exception
    assert at.button(key="cc_run").label == "Run the bundle on 12 films" and not at.metric


def test_a_folder_outside_the_roots_is_refused(
    env: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.roots import ALLOWED_ROOTS_ENV

    _, cohort = env
    at = open_page(cohort)
    monkeypatch.delenv(ALLOWED_ROOTS_ENV)
    at.text_input(key="cc_dir").input("/etc").run()
    assert not at.exception, at.exception
    assert "This folder is refused" in texts(at.error) and not at.metric


def _ensemble_entry(bundle: Path, cohort: Path, tmp_path: Path, data_dir: Path) -> Path:
    """A folder whose cache entry holds two detector members (the real member's boxes and
    a shifted copy), as an ensemble bundle's run would write: the WBF controls act."""
    import pandas as pd

    from core.studies.chest.cohort.store import FILM_CLASS, chest_cache_key

    fresh = Path(shutil.copytree(cohort, tmp_path / "ensemble-films"))
    (fresh / "train.csv").write_text((cohort / "train.csv").read_text() + "\n\n")  # own key
    cache = ChestCohortCache(data_dir / "cache" / "chest_cohort")
    films = cache.load(chest_cache_key(bundle, cohort))
    assert films is not None
    films = films[films["class_id"] == FILM_CLASS]
    boxes = films.assign(role="detector_a", class_id=3, score=0.8, x_min=20.0, y_min=20.0,
                         x_max=120.0, y_max=110.0)  # fmt: skip
    shifted = boxes.assign(role="detector_b", score=0.3, x_min=35.0, x_max=135.0)
    table = pd.concat([films, boxes, shifted], ignore_index=True)
    key = chest_cache_key(bundle, fresh)
    cache.save(key, table, {"detectors": ["detector_a", "detector_b"]})
    return fresh


def test_wbf_controls_refuse_nothing_and_run_nothing(
    env: tuple[Path, Path], tmp_path: Path, data_dir: Path
) -> None:
    bundle, cohort = env
    fresh = _ensemble_entry(bundle, cohort, tmp_path, data_dir)
    at = open_page(fresh)
    with count_forwards(bundle) as forwards:
        merged = per_class(at).loc["Cardiomegaly", "predictions"]
        at.slider(key="cc_wbf_iou").set_value(0.9).run()  # the two members' boxes part
        assert not at.exception, at.exception
        assert per_class(at).loc["Cardiomegaly", "predictions"] == 2 * merged == 24
        at.number_input(key="cc_wbf_skip").set_value(0.4).run()  # member b's boxes skipped
        assert per_class(at).loc["Cardiomegaly", "predictions"] == 12
    assert sum(forwards.values()) == 0, forwards
