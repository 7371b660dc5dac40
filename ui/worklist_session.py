"""The session's retrieved PACS study, and handing it to the study's case page.

A retrieved study (:class:`core.pacs.review.PacsReview`) lives in this session's state
only, so no other session can see it. Its files stay on disk while it is held, because a
corrected mapping is rebuilt from them (:func:`core.pacs.review.remap`) and the results
sent back read their source headers; they are removed when the session holds another
study, when the reader closes it, or, at the latest, when the session's state is dropped
(a finalizer on the files, which also runs at interpreter exit).

The hand-over follows the cohort page's: the worklist writes one key (:data:`PACS_OPEN`,
the study name) and switches page; the case page's intake takes it once
(:func:`take_open`), so a later rerun never reopens the PACS case over the reader's own
upload. The case itself is the held review's, so the send button can check, by content
hash, that the open case is the one retrieved (:func:`review_for`).
"""

from __future__ import annotations

import logging
import shutil
import weakref

import streamlit as st

from core.auth import Permission
from core.case import Case
from core.pacs.review import PacsReview
from core.studies import get_study

__all__ = [
    "case_page",
    "CONFIGURES_PACS",
    "PACS_OPEN",
    "WORKLIST_STUDY",
    "hold",
    "held",
    "offered",
    "open_in_case_page",
    "release",
    "review_for",
    "take_open",
]

log = logging.getLogger(__name__)

#: Pending hand-over to a case page: the study name.
PACS_OPEN = "pacs_open"
#: The study the worklist's chosen row goes to; app.py draws that study's bundle panel.
WORKLIST_STUDY = "pacs_study"
_REVIEW = "pacs_review"
#: Who is shown where the endpoint file is and how to write it: those who run the
#: deployment's configuration (admins; the app itself never edits the file).
CONFIGURES_PACS = Permission.CHANGE_BUNDLES


def held() -> PacsReview | None:
    """The session's retrieved study, or None."""
    review = st.session_state.get(_REVIEW)
    return review if isinstance(review, PacsReview) else None


def hold(review: PacsReview) -> None:
    """Make ``review`` the session's study; the previous one's files are removed (unless
    ``review`` is a remap of it and shares them)."""
    old = held()
    if old is None or old.files is not review.files:
        if old is not None:
            old.close()
        # Not review.close: a finalizer must not hold the object it watches.
        weakref.finalize(review.files, shutil.rmtree, str(review.files.folder), True)
    st.session_state[_REVIEW] = review


def release() -> None:
    """Close the session's study (its files are removed) and forget it."""
    old = st.session_state.pop(_REVIEW, None)
    if isinstance(old, PacsReview):
        old.close()
        log.info("a retrieved PACS study was closed")


def case_page(study: str) -> str:
    """The study's case page: the first page it declares (its single-case review)."""
    return get_study(study).pages[0].path


def open_in_case_page(review: PacsReview) -> None:
    """Hand ``review``'s case to its study's case page and go there."""
    study = review.bundle.study
    st.session_state[PACS_OPEN] = study
    st.switch_page(case_page(study))


def take_open(study: str) -> PacsReview | None:
    """The held study, when the worklist has just sent one of ``study`` (taken once)."""
    if st.session_state.get(PACS_OPEN) != study:
        return None
    del st.session_state[PACS_OPEN]
    review = held()
    return review if review is not None and review.bundle.study == study else None


def offered(study: str, source_key: str, label: str) -> bool:
    """Whether a case page of ``study`` offers its PACS source: the session holds a study
    of it, or the page's source choice (``source_key``) is already ``label``, so that a
    study closed meanwhile is said to be closed rather than vanishing from the choice."""
    review = held()
    return (review is not None and review.bundle.study == study) or (
        st.session_state.get(source_key) == label
    )


def review_for(case: Case) -> PacsReview | None:
    """The held study when ``case`` is its case (the same pixels), else None."""
    review = held()
    if review is None:
        return None
    same = review.case is case or review.case.content_hash() == case.content_hash()
    return review if same else None
