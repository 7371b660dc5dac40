"""Write the README's screenshots from the running app with the demo bundle.

``docs/case_review.png``: a positive sample case uploaded through the file input, with its
results and heatmaps. ``docs/cohort.png``: the cohort page on the demo held-out cohort
(the batch runs once if it is not cached yet). ``docs/chest_cohort.png`` and
``docs/chest_errors.png``: the chest detection-errors page on the chest demo's held-out
cohort (its batch also runs once), its headline and per-class table, then its error
gallery; ``docs/chest_case.png``: the gallery's first false positive opened on the film
page, with the fused truth and the Faster R-CNN member's EigenCAM on. Needs ``make demo`` first and Debian's
chromium; drives the app exactly as a person would, through ``streamlit run``.

    .venv/bin/python scripts/screenshots.py [--data data] [--study aneurysm|chest|all]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.app_server import CHROMIUM, CHROMIUM_ARGS, ROOT, STARTUP_S, serve  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Page

log = logging.getLogger("screenshots")
WAIT_MS = 600_000
WIDTH = 1500
MAX_HEIGHT = 7000


def _full_page(page: Page, out: Path) -> None:
    """Shoot the whole page: the app scrolls inside a container, so open the viewport tall,
    let plotly re-layout, then clip to where the content ends."""
    page.set_viewport_size({"width": WIDTH, "height": MAX_HEIGHT})
    page.wait_for_timeout(2500)
    bottom = page.evaluate(
        "document.querySelector('[data-testid=stMainBlockContainer]')"
        ".getBoundingClientRect().bottom"
    )
    height = min(int(bottom) + 24, MAX_HEIGHT)
    page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": WIDTH, "height": height})
    log.info("wrote %s (%d px tall)", out, height)


def _chest(page: Page, out: Path) -> None:
    """The chest pages: the cohort's headline and classes, its error gallery, then one
    false positive opened on the film page with the fused truth and EigenCAM shown."""
    page.get_by_role("link", name="Detection errors").click()
    page.get_by_role("heading", name="Detection errors").wait_for(timeout=WAIT_MS)
    run = page.get_by_role("button", name="Run the bundle on")
    run.or_(page.locator("[data-testid=stMetric]").first).first.wait_for(timeout=WAIT_MS)
    if run.count():
        log.info("running the chest cohort batch once (cached afterwards)")
        run.click()
        run.wait_for(state="detached", timeout=WAIT_MS)  # the page reran with the results
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=stMetric]').length >= 3", timeout=WAIT_MS
    )
    page.get_by_test_id("stDataFrame").first.wait_for(timeout=WAIT_MS)
    _full_page(page, out / "chest_cohort.png")
    page.set_viewport_size({"width": WIDTH, "height": 1100})
    page.get_by_role("tab", name="Errors").click()
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=stImage] img').length >= 4", timeout=WAIT_MS
    )
    _full_page(page, out / "chest_errors.png")
    page.set_viewport_size({"width": WIDTH, "height": 1100})
    # By its button test id: a role-name match also finds the selectboxes' "open" toggles.
    page.locator("[data-testid=stButton] button", has_text="Open").first.click()
    page.get_by_role("heading", name="Film review").wait_for(timeout=WAIT_MS)
    page.get_by_role("heading", name="Findings").wait_for(timeout=WAIT_MS)
    try:
        page.get_by_text("Fused truth").click(timeout=60_000)
        page.wait_for_timeout(2000)
        page.get_by_test_id("stMain").get_by_test_id("stSelectbox").filter(
            has_text="Heatmap"
        ).click(timeout=60_000)
        page.get_by_role("option", name="EigenCAM").click(timeout=60_000)
        page.wait_for_timeout(3000)
        page.get_by_test_id("stMain").get_by_test_id("stSelectbox").filter(
            has_text="Detector member"
        ).click(timeout=60_000)
        page.get_by_role("option", name="detector_frcnn").click(timeout=60_000)
        page.wait_for_timeout(15000)  # EigenCAM is computed once, then drawn
    finally:
        _full_page(page, out / "chest_case.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--case", default="positive_multi_R_ICA_L_ACOM_BA")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--study", choices=("aneurysm", "chest", "all"), default="all")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from playwright.sync_api import sync_playwright

    files = sorted(str(p) for p in (ROOT / "assets" / "samples" / args.case).glob("*.jpg"))
    env = {"REVIEW_DATA_DIR": str(args.data.resolve())}
    with tempfile.TemporaryDirectory() as tmp, serve(env, Path(tmp) / "app.log") as url:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": WIDTH, "height": 1100})
            page.goto(url, timeout=STARTUP_S * 1000)
            if args.study in ("chest", "all"):
                _chest(page, args.out)
                page.set_viewport_size({"width": WIDTH, "height": 1100})
                page.get_by_role("link", name="Case review").click()
            if args.study == "chest":
                browser.close()
                return 0
            page.wait_for_selector("input[type=file]", state="attached", timeout=WAIT_MS)
            page.set_input_files("input[type=file]", files)
            page.wait_for_function(
                "document.querySelectorAll('[data-testid=stImage] img').length >= 8"
                " && document.querySelectorAll('.js-plotly-plot').length >= 3",
                timeout=WAIT_MS,
            )
            _full_page(page, args.out / "case_review.png")

            page.set_viewport_size({"width": WIDTH, "height": 1100})
            page.get_by_role("link", name="Cohort analysis").click()
            # The case page's metrics linger until the cohort page replaces them: wait for
            # the new page's title before looking for its button or metrics.
            page.get_by_role("heading", name="Cohort analysis").wait_for(timeout=WAIT_MS)
            run = page.get_by_role("button", name="Run the model on")
            run.or_(page.locator("[data-testid=stMetric]").first).first.wait_for(timeout=WAIT_MS)
            if run.count():
                log.info("running the cohort batch once (cached afterwards)")
                run.click()
            page.wait_for_function(
                "document.querySelectorAll('[data-testid=stMetric]').length >= 6", timeout=WAIT_MS
            )
            _full_page(page, args.out / "cohort.png")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
