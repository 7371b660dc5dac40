"""Streamlit entry point: the landing page of the review app."""

import streamlit as st

st.set_page_config(page_title="Aneurysm review", page_icon="🧠", layout="wide")
st.title("AI findings review")
st.write(
    "Review AI findings on cerebral DSA: upload a patient's eight views, see the cleaned "
    "images, the two-stage model's probabilities against calibrated thresholds, and "
    "Grad-CAM heatmaps on every view."
)
