"""Preprocessing on the case page: each original with its crop and text boxes, and the
cleaned crop the models saw, in the injection x side x projection grid."""

from __future__ import annotations

from typing import Mapping

import streamlit as st

from core.case import Case, CleanView, SourceInfo
from core.review.drawing import draw_preprocessing, side_by_side
from ui.text import plain
from ui.view_grid import view_cells

__all__ = ["preprocess_panel", "source_caption"]

_THUMB_HEIGHT = 260
_KIND = {"clean": "clean", "margin": "margin cropped", "margin_text": "margin cropped, text masked"}


def source_caption(source: SourceInfo) -> str:
    """File name, format and, for a DICOM run, how its frames became one image."""
    parts = [source.name, source.format.upper()]
    if source.frames > 1:
        parts.append(f"{source.frames} frames → {source.frame_rule or 'one frame'}")
    parts.extend(source.notes)
    return " · ".join(parts)


def preprocess_panel(case: Case, clean: Mapping[str, CleanView]) -> None:
    """Grid of "original (boxes drawn) | cleaned" pictures, one per view."""
    st.caption(
        "Left of each pair: the original with the crop (green) and masked text (amber). "
        "Right: the cleaned crop the models see."
    )
    for view, col in view_cells(clean):
        with col:
            cv, source = clean[view], case.views[view].source
            pair = side_by_side(
                draw_preprocessing(case.views[view].pixels, cv.record), cv.image, _THUMB_HEIGHT
            )
            st.image(
                pair,
                caption=f"{view} · {_KIND.get(cv.record.image_type, cv.record.image_type)}",
                output_format="JPEG",
            )
            st.caption(plain(source_caption(source), 160))
