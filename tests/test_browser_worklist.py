"""The PACS worklist in a real headless Chromium, against a real Orthanc: search, pick the DSA
study, retrieve it and see its mapping, correct it, open it in case review, see results,
send them back.

The app is served as ``make run`` serves it (:mod:`scripts.app_server`), with
``REVIEW_PACS_CONFIG`` naming a temporary ``pacs.toml`` and the tiny bundle. Identifiers:
the page's visible text at every step and the server's log hold no patient name or ID (the
setting is off), and the SR the button stored is found in the study on the PACS. The
retrieved files stay under the data root while the study is open and go when it is closed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_marks import BROWSER_MARKS
from pacs_fixtures import ACCESSION, BIRTH_DATE, PATIENT_ID, PATIENT_NAME, endpoint
from worklist_fixtures import (  # noqa: F401  (fixtures: orthanc, server)
    CREDENTIAL_ENV,
    OrthancServer,
    orthanc,
    server,
    write_config,
)

from core.pacs.client import make_client
from scripts.app_server import CHROMIUM, CHROMIUM_ARGS, STARTUP_S, serve

pytestmark = BROWSER_MARKS
WAIT_MS = 120_000
IDENTIFIERS = (PATIENT_NAME, PATIENT_NAME.replace("^", " "), PATIENT_ID, BIRTH_DATE, "Mcintyre")
SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.33"


@pytest.fixture
def app(
    server: OrthancServer,  # noqa: F811  (the fixture imported above)
    tiny_bundle: Path,
    tmp_path: Path,
) -> Iterator[str]:
    config = write_config(tmp_path, server.url)
    env = {"REVIEW_BUNDLE": str(tiny_bundle), "REVIEW_DATA_DIR": str(tmp_path / "data"),
           "REVIEW_PACS_CONFIG": str(config), **CREDENTIAL_ENV}  # fmt: skip
    with serve(env, tmp_path / "streamlit.log") as url:
        yield url


def _clean(text: str) -> None:
    assert not [i for i in IDENTIFIERS if i in text]


def test_pick_map_open_and_send(
    app: str,
    server: OrthancServer,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    seen: list[str] = []

    def held_folders() -> list[Path]:
        return [p for p in (tmp_path / "data" / "pacs").glob("*") if p.is_dir()]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(app, timeout=STARTUP_S * 1000)
            page.get_by_role("heading", name="Case review").wait_for(timeout=WAIT_MS)
            page.get_by_role("link", name="PACS worklist", exact=True).click()
            page.get_by_label("Accession number").fill(ACCESSION)
            page.get_by_role("button", name="Search").click()
            page.get_by_text("1 studies, newest first").wait_for(timeout=WAIT_MS)
            seen.append(page.inner_text("body"))
            grid = page.locator("[data-testid=stDataFrame]").first
            box = grid.bounding_box()
            assert box is not None
            page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)  # the first row's selector
            page.get_by_text("reviewed as Cerebral aneurysm").wait_for(timeout=WAIT_MS)
            page.get_by_role("button", name="Retrieve and map this study").click()
            page.get_by_text("8 views mapped").wait_for(timeout=WAIT_MS)
            page.get_by_role("heading", name="Series and views").wait_for(timeout=WAIT_MS)
            tables = page.locator("[data-testid=stTable]")
            expect(tables).to_have_count(1, timeout=WAIT_MS)  # a rerun's stale copy is gone
            mapping = tables.inner_text()
            assert len(re.findall(r"series \d image 1", mapping)) == 9, mapping
            assert "not used" in mapping and "positioner angle +45 deg is oblique" in mapping
            for view in ("LI-A", "LI-B", "LV-A", "LV-B", "RI-A", "RI-B", "RV-A", "RV-B"):
                assert view in mapping
            # a correction: series 1 left out, mapped again from the files on disk
            page.get_by_text("Correct the mapping").click()
            page.get_by_role("combobox", name="series 1 image 1").click()
            page.keyboard.type("leave")  # the list is filtered as one types
            # Click only once the filtered list has settled to the one choice: on a slow
            # machine a click into the still-unfiltered list can pick another view.
            expect(page.get_by_role("option")).to_have_count(1, timeout=WAIT_MS)
            page.get_by_role("option", name="leave out").click()
            page.get_by_role("button", name="Apply the corrections").click()
            page.get_by_text("7 of 8 views; missing: LI-A.").wait_for(timeout=WAIT_MS)
            expect(tables).to_have_count(1, timeout=WAIT_MS)
            expect(tables).to_contain_text("left out by the reader", timeout=WAIT_MS)
            seen.append(page.inner_text("body"))
            assert page.locator("[data-testid=stException]").count() == 0

            page.get_by_role("button", name="Open in case review").click()
            page.get_by_role("heading", name="Case review").wait_for(timeout=WAIT_MS)
            page.get_by_text("Case pacs-").first.wait_for(timeout=WAIT_MS)
            page.get_by_text("Aneurysm probability").first.wait_for(timeout=WAIT_MS)
            send = page.get_by_role("button", name="Send results to PACS (lab (127.0.0.1")
            send.wait_for(timeout=WAIT_MS)
            seen.append(page.inner_text("body"))
            send.click()
            page.get_by_text("and 7 heatmap capture(s)").wait_for(timeout=WAIT_MS)
            page.get_by_text("The SR read back from the PACS matches").wait_for(timeout=WAIT_MS)
            seen.append(page.inner_text("body"))
            assert page.locator("[data-testid=stException]").count() == 0
            assert len(held_folders()) == 1  # the retrieved study, while it is open

            page.get_by_role("link", name="PACS worklist", exact=True).click()
            page.get_by_text("1 studies, newest first").wait_for(timeout=WAIT_MS)
            grid = page.locator("[data-testid=stDataFrame]").first
            box = grid.bounding_box()
            assert box is not None
            page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)
            page.get_by_role("button", name="Close this study").click()
            page.get_by_role("button", name="Retrieve and map this study").wait_for(timeout=WAIT_MS)
            assert held_folders() == []
        finally:
            browser.close()
    _clean("\n".join(seen) + (tmp_path / "streamlit.log").read_text())
    ep = endpoint(server, "lab")
    client = make_client(ep)
    (study,) = client.search_for_studies(search_filters={"AccessionNumber": ACCESSION})
    uid = study["0020000D"]["Value"][0]
    classes = [i["00080016"]["Value"][0] for i in client.search_for_instances(uid)]
    assert classes.count(SR_CLASS) == 1  # the one click stored one SR in the source study
