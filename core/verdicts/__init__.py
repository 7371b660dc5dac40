"""Reviewer verdicts: validated records, a migrated SQL store, CSV export, agreement stats.

Common to every study: a verdict names its study, and its finding is one of that study's
labels (see :mod:`core.studies`).

Typical use from a page (the store is safe to share across sessions and threads)::

    store = VerdictStore.open()            # $REVIEW_DB_URL or data_dir()/verdicts.db
    store.save([VerdictIn(...), ...])      # raises VerdictSaveError with a user message
    store.latest(case.content_hash())
"""

from core.verdicts.compare import STAT_COLUMNS, agreement_stats
from core.verdicts.errors import VerdictSaveError, VerdictStoreError
from core.verdicts.export import COLUMNS
from core.verdicts.records import BOX_COLUMNS, MAX_COMMENT_CHARS, Verdict, VerdictIn
from core.verdicts.store import VerdictStore

__all__ = [
    "BOX_COLUMNS",
    "COLUMNS",
    "MAX_COMMENT_CHARS",
    "STAT_COLUMNS",
    "Verdict",
    "VerdictIn",
    "VerdictSaveError",
    "VerdictStore",
    "VerdictStoreError",
    "agreement_stats",
]
