"""v3: study-agnostic findings: each row names its study and may carry a box.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-01

Every v2 row is kept unchanged and becomes an ``aneurysm`` verdict without a box: that was
the only study before this revision. The ``'aneurysm'`` server default exists only while
the column is filled, so no later insert can silently claim a study. ``finding`` widens
to 64 characters for other studies' labels. A box is four nullable pixel coordinates,
all null or all set, checked on the database as well.

The downgrade refuses (and rolls back) while any row belongs to another study or has a
box, since v2 could not tell those rows apart from aneurysm verdicts without one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from alembic.util import CommandError

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_LEGACY_STUDY = "aneurysm"
_BOX = ("box_x0", "box_y0", "box_x1", "box_y1")
_CHECKS = {
    "ck_verdicts_box_complete": (
        "(box_x0 IS NULL AND box_y0 IS NULL AND box_x1 IS NULL AND box_y1 IS NULL) OR "
        "(box_x0 IS NOT NULL AND box_y0 IS NOT NULL AND box_x1 IS NOT NULL AND box_y1 IS NOT NULL)"
    ),
    "ck_verdicts_box_geometry": (
        "box_x0 >= 0 AND box_y0 >= 0 AND box_x0 < box_x1 AND box_y0 < box_y1"
    ),
}
_TABLE = {"sqlite_autoincrement": True}  # keep it when SQLite copies the table


def upgrade() -> None:
    with op.batch_alter_table("verdicts", table_kwargs=_TABLE) as batch:
        batch.add_column(
            sa.Column("study", sa.String(64), nullable=False, server_default=_LEGACY_STUDY)
        )
        for name in _BOX:
            batch.add_column(sa.Column(name, sa.Float, nullable=True))
    with op.batch_alter_table("verdicts", table_kwargs=_TABLE) as batch:
        batch.alter_column(
            "study", existing_type=sa.String(64), existing_nullable=False, server_default=None
        )
        batch.alter_column(
            "finding", existing_type=sa.String(32), type_=sa.String(64), existing_nullable=False
        )
        for name, condition in _CHECKS.items():
            batch.create_check_constraint(name, condition)


def downgrade() -> None:
    verdicts = sa.table("verdicts", sa.column("study"), *(sa.column(c) for c in _BOX))
    kept_apart = op.get_bind().execute(
        sa.select(sa.func.count()).where(
            sa.or_(verdicts.c.study != _LEGACY_STUDY, verdicts.c.box_x0.is_not(None))
        )
    ).scalar_one()
    if kept_apart:
        raise CommandError(
            f"{kept_apart} verdicts belong to another study than {_LEGACY_STUDY!r} or carry a "
            "box, which schema 0002 cannot hold; export them before downgrading"
        )
    with op.batch_alter_table("verdicts", table_kwargs=_TABLE) as batch:
        for name in _CHECKS:
            batch.drop_constraint(name, type_="check")
        batch.alter_column(
            "finding", existing_type=sa.String(64), type_=sa.String(32), existing_nullable=False
        )
        for name in _BOX:
            batch.drop_column(name)
        batch.drop_column("study")
