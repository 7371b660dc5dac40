"""The case page names the threshold set that decided its flags (issue 15 part 3)."""

from __future__ import annotations

from pathlib import Path

from models_fixtures import fixed_thresholds
from streamlit.testing.v1 import AppTest

from core.models.threshold_sets import save_threshold_set
from ui.bundle import TRAINING_SET
from ui.text import plain

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _set_line(at: AppTest) -> str:
    [line] = [c.value for c in at.caption if c.value.startswith("Threshold set:")]
    return line


def test_the_case_page_names_the_active_set(app_env: Path, sample_cases: list[Path]) -> None:
    save_threshold_set(app_env, "precision80-test", fixed_thresholds(0.0, 0.9), author="t")
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["threshold_set"] = "precision80-test"  # before the first run: SIDEBAR_NOTE
    at.run()
    at.radio(key="source").set_value("Sample case").run()
    at.selectbox(key="sample").set_value(sample_cases[0].name).run()
    assert not at.exception, [e.value for e in at.exception]
    assert _set_line(at) == "Threshold set: **precision80-test** — fixed for tests"
    other = AppTest.from_file(APP, default_timeout=180).run()  # a new session: the default
    other.radio(key="source").set_value("Sample case").run()
    other.selectbox(key="sample").set_value(sample_cases[0].name).run()
    assert _set_line(other).startswith(f"Threshold set: **{plain(TRAINING_SET)}** — ")
