"""Database failures turned into messages a reviewer can act on.

The UI shows ``str(error)``; the original exception stays chained as ``__cause__`` for the
server log. Messages never quote SQL parameters, so no comment or case id leaks into them.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

__all__ = ["VerdictSaveError", "VerdictStoreError", "db_reason", "save_error"]


class VerdictStoreError(RuntimeError):
    """The verdict database could not be opened or read; the message is for the user."""


class VerdictSaveError(VerdictStoreError):
    """A save failed and nothing of its batch was written; the message is for the user."""


def db_reason(exc: SQLAlchemyError) -> str:
    """A short, parameter-free reason for a database error."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(orig).lower()
    if "locked" in text or "busy" in text or "lock timeout" in text:
        return "the database stayed busy with other saves for too long"
    if "disk is full" in text or "no space" in text or "disk full" in text:
        return "the disk holding the database is full"
    if "readonly" in text or "read-only" in text or "permission denied" in text:
        return "the database is read-only for this server"
    if isinstance(exc, IntegrityError):
        return "a value broke a database rule"
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "the connection to the database was lost"
    if "unable to open" in text or "could not connect" in text or "connection refused" in text:
        return "the database could not be reached"
    return f"database error ({type(orig).__name__})"


def save_error(exc: SQLAlchemyError) -> VerdictSaveError:
    """The error to raise when a batch write failed and was rolled back."""
    return VerdictSaveError(
        f"Your verdicts were NOT saved: {db_reason(exc)}. Nothing from this save was "
        "written; please press Save again. If it keeps failing, tell the administrator."
    )
