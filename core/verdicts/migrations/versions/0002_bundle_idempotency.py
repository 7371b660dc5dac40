"""v2: bundle identity, client idempotency keys and database-side checks.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01

Every v1 row is kept. Its bundle is unknown (empty name and hash) and it gets a key derived
from its id, so the unique constraint holds without inventing client history. If a v1 row
breaks one of the new checks, the upgrade fails and rolls back, leaving the v1 database as
it was: the migration refuses rather than drops data.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Namespace of the keys given to rows written before keys existed.
LEGACY_KEYS = uuid.UUID("6f1c1f9e-6d5e-4d43-9a43-3d1b7e0c2a10")
_CHECKS = {
    "ck_verdicts_model_decision": "model_decision IN (0, 1)",
    "ck_verdicts_corrected_label": "corrected_label IS NULL OR corrected_label IN (0, 1)",
    "ck_verdicts_probability": "probability >= 0 AND probability <= 1",
    "ck_verdicts_threshold": "threshold >= 0 AND threshold <= 1",
}
_TABLE = {"sqlite_autoincrement": True}  # keep it when SQLite copies the table


def upgrade() -> None:
    op.drop_index("ix_verdicts_case_finding", table_name="verdicts")
    with op.batch_alter_table("verdicts", table_kwargs=_TABLE) as batch:
        batch.add_column(
            sa.Column("bundle_name", sa.String(200), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("bundle_hash", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("idempotency_key", sa.String(36), nullable=True))

    verdicts = sa.table("verdicts", sa.column("id", sa.Integer), sa.column("idempotency_key"))
    conn = op.get_bind()
    ids = conn.execute(sa.select(verdicts.c.id).where(verdicts.c.idempotency_key.is_(None)))
    keys = [{"row_id": i, "key": str(uuid.uuid5(LEGACY_KEYS, str(i)))} for (i,) in ids]
    if keys:
        conn.execute(
            verdicts.update()
            .where(verdicts.c.id == sa.bindparam("row_id"))
            .values(idempotency_key=sa.bindparam("key")),
            keys,
        )

    with op.batch_alter_table("verdicts", table_kwargs=_TABLE) as batch:
        batch.alter_column("idempotency_key", existing_type=sa.String(36), nullable=False)
        batch.create_unique_constraint("uq_verdicts_idempotency_key", ["idempotency_key"])
        for name, condition in _CHECKS.items():
            batch.create_check_constraint(name, condition)
    op.create_index("ix_verdicts_latest", "verdicts", ["case_hash", "finding", "reviewer", "id"])


def downgrade() -> None:
    op.drop_index("ix_verdicts_latest", table_name="verdicts")
    with op.batch_alter_table("verdicts", table_kwargs=_TABLE) as batch:
        for name in _CHECKS:
            batch.drop_constraint(name, type_="check")
        batch.drop_constraint("uq_verdicts_idempotency_key", type_="unique")
        batch.drop_column("idempotency_key")
        batch.drop_column("bundle_hash")
        batch.drop_column("bundle_name")
    op.create_index("ix_verdicts_case_finding", "verdicts", ["case_hash", "finding"])
