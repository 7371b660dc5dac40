"""Streamlit panels of the chest X-ray study's pages (film review, detection errors)."""
