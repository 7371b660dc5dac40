"""Streamlit entry point: page setup, navigation, and the sidebar's model bundle panel.

``st.navigation`` is the one page mechanism (it turns off discovery of ``pages/``), so a
page exists only when it is listed here. The cohort page is listed once its file exists.
"""

from pathlib import Path

import streamlit as st

from ui.bundle import bundle_sidebar

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="Aneurysm review", page_icon=":material/neurology:", layout="wide")
st.html(f"<style>{(HERE / 'assets' / 'app.css').read_text()}</style>")

pages = [
    st.Page("pages/case_review.py", title="Case review", icon=":material/radiology:", default=True)
]
if (HERE / "pages" / "cohort.py").is_file():
    pages.append(st.Page("pages/cohort.py", title="Cohort analysis", icon=":material/monitoring:"))
page = st.navigation(pages)
bundle_sidebar()
page.run()
