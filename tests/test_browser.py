"""The case review page in a real headless Chromium: upload a case through the file input,
wait for results and heatmaps, download the report, and keep a screenshot.

Uses Debian's ``/usr/bin/chromium`` through Playwright and never downloads a browser; the
test is skipped when that binary is missing. ``SAVE_SCREENSHOT=path`` also writes the
screenshot there. The committed ``docs/`` screenshots, taken with the demo bundle rather than
the tiny test models, come from ``scripts/screenshots.py``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_marks import BROWSER_MARKS

from scripts.app_server import CHROMIUM, CHROMIUM_ARGS, STARTUP_S, serve

RESULTS_MS = 240_000

pytestmark = BROWSER_MARKS


@pytest.fixture
def server(tiny_bundle: Path, tmp_path: Path) -> Iterator[str]:
    """``streamlit run app.py`` on a free localhost port with the tiny bundle; always stopped."""
    env = {"REVIEW_BUNDLE": str(tiny_bundle), "REVIEW_DATA_DIR": str(tmp_path / "data")}
    with serve(env, tmp_path / "streamlit.log") as url:
        yield url


def test_upload_case_and_see_results_and_heatmaps(
    server: str, sample_cases: list[Path], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    case_dir = next((c for c in sample_cases if c.name.startswith("positive")), sample_cases[0])
    files = sorted(str(p) for p in case_dir.glob("*.jpg"))
    assert len(files) == 8
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
            page.goto(server, timeout=STARTUP_S * 1000)
            page.wait_for_selector("input[type=file]", state="attached", timeout=RESULTS_MS)
            page.set_input_files("input[type=file]", files)
            page.get_by_text("Timings and export", exact=True).wait_for(timeout=RESULTS_MS)
            page.get_by_text("Aneurysm probability").first.wait_for(timeout=RESULTS_MS)
            # Heatmap grid (8) and plotly charts (stage 1, locations, schematic) are drawn.
            page.wait_for_function(
                "document.querySelectorAll('[data-testid=stImage] img').length >= 8"
                " && document.querySelectorAll('.js-plotly-plot').length >= 3",
                timeout=RESULTS_MS,
            )
            assert page.locator("[data-testid=stException]").count() == 0
            assert page.get_by_text("Results", exact=True).count() == 1
            with page.expect_download(timeout=RESULTS_MS) as download:
                page.get_by_role("button", name="Report (HTML)").click()
            report = Path(download.value.path()).read_text()
            assert (
                report.startswith("<!doctype html>")
                and report.count("data:image/png;base64,") >= 16
            )
            shot = tmp_path / "case_review.png"
            height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
            page.set_viewport_size({"width": 1500, "height": min(int(height) + 40, 6000)})
            page.wait_for_timeout(1500)  # let charts re-layout at the new size
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert shot.stat().st_size > 50_000
    if target := os.environ.get("SAVE_SCREENSHOT"):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
