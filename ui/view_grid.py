"""The eight views laid out injection (rows) x side x projection (columns) in Streamlit.

Both the preprocessing panel and the heatmap grid show one picture per view in the same
anatomical layout; this draws the headers and marks missing views so they only draw cells.
"""

from __future__ import annotations

from collections.abc import Container, Iterator

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.review.layout import GRID_COLUMNS, GRID_ROWS, column_label, view_grid

__all__ = ["view_cells"]


def view_cells(present: Container[str]) -> Iterator[tuple[str, DeltaGenerator]]:
    """Each present view with the column to draw it in; absent views are marked missing."""
    header = st.columns(len(GRID_COLUMNS))
    for col, (side, proj) in zip(header, GRID_COLUMNS):
        col.markdown(f"**{column_label(side, proj)}**")
    for (_, label), row in zip(GRID_ROWS, view_grid()):
        st.caption(label)
        for col, view in zip(st.columns(len(row)), row):
            if view in present:
                yield view, col
            else:
                col.markdown(f"`{view}` — *missing*")
