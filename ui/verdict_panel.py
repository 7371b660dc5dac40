"""Recording the reviewer's verdicts on the case page, and showing the ones stored.

The reviewer is the session's principal (:mod:`ui.auth`), never a text box: the signed-in
identity, or in single-user mode the name typed once in the sidebar, marked "not signed
in". A save is refused unless the role may save verdicts (the page being open is not
enough: defence in depth), and a successful one is written to the audit trail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pandas as pd
import streamlit as st

from core.auth import Permission
from core.review.figures import location_label
from core.review.reviewed import ReviewedCase
from core.review.verdicts import (
    build_verdicts,
    case_label,
    missable_findings,
    review_findings,
    seen,
)
from core.studies.study import StudyResult
from core.verdicts import AuditAction, TargetKind, VerdictIn, VerdictStoreError
from core.verdicts.records import BOX_COLUMNS
from ui.audit import audit
from ui.auth import acting_name
from ui.cohort.reviewer import verdict_store

__all__ = ["save_verdicts", "stored_verdicts", "verdict_panel"]

_FORM_ID = "verdict_form_id"
_CHOICES = ["agree", "disagree"]


def _label(result: StudyResult, finding: str) -> str:
    p, t, d = seen(result, finding)
    name = f"{finding} (patient)" if finding == case_label(result) else location_label(finding)
    return f"{name}: model says {'YES' if d else 'no'} (p={p:.3f}, threshold {t:.3f})"


def save_verdicts(
    build: Callable[[str], list[VerdictIn]], case_hash: str, form_key: str = _FORM_ID
) -> bool:
    """Build one form's verdicts for this session's reviewer (``build(reviewer)``) and save
    them in one transaction; then say so, start a new form id under ``form_key`` (the next
    submission is a new one) and audit the save. A refused role, a missing name, a bad
    field or a database failure is one message, and the form keeps what the reviewer
    entered (every study's verdict form saves through here)."""
    reviewer = acting_name(Permission.SAVE_VERDICTS, "reviewer")
    if reviewer is None:
        return False
    try:
        batch = build(reviewer)
        saved = verdict_store().save(batch)
    except (ValueError, VerdictStoreError) as err:  # an invalid field, or the database
        st.error(f"Not saved: {err}")
        return False
    st.success(f"Saved {len(saved)} verdict(s).")
    st.session_state[form_key] = str(uuid.uuid4())
    audit(
        AuditAction.SAVE_VERDICT,
        TargetKind.CASE,
        case_hash,
        {"verdict_ids": saved, "bundle": batch[0].bundle_hash if batch else ""},
    )
    return True


#: The stored-verdict columns every study's page lists (a box's corners where it has one).
_SHOWN = ("reviewer", "finding", *BOX_COLUMNS, "agree", "model_decision", "reviewer_label",
          "comment", "created_at")  # fmt: skip


def stored_verdicts(case_hash: str, key: str) -> None:
    """The latest stored verdicts of one case as a table (box columns only when some
    verdict has a box); a warning, not an error, when the store is unavailable."""
    try:
        stored = verdict_store().latest(case_hash)
    except VerdictStoreError as err:
        st.warning(f"Stored verdicts are unavailable: {err}")
        return
    if not stored:
        return
    frame = pd.DataFrame([v.to_dict() for v in stored])
    boxed = frame[list(BOX_COLUMNS)].notna().any().any()
    cols = [c for c in _SHOWN if boxed or c not in BOX_COLUMNS]
    st.dataframe(frame[cols], hide_index=True, key=key)


def verdict_panel(reviewed: ReviewedCase) -> None:
    """A form: agree/disagree per finding, missed locations, comment; then the stored ones."""
    result = reviewed.result
    form_id = st.session_state.setdefault(_FORM_ID, str(uuid.uuid4()))
    findings = review_findings(result)
    with st.form("verdict_form", border=True):
        st.caption("Answer the findings you checked; unanswered ones are not recorded.")
        answers = {}
        cols = st.columns(3)
        for i, finding in enumerate(findings):
            answers[finding] = cols[i % 3].radio(
                _label(result, finding),
                _CHOICES,
                index=None,
                horizontal=True,
                key=f"verdict::{finding}",
            )
        missed = st.multiselect(
            "Locations the model missed",
            missable_findings(result),
            format_func=location_label,
            key="verdict_missed",
        )
        comment = st.text_area(
            "Comment (optional)", key="verdict_comment", max_chars=2000, height=68
        )
        submitted = st.form_submit_button("Save verdicts", type="primary")
    if submitted:
        chosen = {f: a == "agree" for f, a in answers.items() if a is not None}
        if not chosen and not missed:
            st.warning("Nothing to save: answer at least one finding or name a missed location.")
        else:
            save_verdicts(
                lambda reviewer: build_verdicts(
                    reviewed, reviewer, chosen, missed, comment, uuid.UUID(form_id)
                ),
                reviewed.case_hash,
            )
    stored_verdicts(reviewed.case_hash, "stored_verdicts")
