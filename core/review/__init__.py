"""UI-free logic behind the case review page: layout, drawing, overlays, figures, exports.

The Streamlit pages call these functions and render what they return; nothing here
imports Streamlit, so every piece is testable as a plain function.
"""
