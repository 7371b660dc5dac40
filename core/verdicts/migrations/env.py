"""Alembic environment: runs on the connection that ``core.verdicts.migrate`` hands over.

There is no ``alembic.ini``; migrations run only through :func:`core.verdicts.migrate.upgrade`,
which holds the database's write lock while they run.
"""

from __future__ import annotations

from alembic import context

from core.verdicts.migrate import VERSION_TABLE
from core.verdicts.model import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run verdict migrations through core.verdicts.migrate.upgrade()")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,  # SQLite alters tables by copying them
    # Our engine makes SQLAlchemy emit BEGIN on SQLite too, so its DDL is transactional
    # and a failed step rolls back with everything before it.
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
