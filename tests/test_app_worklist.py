"""The PACS worklist page through Streamlit's AppTest, against a real Orthanc.

No configuration: the page says how to write one (admins see where). A search shows
accession, date, modality, description and series count, and no patient identifier unless
``show_patient_identifiers`` is on; then the name and ID are columns, and still nowhere in
the logs. Filters narrow the list (two sources: an XA study and a DX film). A wrong password,
a server that is down and a broken configuration are each one message, and the page goes
on. Picking a row needs a browser (``tests/test_browser_worklist.py``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pacs_fixtures import (
    ACCESSION,
    BIRTH_DATE,
    OTHER_ACCESSION,
    PATIENT_ID,
    PATIENT_NAME,
    endpoint,
)
from streamlit.testing.v1 import AppTest
from test_app_chest_case import active, chest_app
from worklist_fixtures import (  # noqa: F401  (fixtures: orthanc, server)
    CREDENTIAL_ENV,
    OrthancServer,
    orthanc,
    server,
    write_config,
)

from core.auth import ROLE_CLAIM_ENV
from core.pacs.config import Endpoint
from scripts.app_server import free_port

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "pacs_worklist.py")
COLUMNS = ["accession", "study date", "modality", "description", "series"]
IDENTIFIERS = (PATIENT_NAME, PATIENT_NAME.replace("^", " "), PATIENT_ID, BIRTH_DATE, "Mcintyre")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, app_env: Path, tmp_path: Path) -> Path:
    """The app environment plus the endpoint's credentials; the config path is the test's."""
    for name, value in CREDENTIAL_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REVIEW_PACS_CONFIG", str(tmp_path / "pacs.toml"))
    return tmp_path


def page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60).run()


def search(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label == "Search").click()
    return at.run()


def shown_text(at: AppTest) -> str:
    """Everything the page shows as text, tables included."""
    parts = [str(e.value) for kind in ("title", "markdown", "caption", "info", "error",
             "warning", "success", "code") for e in getattr(at, kind)]  # fmt: skip
    parts += [d.value.to_csv() for d in at.dataframe]
    return "\n".join(parts)


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    (found,) = [d.value for d in at.dataframe if column in d.value.columns]
    return found


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_no_configuration_says_how_to_write_one(env: Path) -> None:
    at = page()
    assert_clean(at)
    assert "No PACS is configured" in "\n".join(i.value for i in at.info)
    assert str(env / "pacs.toml") in shown_text(at)  # single user: an admin, shown where
    assert "[[endpoint]]" in at.code[0].value
    assert not [b for b in at.button if b.label == "Search"]


def test_the_page_is_listed_only_with_a_configuration(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signed in (shared mode): no pacs.toml, no PACS page, even for an admin; with one, a
    reviewer has it beside the case pages."""
    from test_app_auth import AUTH, CASE_PAGES, pages, signed_in

    import ui.auth

    monkeypatch.setattr(ui.auth, "_auth_section", lambda: AUTH)
    monkeypatch.setenv(ROLE_CLAIM_ENV, "realm_access.roles")
    assert "pages/pacs_worklist.py" not in pages(signed_in(["admin"]))
    write_config(env, f"http://127.0.0.1:{free_port()}/dicom-web")
    assert pages(signed_in(["reviewer"])) == CASE_PAGES | {"pages/pacs_worklist.py"}


def test_a_broken_configuration_is_one_message(env: Path) -> None:
    (env / "pacs.toml").write_text('[[endpoint]]\nname = "lab"\nurl = "ftp://x"\n')
    at = page()
    assert_clean(at)
    assert "The PACS configuration cannot be used" in at.error[0].value
    assert "http(s) URL" in at.error[0].value


