"""The audit trail: rows are only ever inserted (the API has no other write, and SQLite and
PostgreSQL refuse UPDATE, DELETE and TRUNCATE), cases are named by content hash only, times
are UTC, a failed write says so, the downgrade keeps the trail, and the CLI exports it."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.util import CommandError

# The backend fixtures of the verdict store: each test runs on SQLite and on PostgreSQL.
from test_verdicts import pg_url, sqlite_url, url  # noqa: F401

from core.__main__ import main
from core.verdicts import (
    NOT_SIGNED_IN,
    AuditAction,
    AuditError,
    TargetKind,
    VerdictStore,
    audit,
    audit_events,
    export_audit_csv,
    migrate,
)
from core.verdicts.audit import AUDIT_COLUMNS, record
from core.verdicts.engine import make_engine, resolve_url

CASE = "a" * 64
COHORT = "c" * 64
BUNDLE = "b" * 64


@pytest.fixture
def store(url: str) -> Iterator[VerdictStore]:  # noqa: F811
    with VerdictStore.open(url) as s:
        yield s


def _engine(store: VerdictStore) -> sa.Engine:
    return store._engine  # the same pool the audit module writes through


def _some_rows(store: VerdictStore) -> list[int]:
    return [
        record(store, "dr a", AuditAction.OPEN_CASE, TargetKind.CASE, CASE),
        record(store, "dr a", "run_bundle", "case", CASE, {"bundle": BUNDLE}),
        record(store, "", AuditAction.OPEN_COHORT, TargetKind.COHORT, COHORT, {"bundle": BUNDLE}),
        record(store, " ", AuditAction.SAVE_THRESHOLD_SET, TargetKind.THRESHOLD_SET, "sens90"),
    ]


def test_rows_round_trip_in_order_with_utc_times(store: VerdictStore) -> None:
    before = datetime.now(UTC)
    ids = _some_rows(store)
    after = datetime.now(UTC)
    assert ids == sorted(ids) and len(set(ids)) == 4
    events = audit_events(store)
    assert list(events.columns) == list(AUDIT_COLUMNS)
    assert list(events["id"]) == ids
    assert list(events["actor"]) == ["dr a", "dr a", NOT_SIGNED_IN, NOT_SIGNED_IN]
    assert list(events["action"]) == [
        "open_case", "run_bundle", "open_cohort", "save_threshold_set",
    ]  # fmt: skip
    assert list(events["target"]) == [CASE, CASE, COHORT, "sens90"]
    assert events["detail"].iloc[1] == '{"bundle": "' + BUNDLE + '"}'
    assert events["detail"].isna().iloc[0]
    assert str(events["at"].dt.tz) == "UTC"
    assert all(before <= t.to_pydatetime() <= after for t in events["at"])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ((AuditAction.OPEN_CASE, TargetKind.CASE, "0001LI-A.jpg"), "content hash"),
        ((AuditAction.OPEN_CASE, TargetKind.CASE, "K-0001 Jane Doe"), "content hash"),
        ((AuditAction.OPEN_COHORT, TargetKind.COHORT, "/data/cohorts/x"), "content hash"),
        ((AuditAction.OPEN_CASE, TargetKind.CASE, CASE.upper()), "content hash"),
        (("delete_case", TargetKind.CASE, CASE), "not a valid AuditAction"),
        ((AuditAction.SAVE_VERDICT, TargetKind.COHORT, COHORT), "cannot target"),
        ((AuditAction.SAVE_THRESHOLD_SET, "bundle", "x"), "not a valid TargetKind"),
        ((AuditAction.SAVE_THRESHOLD_SET, TargetKind.THRESHOLD_SET, " "), "1-200"),
    ],
)
def test_patient_identifiers_names_and_unknown_actions_are_refused(
    sqlite_url: str,  # noqa: F811
    call: tuple[str, str, str],
    message: str,
) -> None:
    with VerdictStore.open(sqlite_url) as store:
        with pytest.raises(ValueError, match=message):
            record(store, "dr a", *call)
        with pytest.raises(ValueError, match="at most"):
            record(store, "x" * 201, AuditAction.OPEN_CASE, TargetKind.CASE, CASE)
        with pytest.raises(ValueError, match="at most"):
            record(store, "a", AuditAction.OPEN_CASE, TargetKind.CASE, CASE, {"x": "y" * 2000})
        assert audit_events(store).empty


def test_the_api_only_inserts(store: VerdictStore) -> None:
    """Every statement the module sends to the audit table is an INSERT or a SELECT."""
    writes = [n for n in dir(audit) if any(w in n.lower() for w in ("update", "delet", "purge"))]
    assert writes == []
    seen: list[str] = []

    def spy(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "audit_events" in statement:
            seen.append(statement.split(None, 1)[0].upper())

    engine = _engine(store)
    sa.event.listen(engine, "before_cursor_execute", spy)
    try:
        _some_rows(store)
        audit_events(store)
        export_audit_csv(store, io.StringIO())
    finally:
        sa.event.remove(engine, "before_cursor_execute", spy)
    assert seen.count("INSERT") == 4
    assert set(seen) == {"INSERT", "SELECT"}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'someone else'",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE id = 1",
        "TRUNCATE audit_events",
    ],
)
def test_the_database_refuses_to_change_or_remove_a_row(
    store: VerdictStore,
    url: str,  # noqa: F811
    statement: str,
) -> None:
    _some_rows(store)
    before = audit_events(store)
    if statement.startswith("TRUNCATE") and not url.startswith("postgresql"):
        pytest.skip("SQLite has no TRUNCATE; its DELETE is refused above")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), _engine(store).begin() as conn:
        conn.execute(sa.text(statement))
    pd.testing.assert_frame_equal(audit_events(store), before)
    record(store, "dr b", AuditAction.OPEN_CASE, TargetKind.CASE, CASE)  # still appendable
    assert len(audit_events(store)) == len(before) + 1


def test_a_failed_write_raises_a_message_and_logs_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bare = make_engine(resolve_url(f"sqlite:///{tmp_path / 'unmigrated.db'}"))
    with (
        caplog.at_level(logging.ERROR, "core.verdicts.audit"),
        pytest.raises(AuditError, match="could not be written"),
    ):
        record(bare, "dr a", AuditAction.OPEN_CASE, TargetKind.CASE, CASE)
    assert any("NOT written" in r.getMessage() for r in caplog.records)
    with pytest.raises(AuditError, match="could not be read"):
        audit_events(bare)
    bare.dispose()
    with pytest.raises(TypeError, match="VerdictStore or an Engine"):
        record("sqlite:///x.db", "a", AuditAction.OPEN_CASE, TargetKind.CASE, CASE)  # type: ignore[arg-type]


def test_csv_export_is_utc_and_guards_spreadsheet_formulas(store: VerdictStore) -> None:
    record(store, '=HYPERLINK("x")', AuditAction.OPEN_CASE, TargetKind.CASE, CASE)
    record(store, "dr a", AuditAction.SAVE_THRESHOLD_SET, TargetKind.THRESHOLD_SET, "-x")
    buf = io.StringIO()
    assert export_audit_csv(store, buf) == 2
    back = pd.read_csv(io.StringIO(buf.getvalue()))
    assert list(back.columns) == list(AUDIT_COLUMNS)
    assert list(back["actor"]) == ['\'=HYPERLINK("x")', "dr a"]
    assert list(back["target"]) == [CASE, "'-x"]
    assert all(t.endswith("Z") for t in back["at"])
    assert audit_events(store)["actor"].iloc[0] == '=HYPERLINK("x")'  # stored as typed


def test_downgrade_refuses_while_the_trail_holds_rows(url: str) -> None:  # noqa: F811
    with VerdictStore.open(url) as store:
        record(store, "dr a", AuditAction.OPEN_CASE, TargetKind.CASE, CASE)
    engine = make_engine(resolve_url(url))
    with pytest.raises(CommandError, match="audit trail holds 1 rows"):
        migrate.downgrade(engine, "0003")
    assert migrate.current_revision(engine) == "0004"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar_one() == 1
    engine.dispose()


def test_an_empty_trail_downgrades_and_upgrades_again(url: str) -> None:  # noqa: F811
    VerdictStore.open(url).close()
    engine = make_engine(resolve_url(url))
    migrate.downgrade(engine, "0003")
    assert not sa.inspect(engine).has_table("audit_events")
    migrate.upgrade(engine)
    engine.dispose()
    with VerdictStore.open(url) as store:  # the triggers are back too
        record(store, "dr a", AuditAction.OPEN_CASE, TargetKind.CASE, CASE)
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), _engine(store).begin() as c:
            c.execute(sa.text("DELETE FROM audit_events"))


def test_cli_exports_the_trail(sqlite_url: str, tmp_path: Path) -> None:  # noqa: F811
    with VerdictStore.open(sqlite_url) as store:
        _some_rows(store)
    out = tmp_path / "audit.csv"
    assert main(["audit", "export", str(out), "--db", sqlite_url]) == 0
    back = pd.read_csv(out)
    assert len(back) == 4 and list(back.columns) == list(AUDIT_COLUMNS)
    assert main(["audit", "export", str(tmp_path / "no" / "dir.csv"), "--db", sqlite_url]) == 2
    assert main(["audit", "export", str(out), "--db", "sqlite:///:memory:"]) == 2
    with pytest.raises(SystemExit):
        main(["audit", "import", str(out)])
