"""Streamlit entry point: page setup, navigation, and the sidebar's model bundle panel.

``st.navigation`` is the one page mechanism (it turns off discovery of ``pages/``), so a
page exists only when a registered study (:mod:`core.studies`) declares it. Navigation
groups the pages by study; a declared page whose file is missing is left out and logged.
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
for study in list_studies():
    for p in study.pages:
        if not (HERE / p.path).is_file():
            log.warning("study %s declares page %s, which does not exist", study.name, p.path)
            continue
        page = st.Page(p.path, title=p.title, icon=p.icon, default=p.default and not sections)
        sections.setdefault(study.title, []).append(page)
page = st.navigation(sections)
bundle_sidebar()
page.run()
