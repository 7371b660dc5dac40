"""Verdicts on the film page: agree, disagree or relabel each flagged box, add a missed
finding (a box drawn on the figure or typed), comment; then the stored ones.

One form UUID per submission keys every verdict of it (a retry stores nothing twice);
a failed save keeps the form as it was and says "Not saved: reason". The reviewer is the
session's principal and a save is audited (:func:`ui.verdict_panel.save_verdicts`).
"""

from __future__ import annotations

import uuid

import streamlit as st

from core.findings import Finding
from core.review.reviewed import ReviewedCase
from core.review.verdicts import finding_key
from core.studies.chest.classes import CLASSES
from core.studies.chest.review.verdicts import (
    ACTIONS,
    BoxAnswer,
    build_chest_verdicts,
    drawn_finding,
)
from ui.chest.case_viewer import SELECTED_BOX
from ui.verdict_panel import save_verdicts

__all__ = ["verdict_form", "COORDS"]

_FORM_ID = "chest_verdict_form_id"
_PREFILLED = "chest_prefilled_box"
#: Keys of the drawn box's four inputs (original pixels).
COORDS = ("chest_add_x0", "chest_add_y0", "chest_add_x1", "chest_add_y1")


def _prefill() -> None:
    """A new box-select on the figure fills the four inputs (once per selection)."""
    sel = st.session_state.get(SELECTED_BOX)
    if sel is not None and st.session_state.get(_PREFILLED) != sel:
        for key, value in zip(COORDS, sel):
            st.session_state[key] = float(value)
        st.session_state[_PREFILLED] = sel


def _question(f: Finding) -> str:
    """How the form names a flagged finding: its class, where its box is (whole pixels,
    as the figure's axes read) and what the model said."""
    where = "" if f.box is None else " · box ({:.0f}, {:.0f})–({:.0f}, {:.0f})".format(*f.box)
    return f"{f.label}{where}: score {f.score:.3f} (threshold {f.threshold:.3f})"


def _answers(reviewed: ReviewedCase) -> list[tuple[str, str, bool]]:
    """``(key, question, has a box)`` of every flagged finding."""
    return [
        (finding_key(f), _question(f), f.box is not None)
        for f in reviewed.result.findings
        if f.decision
    ]


def verdict_form(reviewed: ReviewedCase, size: tuple[int, int]) -> None:
    """The form and its save."""
    form_id = st.session_state.setdefault(_FORM_ID, str(uuid.uuid4()))
    _prefill()
    questions = _answers(reviewed)
    with st.form("chest_verdict_form", border=True):
        st.caption("Answer the boxes you checked; unanswered ones are not recorded.")
        for key, text, boxed in questions:
            left, right = st.columns([2, 1])
            # "No finding" has no box to give another class: agree or disagree only.
            actions = ACTIONS if boxed else tuple(a for a in ACTIONS if a != "relabel")
            left.radio(text, actions, index=None, horizontal=True, key=f"chest_verdict::{key}")
            if boxed:
                right.selectbox("relabel as", CLASSES, index=None, key=f"chest_relabel::{key}")
        st.markdown("**A finding the model missed** (box in original pixels)")
        cols = st.columns(5)
        add_class = cols[0].selectbox("class", CLASSES, index=None, key="chest_add_class")
        coords = [
            c.number_input(k[-2:], min_value=0.0, value=None, key=k)
            for c, k in zip(cols[1:], COORDS)
        ]
        comment = st.text_area(
            "Comment (optional)", key="chest_verdict_comment", max_chars=2000, height=68
        )
        submitted = st.form_submit_button("Save verdicts", type="primary")
    if submitted:
        _save(reviewed, size, questions, add_class, coords, comment, form_id)


def _save(
    reviewed: ReviewedCase,
    size: tuple[int, int],
    questions: list[tuple[str, str, bool]],
    add_class: str | None,
    coords: list,
    comment: str,
    form_id: str,
) -> None:
    answers = []
    for key, _, _ in questions:
        action = st.session_state.get(f"chest_verdict::{key}")
        if action is not None:
            answers.append(BoxAnswer(key, action, st.session_state.get(f"chest_relabel::{key}")))
    try:
        drawn = drawn_finding(add_class, coords, size)
    except ValueError as err:  # a half-typed or impossible box
        st.error(f"Not saved: {err}")
        return
    if not answers and drawn is None:
        st.warning("Nothing to save: answer at least one box or add a missed finding.")
        return
    save_verdicts(
        lambda reviewer: build_chest_verdicts(
            reviewed, reviewer, answers, [drawn] if drawn else [], comment,
            uuid.UUID(form_id),
        ),
        reviewed.case.content_hash(),
        _FORM_ID,
    )  # fmt: skip
