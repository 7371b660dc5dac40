"""The chest film-review page's core: the study's result and predictor, the viewer's
window/level and figure, the findings table, heatmaps, verdicts and exports.

Nothing here imports Streamlit; the page's panels (``ui/chest/case_*``) call these.
"""
