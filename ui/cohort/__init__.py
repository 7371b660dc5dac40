"""Streamlit glue of the cohort page (``pages/cohort.py``): picking the cohort, threshold
controls, panels, error lists and the reviewer comparison. Logic lives in ``core.cohort``."""
