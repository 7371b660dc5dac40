"""The reviewer verdict store: the one place verdicts are written and read.

A save is one transaction (all of a batch or none of it), idempotent on each verdict's
client key, and reports failure as :class:`VerdictSaveError` with a message for the user.
Rows are never updated or deleted; "latest" means no newer row for the same (case,
finding, box, reviewer): two boxes of one class on a chest film are two findings, and a
verdict on one never hides the other (boxes compare null-safely, so box-free findings
behave as before). The study needs no place in that key: a case's content hash already
belongs to one study. The store is thread-safe: share one per process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Self

import pandas as pd
from alembic.util import CommandError
from sqlalchemy import ColumnElement, Engine, RowMapping, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, aliased

from core.verdicts import export, migrate
from core.verdicts.engine import BUSY_TIMEOUT_S, make_engine, resolve_url, writer
from core.verdicts.errors import VerdictSaveError, VerdictStoreError, db_reason, save_error
from core.verdicts.model import VerdictRow
from core.verdicts.records import (
    BOX_COLUMNS,
    SUBMITTED_COLUMNS,
    Verdict,
    VerdictIn,
    submitted_fields,
)

__all__ = ["VerdictStore"]

log = logging.getLogger(__name__)

#: A unique-key clash can be a concurrent retry of the same save (PostgreSQL); the second
#: attempt then finds the first one's rows and returns their ids.
_ATTEMPTS = 2
_COLUMNS = tuple(VerdictRow.__table__.c)
_newer = aliased(VerdictRow)
_SUPERSEDED_BY = (
    select(func.min(_newer.id))
    .where(
        _newer.case_hash == VerdictRow.case_hash,
        _newer.finding == VerdictRow.finding,
        _newer.reviewer == VerdictRow.reviewer,
        *(getattr(_newer, c).is_not_distinct_from(getattr(VerdictRow, c)) for c in BOX_COLUMNS),
        _newer.id > VerdictRow.id,
    )
    .correlate(VerdictRow)
    .scalar_subquery()
)


class VerdictStore:
    """Reviewer verdicts in a SQL database; use :meth:`open`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    @classmethod
    def open(cls, url: str | None = None, busy_timeout_s: float = BUSY_TIMEOUT_S) -> VerdictStore:
        """Connect to ``url`` (default: see :func:`resolve_url`) and migrate it to head."""
        try:
            engine = make_engine(resolve_url(url), busy_timeout_s)
        except OSError as exc:
            raise VerdictStoreError(
                f"The verdict database folder cannot be created: {exc}"
            ) from exc
        try:
            migrate.upgrade(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise VerdictStoreError(
                f"The verdict database could not be opened: {db_reason(exc)}."
            ) from exc
        except CommandError as exc:  # e.g. written by a newer version of the app
            engine.dispose()
            raise VerdictStoreError(
                "The verdict database has a schema this version of the app does not know "
                f"({exc}); update the app rather than open it with an older one."
            ) from exc
        log.info(
            "verdict store open: %s, schema %s",
            engine.url.render_as_string(hide_password=True),
            migrate.current_revision(engine),
        )
        return cls(engine)

    def close(self) -> None:
        """Release every pooled connection; the store must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def schema_version(self) -> str | None:
        """The database's alembic revision (the head revision once opened)."""
        with self._reading():
            return migrate.current_revision(self._engine)

    def save(self, verdicts: Sequence[VerdictIn]) -> list[int]:
        """Store a batch in one transaction; returns the row id of each verdict, in order.

        A verdict whose key is already stored is not written again: its stored id is
        returned, so retrying a save whose answer was lost is always safe.
        """
        batch = list(verdicts)
        wrong = {type(v).__name__ for v in batch if not isinstance(v, VerdictIn)}
        if wrong:
            raise TypeError(f"save() takes VerdictIn records, got {', '.join(sorted(wrong))}")
        if not batch:
            return []
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with Session(self._writer) as session, session.begin():
                    ids, added = _insert(session, batch)
                log.info("saved %d verdicts (%d already stored)", added, len(batch) - added)
                return ids
            except IntegrityError as exc:
                log.warning(
                    "verdict save hit a database rule (attempt %d): %s",
                    attempt,
                    str(exc.orig).splitlines()[0],
                )
                if attempt == _ATTEMPTS:
                    raise save_error(exc) from exc
            except SQLAlchemyError as exc:
                log.warning("verdict save failed: %s", db_reason(exc))
                raise save_error(exc) from exc
        raise AssertionError("unreachable: the last attempt returns or raises")

    def latest(self, case_hash: str) -> list[Verdict]:
        """Each reviewer's current verdict on each finding of one case."""
        return self._select(VerdictRow.case_hash == case_hash, _SUPERSEDED_BY.is_(None))

    def history(self, case_hash: str, finding: str, reviewer: str | None = None) -> list[Verdict]:
        """Every verdict ever given on one finding of one case, oldest first."""
        where = [VerdictRow.case_hash == case_hash, VerdictRow.finding == finding]
        if reviewer is not None:
            where.append(VerdictRow.reviewer == reviewer)
        return self._select(*where)

    def all_latest(self) -> pd.DataFrame:
        """Every current verdict, one row each (columns :data:`export.COLUMNS`)."""
        return export.verdicts_frame(self._select(_SUPERSEDED_BY.is_(None)))

    def export_csv(self, target: str | IO[str], include_history: bool = False) -> int:
        """Write current (or all) verdicts as CSV to a path or text buffer; returns rows."""
        rows = self._select() if include_history else self._select(_SUPERSEDED_BY.is_(None))
        return export.write_csv(export.verdicts_frame(rows), target)

    def _select(self, *where: ColumnElement[bool]) -> list[Verdict]:
        # Plain rows, not ORM objects: the cohort page reads thousands at once.
        query = (
            select(*_COLUMNS, _SUPERSEDED_BY.label("superseded_by"))
            .where(*where)
            .order_by(VerdictRow.id)
        )
        with self._reading(), self._engine.connect() as conn:
            return [_to_verdict(row) for row in conn.execute(query).mappings()]

    @contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            log.warning("verdict read failed: %s", db_reason(exc))
            raise VerdictStoreError(f"Could not read the verdicts: {db_reason(exc)}.") from exc


def _insert(session: Session, batch: list[VerdictIn]) -> tuple[list[int], int]:
    """Add the verdicts whose keys are new; returns every verdict's id and how many were new."""
    keys = {v.idempotency_key for v in batch}
    query = select(VerdictRow).where(VerdictRow.idempotency_key.in_(keys))
    by_key = {row.idempotency_key: row for row in session.scalars(query)}
    now = datetime.now(UTC)
    added = 0
    for v in batch:  # add order is insert order, so a later verdict in a batch is newer
        row = by_key.get(v.idempotency_key)
        if row is None:
            row = by_key[v.idempotency_key] = VerdictRow(**v.as_row(), created_at=now)
            session.add(row)
            added += 1
        elif {k: getattr(row, k) for k in SUBMITTED_COLUMNS} != v.as_row():
            raise VerdictSaveError(
                "Your verdicts were NOT saved: the form reused the save key of a different "
                "earlier save. Reload the case and save again."
            )
    session.flush()
    return [by_key[v.idempotency_key].id for v in batch], added


def _to_verdict(row: RowMapping) -> Verdict:
    created = row["created_at"]
    if created.tzinfo is None:  # SQLite keeps no zone; we only ever write UTC
        created = created.replace(tzinfo=UTC)
    return Verdict(
        **submitted_fields(row),
        id=row["id"],
        created_at=created.astimezone(UTC),
        superseded_by=row["superseded_by"],
    )
