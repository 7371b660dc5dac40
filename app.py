"""Streamlit entry point: page setup, navigation, and the sidebar's model bundle panel.

``st.navigation`` is the one page mechanism (it turns off discovery of ``pages/``), so a
page exists only when a registered study (:mod:`core.studies`) declares it. Navigation
groups the pages by study; a declared page whose file is missing is left out and logged.
The sidebar shows the bundle panel of the open page's study: each study has its own bundle.

Sign-in comes first (:func:`ui.auth.gate`): before it, nothing but a sign-in screen runs.
Navigation is then built for the user's role, so a page the role may not open is not in it
and cannot be reached by its URL either (Streamlit serves only the pages listed here; the
one run it serves without this script, a fresh server's first, meets each page's own
:func:`ui.auth.page_guard`).

The PACS worklist belongs to no study: it has its own section, listed only when a PACS
endpoint file exists (:func:`core.pacs.config.config_path`), so a deployment without a
PACS shows no page that cannot work (how to configure one is in the README, and on the
page itself should the file go away). Its sidebar shows the bundle panel of the study
the picked study goes to.
"""

import logging
from pathlib import Path

import streamlit as st

from core.auth import page_permission
from core.memory import pin_mmap_threshold
from core.pacs.config import config_path
from core.studies import list_studies
from ui.audit import audit_export_button
from ui.auth import gate
from ui.bundle import bundle_sidebar
from ui.worklist_session import WORKLIST_STUDY

HERE = Path(__file__).resolve().parent
PACS_PAGE = "pages/pacs_worklist.py"
log = logging.getLogger("app")

pin_mmap_threshold()  # before models and cases are allocated: see core.memory
st.set_page_config(page_title="Imaging AI review", page_icon=":material/neurology:", layout="wide")
st.html(f"<style>{(HERE / 'assets' / 'app.css').read_text()}</style>")
who = gate()  # stops this run with a sign-in or refusal screen unless someone may go on

sections: dict[str, list] = {}
study_of: dict[str, str] = {}  # page URL path -> study name
has_default = False  # the first declared default this role may open, whatever the study order
for study in list_studies():
    for p in study.pages:
        if not (HERE / p.path).is_file():
            log.warning("study %s declares page %s, which does not exist", study.name, p.path)
            continue
        if not who.can(page_permission(p.path)):
            continue
        default = p.default and not has_default
        has_default |= default
        page = st.Page(p.path, title=p.title, icon=p.icon, default=default)
        sections.setdefault(study.title, []).append(page)
        study_of[page.url_path] = study.name
if who.can(page_permission(PACS_PAGE)) and config_path().is_file():
    pacs = st.Page(PACS_PAGE, title="PACS worklist", icon=":material/dns:")
    sections["PACS"] = [pacs]
    study_of[pacs.url_path] = str(st.session_state.get(WORKLIST_STUDY, "aneurysm"))
page = st.navigation(sections)
bundle_sidebar(study_of.get(page.url_path, "aneurysm"))
audit_export_button()
page.run()
