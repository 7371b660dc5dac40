"""The current (head) table definition. The migrations, not this module, create it.

The table is append-only: a new verdict for the same (case, finding, reviewer) does not
update the old row, it is simply newer (higher ``id``). "Latest" and ``superseded_by`` are
derived in queries, so no write ever touches a reviewer's earlier work and concurrent
writers cannot race on a pointer. ``tests/test_verdicts.py`` checks that this module and
the migrated database agree.

One table serves every study: a row names its study and its finding (one of that study's
labels), and carries a box as four nullable pixel coordinates, all null or all set.

The audit table (:class:`AuditRow`, written only through :mod:`core.verdicts.audit`) lives
in the same database, so a deployment has one place to back up and one to secure. It is
append-only too, and there the database enforces it: migration 0004 adds triggers that
refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["AuditRow", "Base", "VerdictRow"]

#: A box is all four corners or none: a half-stored box would read back as no box.
_BOX_COMPLETE = (
    "(box_x0 IS NULL AND box_y0 IS NULL AND box_x1 IS NULL AND box_y1 IS NULL) OR "
    "(box_x0 IS NOT NULL AND box_y0 IS NOT NULL AND box_x1 IS NOT NULL AND box_y1 IS NOT NULL)"
)
#: A stored box is non-empty and inside the image's positive quadrant (true when empty).
_BOX_GEOMETRY = "box_x0 >= 0 AND box_y0 >= 0 AND box_x0 < box_x1 AND box_y0 < box_y1"


class Base(DeclarativeBase):
    pass


class VerdictRow(Base):
    __tablename__ = "verdicts"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_verdicts_idempotency_key"),
        CheckConstraint("model_decision IN (0, 1)", name="ck_verdicts_model_decision"),
        CheckConstraint(
            "corrected_label IS NULL OR corrected_label IN (0, 1)",
            name="ck_verdicts_corrected_label",
        ),
        CheckConstraint("probability >= 0 AND probability <= 1", name="ck_verdicts_probability"),
        CheckConstraint("threshold >= 0 AND threshold <= 1", name="ck_verdicts_threshold"),
        CheckConstraint(_BOX_COMPLETE, name="ck_verdicts_box_complete"),
        CheckConstraint(_BOX_GEOMETRY, name="ck_verdicts_box_geometry"),
        Index("ix_verdicts_latest", "case_hash", "finding", "reviewer", "id"),
        {"sqlite_autoincrement": True},  # ids are never reused, so "newer" is "higher id"
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(String(200))
    bundle_name: Mapped[str] = mapped_column(String(200), server_default="")
    bundle_hash: Mapped[str] = mapped_column(String(64), server_default="")
    study: Mapped[str] = mapped_column(String(64))
    finding: Mapped[str] = mapped_column(String(64))
    box_x0: Mapped[float | None] = mapped_column(Float)
    box_y0: Mapped[float | None] = mapped_column(Float)
    box_x1: Mapped[float | None] = mapped_column(Float)
    box_y1: Mapped[float | None] = mapped_column(Float)
    probability: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    model_decision: Mapped[int] = mapped_column(Integer)
    agree: Mapped[bool] = mapped_column(Boolean)
    corrected_label: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, server_default="")
    reviewer: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    idempotency_key: Mapped[str] = mapped_column(String(36))


class AuditRow(Base):
    """One audited action: who (``actor``) did what (``action``) to which target, when.

    ``target`` is a content hash for a case or cohort (never a patient identifier or a
    file name) and a set name for a threshold set; ``detail`` is a small JSON object.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_target", "target_kind", "target"),
        {"sqlite_autoincrement": True},  # ids are never reused, so a higher id is later
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    target_kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)
