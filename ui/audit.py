"""Writing the audit trail from a page, without ever breaking the page.

A failed audit write must not stop a reviewer from reading a case, nor pass unnoticed: it is
logged as an error and the page shows a small warning. Opening a case or a cohort is
recorded once per session (Streamlit reruns the page on every click); a row that failed is
tried again on the next run.

The actor is the reviewer name typed on the case page (kept under a non-widget key, since
Streamlit forgets a widget's value on pages that do not draw it), else
:data:`~core.verdicts.audit.NOT_SIGNED_IN`, until sign-in provides a verified identity.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import streamlit as st

from core.verdicts import NOT_SIGNED_IN, AuditAction, TargetKind, VerdictStoreError
from core.verdicts.audit import record
from ui.cohort.reviewer import verdict_store

__all__ = ["audit", "audit_once", "current_actor", "remember_actor"]

log = logging.getLogger(__name__)

_ACTOR = "audit_actor"
_DONE = "audit_done"


def remember_actor(name: str) -> None:
    """Use ``name`` (a typed reviewer name) as this session's actor from now on."""
    if name.strip():
        st.session_state[_ACTOR] = name.strip()


def current_actor() -> str:
    """This session's actor: the remembered reviewer name, else "not signed in"."""
    return str(st.session_state.get(_ACTOR) or "").strip() or NOT_SIGNED_IN


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
