"""Writing the audit trail from a page, without ever breaking the page.

A failed audit write must not stop a reviewer from reading a case, nor pass unnoticed: it is
logged as an error and the page shows a small warning. Opening a case or a cohort is
recorded once per session (Streamlit reruns the page on every click); a row that failed is
tried again on the next run.

The actor is the session's principal (:func:`ui.auth.principal`): the signed-in identity in
a shared deployment; in single-user mode the name typed in the sidebar, marked "not signed
in", else :data:`~core.verdicts.audit.NOT_SIGNED_IN`. Admins download the whole trail as
CSV from the sidebar; the file is built only when they click.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from typing import Any

import streamlit as st

from core.auth import Permission
from core.verdicts import NOT_SIGNED_IN, AuditAction, TargetKind, VerdictStoreError
from core.verdicts.audit import export_audit_csv, record
from ui.auth import may, principal
from ui.cohort.reviewer import verdict_store

__all__ = ["audit", "audit_export_button", "audit_once", "current_actor"]

log = logging.getLogger(__name__)

_DONE = "audit_done"


def current_actor() -> str:
    """This session's actor: the signed-in or typed name, else "not signed in"."""
    who = principal()
    return NOT_SIGNED_IN if who is None else who.actor


def audit(
    action: AuditAction,
    target_kind: TargetKind,
    target: str,
    detail: Mapping[str, Any] | None = None,
) -> bool:
    """Append one audit row; on failure log it, warn on the page and return False."""
    try:
        record(verdict_store(), current_actor(), action, target_kind, target, detail)
    except (VerdictStoreError, ValueError) as err:  # the database, or a bad call
        log.error(
            "audit trail: %s on a %s was NOT recorded: %s",
            action,
            target_kind,
            err,
            exc_info=not isinstance(err, VerdictStoreError),  # a bad call: show where
        )
        st.warning(
            f"This action was not written to the audit trail: {err}", icon=":material/warning:"
        )
        return False
    return True


def audit_once(
    action: AuditAction,
    target_kind: TargetKind,
    target: str,
    detail: Mapping[str, Any] | None = None,
) -> bool:
    """:func:`audit`, unless this session already recorded the same row; True when stored."""
    key = json.dumps([action, target_kind, target, dict(detail or {})], sort_keys=True)
    done: set[str] = st.session_state.setdefault(_DONE, set())
    if key in done:
        return True
    if not audit(action, target_kind, target, detail):
        return False
    done.add(key)
    return True


def _audit_csv(actor: str) -> bytes:
    """The whole trail as CSV, built when the admin clicks (never on a mere rerun)."""
    buf = io.StringIO()
    rows = export_audit_csv(verdict_store(), buf)
    log.info("audit trail exported by %s: %d rows", actor, rows)
    return buf.getvalue().encode()


def audit_export_button() -> None:
    """Admins only: the audit trail as a CSV download in the sidebar."""
    if not may(Permission.EXPORT_AUDIT):
        return
    actor = current_actor()
    st.sidebar.download_button(
        "Download the audit trail (CSV)",
        lambda: _audit_csv(actor),
        file_name="audit_trail.csv",
        mime="text/csv",
        key="audit_csv",
        on_click="ignore",
    )
