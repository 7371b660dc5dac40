"""A picked worklist study: which study type reviews it, retrieval, the mapping and its
correction, and the hand-over to the case page.

The study type follows from the modality, as each registered study's PACS hooks declare
it (``Study.pacs.modalities``: XA/XRF/RF aneurysm, CR/DX chest); when the study holds
images of several study types, or of none, the reader picks. Retrieval is one call of
:func:`core.pacs.review.review_study` (metadata checked against the limits before any
download, WADO-RS to a private folder under the data root, mapping, the bundle's run)
inside a status box, and only on the reader's click. The mapping is shown with the reason
for every image; a correction reruns :func:`core.pacs.review.remap` on the files already
retrieved (nothing is downloaded again).
"""

from __future__ import annotations

import logging
import re

import pandas as pd
import streamlit as st

from core.models.bundle import BundleError
from core.pacs.config import Endpoint
from core.pacs.errors import PacsError
from core.pacs.query import StudyRow
from core.pacs.review import PacsReview, remap, review_study
from core.roots import PathOutsideRoots
from core.studies import get_study, list_studies
from ui.bundle import ActiveBundle
from ui.text import plain
from ui.worklist_errors import show_pacs_error
from ui.worklist_session import WORKLIST_STUDY, held, hold, open_in_case_page, release

__all__ = ["mapping_panel", "open_panel", "retrieve_panel", "study_choice"]

log = logging.getLogger(__name__)

_AS_MAPPED, _LEAVE_OUT = "as mapped", "leave out"
_MIB = 2**20


def study_choice(row: StudyRow) -> str:
    """The study type that reviews ``row``; the sidebar's bundle panel follows it (one
    rerun when it changes, so the panel shown is the bundle that will run)."""
    readers = {s.name: s.pacs.modalities for s in list_studies() if s.pacs is not None}
    found = sorted(name for name, mods in readers.items() if set(mods) & set(row.modalities))
    if len(found) == 1:
        study = found[0]
        st.caption(
            f"Modality {plain(', '.join(row.modalities))}: reviewed as "
            f"{plain(get_study(study).title)}."
        )
    else:
        why = "holds several kinds of images" if found else "has no modality this app knows"
        st.warning(f"This study {why}; choose how to review it.")
        study = st.radio(
            "Review as",
            found or sorted(readers),
            format_func=lambda s: get_study(s).title,
            horizontal=True,
            key=f"pacs_review_as::{row.study_uid}",
        )
    if st.session_state.get(WORKLIST_STUDY) != study:
        st.session_state[WORKLIST_STUDY] = study
        st.rerun()
    return study


def retrieve_panel(endpoint: Endpoint, row: StudyRow, active: ActiveBundle) -> PacsReview | None:
    """The session's retrieved study when it is ``row``; else a button that retrieves it."""
    review = held()
    if (
        review is not None
        and (review.endpoint.name, review.study_uid) == (endpoint.name, row.study_uid)
        and review.bundle.study == active.study
    ):
        return review
    st.caption(f"Runs with the bundle {plain(active.identity.name, 120)} (sidebar).")
    if not st.button("Retrieve and map this study", type="primary", key="pacs_retrieve"):
        return None
    release()  # one retrieved study per session: the previous one's files go now
    with st.status("Retrieving the study…", expanded=True) as status:
        status.write(
            "Checking its size from the metadata, downloading its images (WADO-RS), mapping "
            "the series to views and running the models."
        )
        bar = st.progress(0.0, text="Downloading the images…")

        def downloaded(done: int, total: int) -> None:
            bar.progress(done / max(1, total), text=f"Downloaded {done} of {total} images")

        try:
            review = review_study(endpoint, row.study_uid, active.bundle.path, progress=downloaded)
        except PacsError as err:
            status.update(label="The study could not be retrieved", state="error")
            show_pacs_error(err)
            return None
        except (BundleError, PathOutsideRoots, OSError, ValueError, RuntimeError) as err:
            log.warning("PACS review failed: %s", type(err).__name__)
            status.update(label="The study could not be reviewed", state="error")
            st.error(f"The study could not be reviewed: {plain(err, 300)}")
            return None
        status.update(
            label=f"Retrieved {len(review.files.files)} images "
            f"({review.files.received_bytes / _MIB:.1f} MiB); "
            f"{len(review.mapping.views)} views mapped",
            state="complete",
            expanded=False,
        )
    hold(review)
    return review


def _mapping_frame(review: PacsReview) -> pd.DataFrame:
    shown = review.mapping.to_dict()
    rows = [
        {"view": view, "image": a["image"], "why": a["reason"]}
        for view, a in shown["views"].items()  # type: ignore[union-attr]
    ]
    rows += [{"view": "not used", "image": u["image"], "why": u["reason"]}
             for u in shown["unmapped"]]  # type: ignore[union-attr]  # fmt: skip
    return pd.DataFrame(rows, columns=["view", "image", "why"])


def _natural(label: str) -> list[object]:
    """``series 2`` before ``series 10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", label)]


def _series(review: PacsReview) -> dict[str, str]:
    """Series UID -> the image (or run) that stands for it, for the correction boxes."""
    shown = review.mapping.to_dict()
    items = [*shown["views"].values(), *shown["unmapped"]]  # type: ignore[union-attr]
    out: dict[str, str] = {}
    for item in items:
        if item["series_uid"]:  # an image skipped before mapping has none: nothing to choose
            out.setdefault(item["series_uid"], item["image"])
    return dict(sorted(out.items(), key=lambda kv: _natural(kv[1])))


def mapping_panel(review: PacsReview) -> PacsReview:
    """The mapping (view, image, why) and a form to correct it; the corrected review."""
    study = get_study(review.bundle.study)
    st.subheader("Series and views")
    st.table(_mapping_frame(review).set_index("view"))  # small, and its reasons wrap
    case = review.case
    if case.missing_views:
        st.warning(f"{len(case.views)} of {len(case.expected_views)} views; missing: "
                   f"{', '.join(case.missing_views)}.")  # fmt: skip
    for problem in case.problems:
        if problem.kind != "missing":
            st.warning(plain(problem.message, 300))
    with st.expander("Correct the mapping"), st.form("pacs_remap", border=False):
        st.caption("Choose the view of a series, or leave it out. Nothing is downloaded again.")
        choices = [_AS_MAPPED, *study.schema.views, _LEAVE_OUT]
        picked = {
            uid: st.selectbox(label, choices, key=f"pacs_view::{review.study_uid}::{uid}")
            for uid, label in _series(review).items()
        }
        apply = st.form_submit_button("Apply the corrections")
    if not apply:
        return review
    overrides = {uid: "" if v == _LEAVE_OUT else v for uid, v in picked.items() if v != _AS_MAPPED}
    try:
        with st.spinner("Mapping again and running the models…"):
            corrected = remap(review, overrides)
    except PacsError as err:
        show_pacs_error(err)
        return review
    except (ValueError, RuntimeError) as err:
        st.error(f"The corrected study could not be run: {plain(err, 300)}")
        return review
    hold(corrected)
    st.rerun()  # draw the table of the corrected mapping
    return corrected


def open_panel(review: PacsReview) -> None:
    """Open the case on its study's case page, or close the study (its files go)."""
    left, right = st.columns([1, 3])
    if left.button("Open in case review", type="primary", key="pacs_open_case"):
        open_in_case_page(review)
    if right.button("Close this study", key="pacs_close"):
        release()
        st.rerun()
