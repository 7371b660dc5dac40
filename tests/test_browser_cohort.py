"""The cohort page in a real headless Chromium, end to end with the tiny bundle: run the batch
from the page, move the stage-1 slider, open an error on the case page, come back.

Starts the server through ``scripts.app_server``, as ``test_browser.py`` does.
``SAVE_COHORT_SCREENSHOT=path`` also writes the screenshot there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from browser_marks import BROWSER_MARKS
from models_fixtures import dsa_like

from core.schema import LOCATIONS, TRAIN_COLUMNS, VIEWS
from scripts.app_server import CHROMIUM, CHROMIUM_ARGS, STARTUP_S, serve

pytestmark = BROWSER_MARKS
PATIENTS = 6
WAIT_MS = 240_000
METRICS = "document.querySelectorAll('[data-testid=stMetric]').length >= 6"


def _write_cohort(folder: Path) -> None:
    """Six patients of tiny DSA-like JPEGs; patients 2, 4 and 6 have an L_MCA aneurysm."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    rows = []
    for i in range(1, PATIENTS + 1):
        for v in VIEWS:
            cv2.imwrite(str(folder / f"{i}{v}.jpg"), dsa_like(rng, 80, 96, 6))
        locs = {c: int(i % 2 == 0 and c == "L_MCA") for c in LOCATIONS}
        rows.append({"Index": i, "Aneurysm": int(any(locs.values())), **locs})
    pd.DataFrame(rows, columns=list(TRAIN_COLUMNS)).to_csv(folder / "train.csv", index=False)


@pytest.fixture
def cohort_server(tiny_bundle: Path, tmp_path: Path) -> Iterator[str]:
    """``streamlit run app.py`` with the tiny bundle and an unrun demo held-out cohort."""
    data = tmp_path / "data"
    _write_cohort(data / "cohorts" / "demo-heldout")
    env = {"REVIEW_BUNDLE": str(tiny_bundle), "REVIEW_DATA_DIR": str(data)}
    with serve(env, tmp_path / "streamlit.log") as url:
        yield url


def test_run_tune_open_and_return(cohort_server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.goto(cohort_server, timeout=STARTUP_S * 1000)
            page.get_by_role("link", name="Cohort analysis").click()
            page.get_by_role("button", name=f"Run the model on {PATIENTS} patients").click()
            page.wait_for_function(METRICS, timeout=WAIT_MS)  # the batch ran and was cached
            sens = page.locator("[data-testid=stMetric]").filter(has_text="Sensitivity")
            before = sens.inner_text()
            page.get_by_role("slider", name="Stage-1 threshold (patient score)").focus()
            for _ in range(6):
                page.keyboard.press("PageUp")
            page.wait_for_function(
                f"!document.body.innerText.includes({before.splitlines()[-1]!r})", timeout=WAIT_MS
            )
            after = sens.inner_text()
            assert after != before
            assert page.locator("[data-testid=stException]").count() == 0
            shot = tmp_path / "cohort.png"
            page.wait_for_timeout(1500)
            page.screenshot(path=str(shot), full_page=True)

            page.get_by_role("tab", name="Errors").click()
            # The error list is the first table inside the open tab (the threshold-sets
            # table above the tabs is visible too).
            tab = page.get_by_role("tabpanel").filter(visible=True)
            grid = next(g for g in tab.locator("[data-testid=stDataFrame]").all() if g.is_visible())
            box = grid.bounding_box()
            assert box is not None
            page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)  # the first row's selector
            page.get_by_role("heading", name="Case review").wait_for(timeout=WAIT_MS)
            page.get_by_text("Case demo-heldout #").first.wait_for(timeout=WAIT_MS)

            page.get_by_role("link", name="Cohort analysis").click()
            page.wait_for_function(METRICS, timeout=WAIT_MS)
            page.wait_for_timeout(1500)
            assert sens.inner_text() == after  # the what-if thresholds came back with the page
            assert (
                page.get_by_role("button", name=f"Run the model on {PATIENTS} patients").count()
                == 0
            )
        finally:
            browser.close()
    if target := os.environ.get("SAVE_COHORT_SCREENSHOT"):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
