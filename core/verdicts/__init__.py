"""Reviewer verdicts: validated records, a migrated SQL store, CSV export, agreement stats,
and the append-only audit trail (:mod:`core.verdicts.audit`) in the same database.

Common to every study: a verdict names its study, and its finding is one of that study's
labels (see :mod:`core.studies`).

Typical use from a page (the store is safe to share across sessions and threads)::

    store = VerdictStore.open()            # $REVIEW_DB_URL or data_dir()/verdicts.db
    store.save([VerdictIn(...), ...])      # raises VerdictSaveError with a user message
    store.latest(case.content_hash())
    audit.record(store, actor, AuditAction.OPEN_CASE, TargetKind.CASE, case.content_hash())
"""

from core.verdicts.audit import (
    NOT_SIGNED_IN,
    AuditAction,
    AuditError,
    TargetKind,
    audit_events,
    export_audit_csv,
)
from core.verdicts.compare import STAT_COLUMNS, agreement_stats
from core.verdicts.errors import VerdictSaveError, VerdictStoreError
from core.verdicts.export import COLUMNS
from core.verdicts.records import BOX_COLUMNS, MAX_COMMENT_CHARS, Verdict, VerdictIn
from core.verdicts.store import VerdictStore

__all__ = [
    "BOX_COLUMNS",
    "COLUMNS",
    "MAX_COMMENT_CHARS",
    "NOT_SIGNED_IN",
    "STAT_COLUMNS",
    "AuditAction",
    "AuditError",
    "TargetKind",
    "Verdict",
    "VerdictIn",
    "VerdictSaveError",
    "VerdictStore",
    "VerdictStoreError",
    "agreement_stats",
    "audit_events",
    "export_audit_csv",
]