def test_search_shows_the_worklist_without_identifiers(
    env: Path,
    server: OrthancServer,  # noqa: F811  (the fixture imported above)
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_config(env, server.url)
    with caplog.at_level(logging.DEBUG):
        at = search(page())
    assert_clean(at)
    (table,) = [d.value for d in at.dataframe]
    assert list(table.columns) == COLUMNS
    rows = table.set_index("accession")
    assert rows.loc[ACCESSION].tolist() == ["2026-03-12", "XA", "Cerebral angiography", 9]
    assert rows.loc[OTHER_ACCESSION].tolist() == ["2026-03-12", "DX", "Chest PA", 1]
    text = shown_text(at)
    assert not [i for i in IDENTIFIERS if i in text + caplog.text]
    # filters: modality, then a date range with and without the studies
    at.selectbox(key="pacs_modality").set_value("DX")
    at = search(at)
    assert at.dataframe[0].value["accession"].tolist() == [OTHER_ACCESSION]
    at.selectbox(key="pacs_modality").set_value("any")
    at.date_input(key="pacs_dates").set_value((date(2025, 1, 1), date(2025, 12, 31)))
    at = search(at)
    assert not at.dataframe and "No study matches" in at.info[0].value
    at.date_input(key="pacs_dates").set_value((date(2026, 3, 1), date(2026, 3, 31)))
    at.text_input(key="pacs_accession").set_value(ACCESSION)
    at = search(at)
    assert at.dataframe[0].value["accession"].tolist() == [ACCESSION]
    assert_clean(at)


def test_identifiers_are_shown_only_when_turned_on(
    env: Path,
    server: OrthancServer,  # noqa: F811  (the fixture imported above)
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_config(env, server.url, show=True)
    with caplog.at_level(logging.DEBUG):
        at = search(page())
    assert_clean(at)
    table = at.dataframe[0].value.set_index("accession")
    assert list(table.columns) == [*COLUMNS[1:], "patient name", "patient ID"]
    assert table.loc[ACCESSION, "patient name"] == "Mcintyre Rosalind Q"
    assert table.loc[ACCESSION, "patient ID"] == PATIENT_ID
    assert not [i for i in IDENTIFIERS if i in caplog.text]


def test_a_wrong_password_and_a_server_down_are_clear_messages(
    env: Path,
    server: OrthancServer,  # noqa: F811  (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_config(env, server.url)
    monkeypatch.setenv("LAB_PASSWORD", "not-the-password")
    at = search(page())
    assert_clean(at)
    assert "refused the credentials (HTTP 401)" in at.error[0].value
    assert "not-the-password" not in shown_text(at)
    assert not at.dataframe
    write_config(env, f"http://127.0.0.1:{free_port()}/dicom-web")  # nothing listens there
    at = search(at)
    assert_clean(at)
    assert "did not answer while searching for studies" in at.error[0].value
    assert any(b.label == "Search" for b in at.button)  # the page goes on


def test_a_pacs_case_opens_on_the_case_page_and_a_failed_send_says_so(
    env: Path,
    server: OrthancServer,  # noqa: F811  (the fixture imported above)
    tiny_bundle: Path,
) -> None:
    """The hand-over as the worklist writes it; then a send to a PACS that went down: one
    error naming what was stored (nothing), and the page goes on."""
    from core.pacs.query import query
    from core.pacs.review import review_study
    from ui.worklist_session import PACS_OPEN

    ep = endpoint(server, "lab")
    (row,) = query(ep, accession=ACCESSION)
    review = review_study(ep, row.study_uid, tiny_bundle)
    down = Endpoint("lab", f"http://127.0.0.1:{free_port()}/dicom-web")
    at = AppTest.from_file(str(Path(PAGE).parent.parent / "app.py"), default_timeout=120)
    at.session_state["pacs_review"] = replace(review, endpoint=down)
    at.session_state[PACS_OPEN] = "aneurysm"
    at.run()
    assert_clean(at)
    assert at.radio(key="source").value == "PACS study"
    assert f"Case {review.case.case_id}" in [s.value for s in at.subheader]
    (send,) = [b for b in at.button if b.label.startswith("Send results to PACS")]
    assert send.label == f"Send results to PACS ({down.shown})"  # where it came from
    at = send.click().run()
    assert_clean(at)
    (error,) = [e.value for e in at.error if "not stored" in e.value]
    assert "result 1 of 9 was not stored" in error and "did not answer" in error
    assert "Stored before the failure: none." in error
    failed = frame_with(at, "not stored because")
    assert len(failed) == 9 and failed["not stored because"].tolist()[1:] == ["not sent"] * 8
    assert review.files.folder.is_dir()  # still held: a retry needs the source headers
    from core.verdicts import VerdictStore
    from core.verdicts.audit import audit_events

    events = audit_events(VerdictStore.open())  # the same data root as the page's
    sent = events[events["action"] == "send_results"]
    assert len(sent) == 1 and sent["target"].iloc[0] == review.case.content_hash()
    assert '"failed": true' in sent["detail"].iloc[0] and '"stored": 0' in sent["detail"].iloc[0]
    review.close()


def test_a_pacs_film_opens_on_the_film_page_with_its_send_button(
    env: Path,
    server: OrthancServer,  # noqa: F811  (the fixture imported above)
    chest_env: Path,
) -> None:
    """The chest hand-over: the film page takes the retrieved film and offers the send
    button for it."""
    from core.pacs.query import query
    from core.pacs.review import review_study
    from ui.worklist_session import PACS_OPEN

    ep = endpoint(server, "lab")
    (row,) = query(ep, accession=OTHER_ACCESSION)
    review = review_study(ep, row.study_uid, chest_env)
    try:
        at = chest_app(chest_env)  # the film page, its bundle active (SIDEBAR_NOTE)
        at.session_state["pacs_review"] = review
        at.session_state[PACS_OPEN] = "chest"
        at.run()
        assert_clean(at)
        assert at.radio(key="chest_source").value == "PACS study"
        assert f"Film {review.case.case_id}" in [s.value for s in at.subheader]
        labels = [b.label for b in at.button]
        assert f"Send results to PACS ({ep.shown})" in labels
    finally:
        review.close()


def _retrieve_script() -> None:
    """The worklist's retrieval step alone, for the row of ``accession`` (AppTest cannot
    pick a table row; the browser test does)."""
    import streamlit as st

    from core.pacs.config import load_config
    from core.pacs.query import query
    from ui.worklist_review import retrieve_panel

    endpoint = load_config().endpoints["lab"]
    (row,) = query(endpoint, accession=st.session_state["accession"])
    retrieve_panel(endpoint, row, st.session_state["active"])


def test_a_study_too_large_or_unmappable_is_a_clear_message_and_nothing_is_kept(
    env: Path,
    server: OrthancServer,  # noqa: F811  (the fixture imported above)
    tiny_bundle: Path,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.pacs import inventory

    write_config(env, server.url)
    at = AppTest.from_function(_retrieve_script, default_timeout=60)
    at.session_state["active"] = active(tiny_bundle)
    at.session_state["accession"] = ACCESSION
    at.run()
    with monkeypatch.context() as limited:
        limited.setattr(inventory, "MAX_STUDY_INSTANCES", 4)
        at.button(key="pacs_retrieve").click().run()
    assert_clean(at)
    (error,) = [e.value for e in at.error]
    assert "at most 4 images" in error and "Nothing of it is kept" in error
    at.session_state["accession"] = OTHER_ACCESSION  # a chest film reviewed as aneurysm
    at.button(key="pacs_retrieve").click().run()
    assert_clean(at)
    (error,) = [e.value for e in at.error]
    assert "no series of this study maps to a view" in error
    assert "pick another study" in error
    assert not [p for p in (data_dir / "pacs").glob("*") if p.is_dir()]
