"""Core logic of the aneurysm review app. Never imports Streamlit."""
