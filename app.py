"""Streamlit entry point: page setup, navigation, and the sidebar's model bundle panel.

``st.navigation`` is the one page mechanism (it turns off discovery of ``pages/``), so a
page exists only when a registered study (:mod:`core.studies`) declares it. Navigation
groups the pages by study; a declared page whose file is missing is left out and logged.
The sidebar shows the bundle panel of the open page's study: each study has its own bundle.
"""

import logging
from pathlib import Path

import streamlit as st

from core.studies import list_studies
from ui.bundle import bundle_sidebar

HERE = Path(__file__).resolve().parent
log = logging.getLogger("app")

st.set_page_config(page_title="Imaging AI review", page_icon=":material/neurology:", layout="wide")
st.html(f"<style>{(HERE / 'assets' / 'app.css').read_text()}</style>")

sections: dict[str, list] = {}
study_of: dict[str, str] = {}  # page URL path -> study name
for study in list_studies():
    for p in study.pages:
        if not (HERE / p.path).is_file():
            log.warning("study %s declares page %s, which does not exist", study.name, p.path)
            continue
        page = st.Page(p.path, title=p.title, icon=p.icon, default=p.default and not sections)
        sections.setdefault(study.title, []).append(page)
        study_of[page.url_path] = study.name
page = st.navigation(sections)
bundle_sidebar(study_of.get(page.url_path, "aneurysm"))
page.run()
