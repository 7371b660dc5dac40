"""Saving a cohort page's what-if thresholds as a named set beside the bundle, for both
studies' cohort pages: one form, one audit record, the same messages.

``prefix`` keeps each page's widgets and its "sliders were loaded from" record apart
(``wi`` on the aneurysm page, ``cc`` on the chest page): after a save, ``<prefix>_base``
holds the saved set, so the page's sliders know they now match a stored set.

The author is the session's principal (:mod:`ui.auth`), never a text box, and a save is
refused unless the role may save threshold sets (defence in depth: analysts and admins).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.auth import Permission
from core.cohort.cache import bundle_id
from core.models.threshold_sets import THRESHOLD_DIR, load_threshold_set, save_threshold_set
from core.models.thresholds import Thresholds, ThresholdsError
from core.verdicts import AuditAction, TargetKind
from ui.audit import audit
from ui.auth import acting_name
from ui.text import code, plain

__all__ = ["save_form"]


def save_form(bundle_dir: Path, thresholds: Thresholds, prefix: str, example: str) -> None:
    """Save ``thresholds`` under a typed name, by this session's user (never into
    bundle.json)."""
    with st.form(f"{prefix}_save", clear_on_submit=False):
        cols = st.columns([3, 1])
        name = cols[0].text_input("Name", key=f"{prefix}_save_name", placeholder=f"e.g. {example}")
        overwrite = cols[1].checkbox("Replace if it exists", key=f"{prefix}_save_overwrite")
        st.caption(
            f"Current rule: {plain(thresholds.rule)}. Saved to {code(bundle_dir / THRESHOLD_DIR)}; "
            "the bundle's own thresholds in bundle.json are never changed."
        )
        if not st.form_submit_button("Save threshold set"):
            return
    author = acting_name(Permission.SAVE_THRESHOLD_SETS, "author")
    if author is None:
        return
    try:
        path = save_threshold_set(bundle_dir, name, thresholds, author=author, overwrite=overwrite)
    except ThresholdsError as err:
        st.error(plain(err))
        return
    saved = load_threshold_set(bundle_dir, path.stem)
    audit(
        AuditAction.SAVE_THRESHOLD_SET,
        TargetKind.THRESHOLD_SET,
        path.stem,
        {"bundle": bundle_id(bundle_dir)},
    )
    st.session_state[f"{prefix}_base"] = saved.to_dict()
    st.success(
        f"Saved threshold set **{plain(path.stem)}** by {plain(saved.author)} at "
        f"{plain(saved.created)} ({code(path)})."
    )
