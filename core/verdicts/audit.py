"""The audit trail: who opened which case or cohort, ran which bundle, saved which verdict or
threshold set, and when (UTC).

A hospital must be able to answer "who looked at this case?" after the fact, so every such
action is one row in ``audit_events``, in the verdict database. The trail is append-only:
this module offers :func:`record` (insert) and reads, nothing that updates or deletes, and
the database refuses UPDATE and DELETE with triggers (migration 0004).

Cases and cohorts are named by content hash (pixels of a case, the data fingerprint of a
cohort), never by patient identifiers or file names, and :func:`record` refuses anything
else as their target, so the trail itself holds no patient data. Bundles are named by the
SHA-256 of their ``bundle.json``.

The actor is whoever the app says is acting: until sign-in exists, the reviewer name typed
on the case page, else :data:`NOT_SIGNED_IN`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, Any

import pandas as pd
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from core.verdicts.engine import writer
from core.verdicts.errors import VerdictStoreError, db_reason
from core.verdicts.export import _FORMULA_START
from core.verdicts.model import AuditRow
from core.verdicts.store import VerdictStore

__all__ = [
    "AUDIT_COLUMNS",
    "NOT_SIGNED_IN",
    "AuditAction",
    "AuditError",
    "TargetKind",
    "audit_events",
    "export_audit_csv",
    "record",
]

log = logging.getLogger(__name__)

#: The actor recorded when nobody is signed in and no reviewer name was typed.
NOT_SIGNED_IN = "not signed in"
#: Column order of :func:`audit_events` and of the CSV export.
AUDIT_COLUMNS: tuple[str, ...] = ("id", "at", "actor", "action", "target_kind", "target", "detail")
_TEXT_COLUMNS = ("actor", "target", "detail")
_MAX_ACTOR = 200
_MAX_NAME = 200
_MAX_DETAIL = 2000
_HASH = re.compile(r"^[0-9a-f]{64}$")


class AuditAction(StrEnum):
    """What was done. A batch run of a cohort is :attr:`RUN_BUNDLE` on a cohort."""

    OPEN_CASE = "open_case"
    OPEN_COHORT = "open_cohort"
    RUN_BUNDLE = "run_bundle"
    SAVE_VERDICT = "save_verdict"
    SAVE_THRESHOLD_SET = "save_threshold_set"
    SEND_RESULTS = "send_results"  # an SR and captures stored on a PACS (or tried)


class TargetKind(StrEnum):
    """What it was done to; a case or cohort is named by its content hash."""

    CASE = "case"
    COHORT = "cohort"
    THRESHOLD_SET = "threshold_set"


#: Which targets each action can have (a verdict is saved on a case, and so on).
_TARGETS: dict[AuditAction, frozenset[TargetKind]] = {
    AuditAction.OPEN_CASE: frozenset({TargetKind.CASE}),
    AuditAction.OPEN_COHORT: frozenset({TargetKind.COHORT}),
    AuditAction.RUN_BUNDLE: frozenset({TargetKind.CASE, TargetKind.COHORT}),
    AuditAction.SAVE_VERDICT: frozenset({TargetKind.CASE}),
    AuditAction.SAVE_THRESHOLD_SET: frozenset({TargetKind.THRESHOLD_SET}),
    AuditAction.SEND_RESULTS: frozenset({TargetKind.CASE}),
}
_HASHED = frozenset({TargetKind.CASE, TargetKind.COHORT})


class AuditError(VerdictStoreError):
    """An audit row could not be written or read; the message is for the user."""


def _engine_of(store_or_engine: VerdictStore | Engine) -> Engine:
    if isinstance(store_or_engine, Engine):
        return store_or_engine
    if isinstance(store_or_engine, VerdictStore):
        # The store owns the one pool of its database; the audit table shares it.
        return store_or_engine._engine
    raise TypeError(f"expected a VerdictStore or an Engine, got {type(store_or_engine).__name__}")


def _row(
    actor: str,
    action: str,
    target_kind: str,
    target: str,
    detail: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The checked row; :class:`ValueError` (a programming error) names what is wrong."""
    act, kind = AuditAction(action), TargetKind(target_kind)
    if kind not in _TARGETS[act]:
        raise ValueError(f"action {act.value!r} cannot target a {kind.value!r}")
    target = target.strip()
    if kind in _HASHED and not _HASH.match(target):
        raise ValueError(
            f"a {kind.value} is audited by its 64-hex content hash, never by a name or a path"
        )
    if not target or len(target) > _MAX_NAME:
        raise ValueError(f"audit target must be 1-{_MAX_NAME} characters")
    who = actor.strip() or NOT_SIGNED_IN
    if len(who) > _MAX_ACTOR:
        raise ValueError(f"actor names are at most {_MAX_ACTOR} characters")
    text = None if detail is None else json.dumps(dict(detail), sort_keys=True, default=str)
    if text is not None and len(text) > _MAX_DETAIL:
        raise ValueError(f"audit detail is at most {_MAX_DETAIL} characters of JSON")
    return {
        "at": datetime.now(UTC),
        "actor": who,
        "action": act.value,
        "target_kind": kind.value,
        "target": target,
        "detail": text,
    }


