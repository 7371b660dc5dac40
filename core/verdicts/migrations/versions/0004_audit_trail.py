"""v4: the audit trail, an append-only table that the database itself keeps append-only.

Revision ID: 0004
Revises: 0003
Create Date: 2025-04-01

``audit_events`` records who opened, ran or saved what, and when (see
:mod:`core.verdicts.audit`). The application has no update or delete path, and triggers
make the database refuse one too: UPDATE and DELETE on SQLite and PostgreSQL, and TRUNCATE
on PostgreSQL. Other backends get the table without triggers (a warning says so). A later
migration that copies this table on SQLite (``batch_alter_table``) must create the triggers
again.

The downgrade refuses while the table holds any row: dropping it would erase the trail.
Export it first (``python -m core audit export OUT.csv``), then drop the table by hand.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op
from alembic.util import CommandError

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

_TABLE = "audit_events"
_SQLITE_TRIGGERS = {
    "audit_events_no_update": "UPDATE",
    "audit_events_no_delete": "DELETE",
}
_PG_FUNCTION = "audit_events_append_only"
_PG_TRIGGERS = {
    "audit_events_no_change": "BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW",
    "audit_events_no_truncate": "BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT",
}


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target_kind", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_events_at", _TABLE, ["at"])
    op.create_index("ix_audit_events_target", _TABLE, ["target_kind", "target"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name, statement in _SQLITE_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {statement} ON {_TABLE} BEGIN "
                f"SELECT RAISE(ABORT, '{_TABLE} is append-only, {statement} is refused'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            f"CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING MESSAGE = "
            f"'{_TABLE} is append-only, ' || TG_OP || ' is refused'; END $$"
        )
        for name, when in _PG_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {_PG_FUNCTION}()")
    else:
        log.warning(
            "%s on %s: no triggers, so only the application keeps it append-only",
            _TABLE,
            dialect,
        )


def downgrade() -> None:
    bind = op.get_bind()
    if sa.inspect(bind).has_table(_TABLE):
        rows = bind.execute(sa.select(sa.func.count()).select_from(sa.table(_TABLE))).scalar_one()
        if rows:
            raise CommandError(
                f"the audit trail holds {rows} rows and schema 0003 has no place for them; "
                f"export it (python -m core audit export OUT.csv) and drop {_TABLE} by hand "
                "before downgrading"
            )
        op.drop_index("ix_audit_events_target", table_name=_TABLE)
        op.drop_index("ix_audit_events_at", table_name=_TABLE)
        op.drop_table(_TABLE)  # its triggers go with it
    if bind.dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()")
