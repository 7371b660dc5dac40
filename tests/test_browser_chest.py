"""The chest film-review page in a real headless Chromium: open the page from the study's
navigation, pick a threshold set in the sidebar, upload a DICOM film through the file
input, wait for the predicted boxes, agree with one and save the verdict; the verdict is
then read back from the database with its study and box.

The detector is a tiny Faster R-CNN trained here for six epochs on the tiny cohort's
abnormal films (a one-epoch model finds nothing), with a saved threshold set at 0.05 per
class so its weak boxes are shown. Uses Debian's ``/usr/bin/chromium`` through
Playwright, never a downloaded browser; skipped when that binary is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_marks import BROWSER_MARKS, saved_verdicts

from core.models.thresholds import Thresholds
from scripts.app_server import CHROMIUM, CHROMIUM_ARGS, STARTUP_S, serve

WAIT_MS = 240_000
LOW_SET = "browser-low"

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def seeing_bundle(tiny_chest_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A chest detector that puts boxes on the tiny films, with a low threshold set."""
    from core.models.threshold_sets import save_threshold_set
    from core.roots import ALLOWED_ROOTS_ENV
    from core.studies.chest.classes import ALL_LABELS
    from core.studies.chest.train import ChestTrainOptions, train_chest

    opts = ChestTrainOptions(model="frcnn", aug="original", side=64, epochs=6, batch_size=4,
                             seed=1, abnormal_only=True)  # fmt: skip
    bundle = train_chest(tiny_chest_cohort, tmp_path_factory.mktemp("seeing") / "frcnn", opts)
    low = Thresholds(None, dict.fromkeys(ALL_LABELS, 0.05), "browser test: every class at 0.05")
    with pytest.MonkeyPatch.context() as mp:  # module scope: the autouse root is not set yet
        mp.setenv(ALLOWED_ROOTS_ENV, str(tmp_path_factory.getbasetemp()))
        save_threshold_set(bundle, LOW_SET, low, author="browser test")
    return bundle


@pytest.fixture
def server(seeing_bundle: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data = tmp_path / "data"
    env = {"REVIEW_CHEST_BUNDLE": str(seeing_bundle), "REVIEW_DATA_DIR": str(data)}
    with serve(env, tmp_path / "streamlit.log") as url:
        yield url, data


def test_upload_a_dicom_film_see_its_boxes_and_save_a_verdict(
    server: tuple[str, Path], tiny_chest_cohort: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, data = server
    film = sorted(tiny_chest_cohort.glob("*.dicom"))[0]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(url, timeout=STARTUP_S * 1000)
            page.get_by_role("link", name="Film review").click()
            page.get_by_role("heading", name="Film review").wait_for(timeout=WAIT_MS)
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_test_id("stSelectbox").click()
            page.get_by_role("option", name=LOW_SET).click()
            page.wait_for_selector("input[type=file]", state="attached", timeout=WAIT_MS)
            page.set_input_files("input[type=file]", str(film))
            page.get_by_role("heading", name="Reviewer verdicts").wait_for(timeout=WAIT_MS)
            # The film figure is drawn with its boxes (plotly shapes), and the form asks
            # about each kept box.
            page.wait_for_function(
                "[...document.querySelectorAll('.js-plotly-plot')]"
                ".some(p => (p.layout && p.layout.shapes || []).length > 0)",
                timeout=WAIT_MS,
            )
            assert page.locator("[data-testid=stException]").count() == 0
            sidebar.get_by_role("textbox", name="Your name").fill("Dr Browser")  # once per session
            sidebar.get_by_role("textbox", name="Your name").press("Enter")
            form = page.get_by_test_id("stForm")
            form.get_by_text("agree", exact=True).first.click()
            form.get_by_role("button", name="Save verdicts").click()
            page.get_by_text("Saved 1 verdict(s).").wait_for(timeout=WAIT_MS)
            page.screenshot(path=str(tmp_path / "chest_case.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(tmp_path / "failed.png"), full_page=True)
            raise
        finally:
            browser.close()
    saved = saved_verdicts(data)
    assert len(saved) == 1
    row = saved.iloc[0]
    assert (row["study"], row["reviewer"], bool(row["agree"])) == (
        "chest",
        "Dr Browser (not signed in)",
        True,
    )
    assert row["box_x1"] > row["box_x0"] >= 0 and row["box_y1"] > row["box_y0"] >= 0