def record(
    store_or_engine: VerdictStore | Engine,
    actor: str,
    action: AuditAction | str,
    target_kind: TargetKind | str,
    target: str,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Append one row (in its own transaction) and return its id.

    Raises :class:`ValueError` for an unknown action or kind, a case or cohort not named
    by a hash, or oversized text, and :class:`AuditError` when the database fails.
    """
    row = _row(actor, action, target_kind, target, detail)
    try:
        with writer(_engine_of(store_or_engine)).begin() as conn:
            result = conn.execute(insert(AuditRow).values(**row))
            row_id = int(result.inserted_primary_key[0])
    except SQLAlchemyError as exc:
        reason = db_reason(exc)
        log.error("audit row NOT written (%s %s): %s", row["action"], row["target_kind"], reason)
        raise AuditError(f"The audit trail could not be written: {reason}.") from exc
    log.info("audit %d: %s %s %.16s", row_id, row["action"], row["target_kind"], row["target"])
    return row_id


def audit_events(store_or_engine: VerdictStore | Engine) -> pd.DataFrame:
    """Every audit row, oldest first, with :data:`AUDIT_COLUMNS` (``at`` in UTC)."""
    query = select(*(AuditRow.__table__.c[c] for c in AUDIT_COLUMNS)).order_by(AuditRow.id)
    try:
        with _engine_of(store_or_engine).connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
    except SQLAlchemyError as exc:
        raise AuditError(f"The audit trail could not be read: {db_reason(exc)}.") from exc
    for r in rows:  # SQLite keeps no zone; only UTC is ever written
        at = r["at"]
        r["at"] = (at.replace(tzinfo=UTC) if at.tzinfo is None else at).astimezone(UTC)
    frame = pd.DataFrame(rows, columns=list(AUDIT_COLUMNS))
    return frame.astype({"id": "int64", "at": "datetime64[us, UTC]"})


def export_audit_csv(store_or_engine: VerdictStore | Engine, target: str | IO[str]) -> int:
    """Write the whole trail as UTF-8 CSV to a path or text buffer; returns the row count.

    Typed text (actor, target, detail) that a spreadsheet would run as a formula is
    prefixed with ``'``, as in the verdict export; the database keeps it as written.
    """
    frame = audit_events(store_or_engine)
    for col in _TEXT_COLUMNS:
        text = frame[col].astype("string")
        guarded = text.str.contains(_FORMULA_START, regex=True).fillna(False).astype(bool)
        frame[col] = text.where(~guarded, "'" + text)
    frame.to_csv(target, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    log.info("exported %d audit rows", len(frame))
    return len(frame)
