"""Bring a verdict database to the schema this code expects, from any working directory.

Alembic runs programmatically on a connection we hand it; the scripts live inside the
package, so no ``alembic.ini`` is needed. The whole upgrade is one transaction that holds
the database's write lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), so two
processes opening a fresh database at once migrate it once, and a failed step leaves the
previous schema intact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from core.verdicts.engine import writer

__all__ = ["SCRIPTS", "VERSION_TABLE", "current_revision", "downgrade", "head_revision", "upgrade"]

log = logging.getLogger(__name__)

#: Our own version table, so a shared PostgreSQL database can hold other apps' alembic.
VERSION_TABLE = "verdicts_schema_version"
#: The migration scripts, found relative to this file rather than the working directory.
SCRIPTS = Path(__file__).resolve().parent / "migrations"
#: Any fixed 64-bit number; identifies our migration lock among PostgreSQL advisory locks.
_PG_LOCK_ID = 0x7665726469637473  # "verdicts"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    return cfg


def head_revision() -> str:
    """The newest schema revision this code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no verdict migrations found under {SCRIPTS}")
    return head


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(
        conn, opts={"version_table": VERSION_TABLE}
    ).get_current_revision()


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision, ``None`` for an empty database."""
    with engine.connect() as conn:
        return _revision(conn)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` in one locked transaction."""
    _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Undo migrations down to ``revision``, for going back to an older app version."""
    _run(engine, command.downgrade, revision)


def _run(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    cfg = _config()
    with writer(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
        before = _revision(conn)
        cfg.attributes["connection"] = conn
        step(cfg, revision)
        after = _revision(conn)
    if before != after:
        log.info("verdict database schema moved from %s to %s", before, after)
