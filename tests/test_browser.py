"""The case review page in a real headless Chromium: upload a case through the file input,
wait for results and heatmaps, download the report, and keep a screenshot.

Uses Debian's ``/usr/bin/chromium`` through Playwright and never downloads a browser; the
test is skipped when that binary is missing. ``SAVE_SCREENSHOT=path`` also writes the
screenshot there (the committed ``docs/case_review.png`` comes from this test).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_S, RESULTS_MS = 90, 240_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing (make browser installs Debian's chromium; "
        "Playwright never downloads one)",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"streamlit exited with {proc.returncode}:\n{log.read_text()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise RuntimeError(
        f"streamlit did not become healthy in {STARTUP_S} s:\n{log.read_text()[-2000:]}"
    )


@pytest.fixture
def server(tiny_bundle: Path, tmp_path: Path) -> Iterator[str]:
    """``streamlit run app.py`` on a free localhost port with the tiny bundle; always stopped."""
    port = free_port()
    env = dict(
        os.environ,
        REVIEW_BUNDLE=str(tiny_bundle),
        REVIEW_DATA_DIR=str(tmp_path / "data"),
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
    )
    log = tmp_path / "streamlit.log"
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


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
