"""Which database holds the verdicts, and how to connect to it safely.

SQLite is the default (one file under ``core.paths.data_dir()``); ``REVIEW_DB_URL`` selects
any SQLAlchemy URL, PostgreSQL included. Everything SQLite-specific lives here: WAL so that
readers never block the writer, a busy timeout so that concurrent writers wait instead of
failing, foreign keys on, and ``BEGIN IMMEDIATE`` for writes so that a read-then-write
transaction cannot fail with "database is locked" when another writer got in first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url

from core.paths import data_dir

__all__ = ["BUSY_TIMEOUT_S", "ENV_VAR", "make_engine", "resolve_url", "writer"]

#: Environment variable naming the database URL.
ENV_VAR = "REVIEW_DB_URL"
#: How long a SQLite writer waits for another writer before giving up.
BUSY_TIMEOUT_S = 30.0
_BEGIN_OPTION = "verdicts_sqlite_begin"


def resolve_url(url: str | None = None) -> URL:
    """``url``, else ``$REVIEW_DB_URL``, else SQLite at ``data_dir()/verdicts.db``."""
    chosen = url or os.environ.get(ENV_VAR) or f"sqlite:///{data_dir() / 'verdicts.db'}"
    parsed = make_url(chosen)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database or ""
        if db in ("", ":memory:") or db.startswith("file::memory:") or "mode=memory" in db:
            raise ValueError(
                "an in-memory SQLite database would lose every verdict on restart; give a file path"
            )
        Path(db).resolve().parent.mkdir(parents=True, exist_ok=True)
    return parsed


def make_engine(url: URL, busy_timeout_s: float = BUSY_TIMEOUT_S) -> Engine:
    """An engine whose parameters never appear in error messages (they hold comments)."""
    is_sqlite = url.get_backend_name() == "sqlite"
    connect_args: dict[str, Any] = {"timeout": busy_timeout_s} if is_sqlite else {}
    engine = create_engine(
        url, connect_args=connect_args, hide_parameters=True, pool_pre_ping=not is_sqlite
    )
    if is_sqlite:
        _configure_sqlite(engine)
    return engine


def writer(engine: Engine) -> Engine:
    """The same engine, but its transactions take SQLite's write lock at BEGIN."""
    return engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # SQLAlchemy, not the driver, emits BEGIN (see _on_begin); that is what makes
        # DDL transactional and lets writes choose BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
