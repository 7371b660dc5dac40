"""v1: one append-only table of verdicts.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

The first schema had no bundle identity, no idempotency key and no database-side checks.
Migrations spell out their own columns and never import ``core.verdicts.model``, which
always describes the head schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verdicts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_hash", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("finding", sa.String(32), nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("model_decision", sa.Integer, nullable=False),
        sa.Column("agree", sa.Boolean, nullable=False),
        sa.Column("corrected_label", sa.Integer, nullable=True),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_verdicts_case_finding", "verdicts", ["case_hash", "finding"])


def downgrade() -> None:
    op.drop_index("ix_verdicts_case_finding", table_name="verdicts")
    op.drop_table("verdicts")
