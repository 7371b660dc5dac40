"""The case pages' "Send results to PACS" button, for a case opened from the PACS worklist.

Shown only when the open case is the study this session retrieved (the same pixels,
:func:`ui.worklist_session.review_for`), and it sends only on a click: the SR of the
findings as the page shows them (this bundle, these thresholds) with the reviewer verdicts
saved on this case and bundle, and the heatmap captures, to the PACS the study came from
(:func:`core.pacs.send.send_results` has no other destination). The SR is then read back
and checked value by value. The outcome stays on the page: the SOP Instance UIDs stored,
or the error, and for a half-sent result exactly which instances the PACS holds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import pandas as pd
import streamlit as st

from core.auth import Permission
from core.models.bundle import Bundle
from core.pacs.errors import PacsError, SendError
from core.pacs.review import PacsReview
from core.review.reviewed import ReviewedCase
from core.verdicts import AuditAction, TargetKind, Verdict, VerdictStoreError
from ui.audit import audit
from ui.auth import require
from ui.cohort.reviewer import verdict_store
from ui.text import code, plain
from ui.worklist_session import review_for

__all__ = ["SendOutcome", "pacs_send_panel"]

log = logging.getLogger(__name__)
_SENT = "pacs_sent"


@dataclass(frozen=True)
class SendOutcome:
    """One click's outcome, kept so that reruns keep showing it."""

    case_hash: str
    stored: tuple[str, ...] = ()
    sr: str = ""
    captures: tuple[str, ...] = ()
    verdicts: int = 0
    problems: tuple[str, ...] = ()
    error: str = ""
    failed: dict[str, str] = field(default_factory=dict)


def _saved_verdicts(case_hash: str, bundle_sha256: str) -> list[Verdict]:
    """The latest stored verdicts on this case given on this bundle's findings, oldest first
    (the SR keeps the latest per finding)."""
    found = [v for v in verdict_store().latest(case_hash) if v.bundle_hash == bundle_sha256]
    return sorted(found, key=lambda v: v.created_at)


def _send(review: PacsReview, case_hash: str) -> SendOutcome:
    """Build, store and read back the results of ``review``; every failure is an outcome."""
    from core.pacs.results import build_results
    from core.pacs.send import send_results
    from core.pacs.sr_check import check_sr, read_back

    bundle = review.bundle
    try:
        verdicts = _saved_verdicts(case_hash, bundle.manifest_sha256)
        objects = build_results(review, verdicts)
    except VerdictStoreError as err:
        why = f"the saved verdicts are unavailable ({err})"
        return SendOutcome(case_hash, error=f"Nothing was sent: {why}.")
    except (OSError, ValueError, RuntimeError) as err:
        log.warning("PACS results could not be built: %s", type(err).__name__)
        why = f"the results could not be built ({err})"
        return SendOutcome(case_hash, error=f"Nothing was sent: {why}.")
    sr = str(objects.sr.SOPInstanceUID)
    captures = tuple(str(c.SOPInstanceUID) for c in objects.captures)
    try:
        report = send_results(review, objects.all)
    except SendError as err:
        return SendOutcome(case_hash, err.stored, sr, captures, len(verdicts), error=str(err),
                           failed=dict(err.failed))  # fmt: skip
    except PacsError as err:
        return SendOutcome(case_hash, error=f"Nothing was sent: {err}")
    identity = (bundle.name[:64], bundle.manifest_sha256)
    try:
        back = read_back(review.endpoint, review.study_uid, objects.sr.SeriesInstanceUID, sr)
        problems = check_sr(
            back, review.result.findings, objects.sources, identity, verdicts, objects.images
        )
    except PacsError as err:
        problems = [f"the SR was stored but could not be read back to check it: {err}"]
    return SendOutcome(case_hash, report.stored, sr, captures, len(verdicts), tuple(problems))


def _show(outcome: SendOutcome, where: str) -> None:
    if outcome.error:
        st.error(plain(outcome.error), icon=":material/error:")
        if outcome.failed:
            st.dataframe(
                pd.DataFrame({"SOP Instance UID": list(outcome.failed),
                              "not stored because": list(outcome.failed.values())}),
                hide_index=True, key="pacs_send_failed",
            )  # fmt: skip
        return
    st.success(
        f"Stored in this study on {plain(where)}: the SR {code(outcome.sr)} "
        f"({outcome.verdicts} saved verdict(s) in it) and {len(outcome.captures)} heatmap "
        "capture(s).",
        icon=":material/cloud_done:",
    )
    if outcome.captures:
        st.caption("Captures: " + ", ".join(code(uid) for uid in outcome.captures))
    if outcome.problems:
        st.warning(
            "**The SR read back differs from what was sent**\n\n"
            + "\n".join(f"- {plain(p)}" for p in outcome.problems)
        )
    else:
        st.caption("The SR read back from the PACS matches what was sent.")


def pacs_send_panel(reviewed: ReviewedCase, bundle: Bundle) -> None:
    """The send button and its outcome, when ``reviewed`` is the session's PACS study."""
    review = review_for(reviewed.case)
    if review is None:
        return
    case_hash = reviewed.case_hash
    st.subheader("Results to PACS")
    st.caption(
        "Stores a DICOM Structured Report of these findings (with the verdicts saved on this "
        "case) and the heatmaps as captures marked NOT FOR DIAGNOSTIC USE, in this study on "
        "the PACS it came from. Nothing is sent until you click."
    )
    if st.button(f"Send results to PACS ({review.endpoint.shown})", key="pacs_send"):
        if require(Permission.SAVE_VERDICTS):
            with st.spinner("Building the report and captures, sending, reading back…"):
                outcome = _send(replace(review, bundle=bundle, result=reviewed.result), case_hash)
            log.info("PACS send: %d stored, error: %s", len(outcome.stored), bool(outcome.error))
            audit(AuditAction.SEND_RESULTS, TargetKind.CASE, case_hash, {
                "endpoint": review.endpoint.name, "bundle": bundle.manifest_sha256,
                "sr": outcome.sr, "captures": len(outcome.captures),
                "stored": len(outcome.stored), "failed": bool(outcome.error),
            })  # fmt: skip
            st.session_state[_SENT] = outcome
    outcome = st.session_state.get(_SENT)
    if isinstance(outcome, SendOutcome) and outcome.case_hash == case_hash:
        _show(outcome, review.endpoint.shown)
