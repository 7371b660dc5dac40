"""Preprocessing on the case page: each original with its crop and text boxes, and the
cleaned crop the models saw, in the injection x side x projection grid.

The pictures are drawn at thumbnail size and kept as JPEG bytes per case and records
(process-wide, bounded, keyed by the case's content hash, so a session only hits what it
could have drawn itself): redrawing eight full-resolution views cost ~150 ms of each
rerun. The case page draws the panel only while its expander is open (drawing the
thumbnails of a new case still costs ~40 ms)."""

from __future__ import annotations

from typing import Mapping

import streamlit as st

from core.case import Case, CleanView, PreprocessRecord, SourceInfo
from core.review.drawing import draw_preprocessing, side_by_side
from core.review.overlay import encode_jpeg
from ui.text import plain
from ui.view_grid import view_cells

__all__ = ["preprocess_panel", "source_caption", "framing_caption"]

_THUMB_HEIGHT = 260
#: Cases whose panel pictures are kept (8 JPEGs of ~30 kB each).
PANEL_CASES = 8
_KIND = {"clean": "clean", "margin": "margin cropped", "margin_text": "margin cropped, text masked"}


def framing_caption(record: PreprocessRecord) -> str:
    """What framed the field, e.g. "circular field in a white surround" or "no surround"."""
    if record.surround == "none":
        return "no surround"
    return f"{record.field_shape} field in a {record.surround} surround"


def source_caption(source: SourceInfo) -> str:
    """File name, format and, for a DICOM run, how its frames became one image."""
    parts = [source.name, source.format.upper()]
    if source.frames > 1:
        parts.append(f"{source.frames} frames → {source.frame_rule or 'one frame'}")
    parts.extend(source.notes)
    return " · ".join(parts)


@st.cache_resource(max_entries=PANEL_CASES, show_spinner=False)
def _pairs(
    _case: Case, _clean: Mapping[str, CleanView], content_hash: str, records: str
) -> dict[str, bytes]:
    return {
        view: encode_jpeg(side_by_side(
            draw_preprocessing(_case.views[view].pixels, cv.record, _THUMB_HEIGHT),
            cv.image, _THUMB_HEIGHT,
        ))
        for view, cv in _clean.items()
    }  # fmt: skip


def preprocess_panel(case: Case, clean: Mapping[str, CleanView], content_hash: str) -> None:
    """Grid of "original (boxes drawn) | cleaned" pictures, one per view
    (``content_hash``: the case's, which the page has already computed)."""
    records = repr(sorted((v, cv.record) for v, cv in clean.items()))
    pairs = _pairs(case, clean, content_hash, records)
    st.caption(
        "Left of each pair: the original with the crop (green) and masked text (amber). "
        "Right: the cleaned crop the models see. Each caption says what framed the field "
        "(surround and field shape) as preprocessing found it."
    )
    for view, col in view_cells(clean):
        with col:
            cv, source = clean[view], case.views[view].source
            st.image(
                pairs[view],
                caption=f"{view} · {_KIND.get(cv.record.image_type, cv.record.image_type)}"
                f" · {framing_caption(cv.record)}",
            )
            st.caption(plain(source_caption(source), 160))
