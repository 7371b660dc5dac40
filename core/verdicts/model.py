"""The current (head) table definition. The migrations, not this module, create it.

The table is append-only: a new verdict for the same (case, finding, reviewer) does not
update the old row, it is simply newer (higher ``id``). "Latest" and ``superseded_by`` are
derived in queries, so no write ever touches a reviewer's earlier work and concurrent
writers cannot race on a pointer. ``tests/test_verdicts.py`` checks that this module and
the migrated database agree.
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

__all__ = ["Base", "VerdictRow"]


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
        Index("ix_verdicts_latest", "case_hash", "finding", "reviewer", "id"),
        {"sqlite_autoincrement": True},  # ids are never reused, so "newer" is "higher id"
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(String(200))
    bundle_name: Mapped[str] = mapped_column(String(200), server_default="")
    bundle_hash: Mapped[str] = mapped_column(String(64), server_default="")
    finding: Mapped[str] = mapped_column(String(32))
    probability: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    model_decision: Mapped[int] = mapped_column(Integer)
    agree: Mapped[bool] = mapped_column(Boolean)
    corrected_label: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, server_default="")
    reviewer: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    idempotency_key: Mapped[str] = mapped_column(String(36))
