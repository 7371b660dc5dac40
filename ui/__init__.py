"""Streamlit glue shared by the pages: cached resources, session state and panels.

Everything patient-specific lives in ``st.session_state`` or in caches keyed by the case's
content hash; nothing here keeps a case in a module global.
"""
